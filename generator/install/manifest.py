"""The record of what ``install`` put into a root, so that ``uninstall`` removes exactly that.

It lives at :data:`MANIFEST_PATH` inside the root (``/usr/lib`` because it describes files under
``/usr``, and an OSTree image only keeps ``/usr`` from the build). It does not list itself: its
place is fixed, and a file cannot carry its own hash. ``install --list-files`` does print it, since
a package that runs ``install --root $DESTDIR`` ships it.

What it holds:
- ``files``: every file we wrote, with the SHA-256 of what we wrote and its mode. A file at one of
  those paths whose hash is not listed was changed by someone else and is left alone without
  ``--force``.
- ``directories``: the directories that did not exist before and that we made; uninstall removes
  them again when they are empty, and never a directory that was there before.
- ``links``: the enablement symlinks ``systemctl preset`` made for us, with their targets.
- ``units``: the units we asked systemctl to preset.
While an install runs, the manifest on disk is *pending* (``complete: false``): it lists the old
and the new hash of every file being replaced, every directory about to be made, and ``baseline``,
the symlinks and directories under ``etc/systemd/system`` before any preset ran. A run killed at
any point therefore leaves a manifest that covers everything on disk, and the rerun (or an
uninstall) can finish the job without ``--force``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MANIFEST_PATH = "usr/lib/ostree-autocleanup/install-manifest.json"
FORMAT = 1
GENERATED_BY = "ostree-autocleanup install"


class ManifestError(Exception):
    """The manifest cannot be read; nothing can be safely removed or replaced on its word."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileRecord:
    path: str
    hashes: tuple[str, ...]  # one when complete; old and new while an install is pending
    mode: int

    def owns(self, data: bytes) -> bool:
        return sha256(data) in self.hashes


@dataclass(frozen=True)
class Manifest:
    complete: bool
    kind: str  # "units" or "generator": what --generator said
    sources: tuple[str, ...] = ()
    files: tuple[FileRecord, ...] = ()
    directories: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (path, target)
    units: tuple[str, ...] = ()
    baseline: tuple[tuple[str, str], ...] | None = None

    def file(self, path: str) -> FileRecord | None:
        for record in self.files:
            if record.path == path:
                return record
        return None

    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {
            "generated-by": GENERATED_BY,
            "format": FORMAT,
            "complete": self.complete,
            "kind": self.kind,
            "sources": list(self.sources),
            "files": [
                {"path": r.path, "sha256": list(r.hashes), "mode": f"{r.mode:04o}"}
                for r in sorted(self.files, key=lambda r: r.path)
            ],
            "directories": sorted(self.directories),
            "links": [{"path": p, "target": t} for p, t in sorted(self.links)],
            "units": list(self.units),
        }
        if self.baseline is not None:
            document["baseline"] = {p: what for p, what in sorted(self.baseline)}
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def parse(data: bytes, where: str) -> Manifest:
    """Read a manifest; every structural problem is a :class:`ManifestError` naming ``where``."""
    try:
        document = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError) as error:
        raise ManifestError(f"{where}: not a manifest we can read ({error})") from None
    try:
        if not isinstance(document, dict):
            raise TypeError("not a JSON object")
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r}, this version reads {FORMAT}")
        files = tuple(
            FileRecord(
                path=_string(item["path"]),
                hashes=tuple(_string(h) for h in _list(item["sha256"])),
                mode=int(_string(item["mode"]), 8),
            )
            for item in _list(document["files"])
        )
        links = tuple(
            (_string(item["path"]), _string(item["target"])) for item in _list(document["links"])
        )
        baseline_document = document.get("baseline")
        baseline = None
        if baseline_document is not None:
            if not isinstance(baseline_document, dict):
                raise TypeError("baseline is not an object")
            baseline = tuple((_string(p), _string(w)) for p, w in baseline_document.items())
        return Manifest(
            complete=bool(document["complete"]),
            kind=_string(document["kind"]),
            sources=tuple(_string(s) for s in _list(document["sources"])),
            files=files,
            directories=tuple(_string(d) for d in _list(document["directories"])),
            links=links,
            units=tuple(_string(u) for u in _list(document["units"])),
            baseline=baseline,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ManifestError(f"{where}: damaged manifest ({error})") from None


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value


def merged_records(old: Iterable[FileRecord], new: Iterable[FileRecord]) -> tuple[FileRecord, ...]:
    """For the pending manifest: every path of both, each accepting all of its known hashes."""
    by_path: dict[str, FileRecord] = {}
    for record in (*old, *new):
        known = by_path.get(record.path)
        if known is None:
            by_path[record.path] = record
        else:
            hashes = tuple(dict.fromkeys((*known.hashes, *record.hashes)))
            by_path[record.path] = FileRecord(record.path, hashes, record.mode)
    return tuple(by_path[p] for p in sorted(by_path))
