"""The stamp: the file whose presence means "a finalized deployment left objects to prune".

Its content is `key=value` lines, readable with `cat` and by this module:

    # ostree-autocleanup: a finalized deployment left objects to prune at the next boot
    marked=2026-11-30T10:20:00Z
    deployment=testos/8272f0...a5e.0
    attempts=0

`attempts` counts the cleanups started for it. An empty stamp (one made with `touch`, as older
drop-ins do) is valid: it means attempts=0. Unknown keys are kept when the stamp is rewritten.
"""

from __future__ import annotations

import os
import time

from . import atomic

HEADER = "# ostree-autocleanup: a finalized deployment left objects to prune at the next boot\n"


class Stamp:
    """The parsed content of a stamp file."""

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        self.fields: dict[str, str] = dict(fields or {})

    @property
    def attempts(self) -> int:
        value = self.fields.get("attempts", "0").strip()
        return int(value) if value.isdigit() else 0

    @attempts.setter
    def attempts(self, value: int) -> None:
        self.fields["attempts"] = str(value)

    @property
    def valid_attempts(self) -> bool:
        """False when an attempts value is present but is not a count (a corrupt stamp)."""
        value = self.fields.get("attempts")
        return value is None or value.strip().isdigit()

    def render(self) -> bytes:
        order = ["marked", "deployment", "attempts"]
        keys = [k for k in order if k in self.fields]
        keys += sorted(k for k in self.fields if k not in order)
        body = "".join(f"{k}={self.fields[k]}\n" for k in keys)
        return (HEADER + body).encode()


def parse(text: str) -> Stamp:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip()
    return Stamp(fields)


def read(path: str) -> Stamp | None:
    """The stamp at `path`, or None when there is none. Undecodable bytes are replaced."""
    try:
        with open(path, "rb") as f:
            data = f.read(64 * 1024)
    except FileNotFoundError:
        return None
    return parse(data.decode("utf-8", "replace"))


def write(path: str, stamp: Stamp) -> None:
    """Atomically and durably replace the stamp at `path` (see atomic.write_atomic)."""
    atomic.write_atomic(path, stamp.render(), 0o644)


def remove(path: str) -> bool:
    """Durably remove the stamp; False when there was none."""
    return atomic.remove_durable(path)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def exists(path: str) -> bool:
    return os.path.lexists(path)
