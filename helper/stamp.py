"""The stamp: the file whose presence means "a finalized deployment left objects to prune".

Its content is `key=value` lines, readable with `cat` and by this module:

    # ostree-autocleanup: a finalized deployment left objects to prune at the next boot
    marked=2026-11-30T10:20:00Z
    deployment=testos/8272f0...a5e.0
    attempts=0

`attempts` counts the cleanups started for it (ASCII digits; anything else is a corrupt count,
read as 0 with a warning). An empty stamp (one made with `touch`, as older drop-ins do) is
valid: it means attempts=0. Unknown keys are kept when the stamp is rewritten.

The stamp must be a regular file inside the sysroot, reached without links (confined.py);
anything else at its path is refused, never followed or opened.
"""

from __future__ import annotations

import os
import time

from . import atomic, confined
from .numbers import parse_count

HEADER = "# ostree-autocleanup: a finalized deployment left objects to prune at the next boot\n"
# More than any stamp the helper writes; a bigger file is read up to here.
READ_LIMIT = 64 * 1024
MODE = 0o644


class Stamp:
    """The parsed content of a stamp file."""

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        self.fields: dict[str, str] = dict(fields or {})

    @property
    def attempts(self) -> int:
        """The cleanups started for this stamp; 0 when absent or corrupt (see valid_attempts)."""
        count = parse_count(self.fields.get("attempts", "0"))
        return 0 if count is None else count

    @attempts.setter
    def attempts(self, value: int) -> None:
        self.fields["attempts"] = str(value)

    @property
    def valid_attempts(self) -> bool:
        """False when an attempts value is present but is not a count (a corrupt stamp)."""
        value = self.fields.get("attempts")
        return value is None or parse_count(value) is not None

    @property
    def deployment(self) -> str | None:
        return self.fields.get("deployment")

    def render(self) -> bytes:
        order = ["marked", "deployment", "attempts"]
        keys = [k for k in order if k in self.fields]
        keys += sorted(k for k in self.fields if k not in order)
        # A line break inside a value would forge the lines after it.
        body = "".join(f"{k}={_one_line(self.fields[k])}\n" for k in keys)
        return (HEADER + body).encode("utf-8", "surrogateescape")


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


_BLANKS = " \t\r"


def parse(text: str) -> Stamp:
    """Lines are split at "\\n" alone and trimmed of ASCII blanks alone: the Unicode line and
    space characters that str.splitlines() and str.strip() also take would let a value hide
    another key."""
    fields: dict[str, str] = {}
    for raw in text.split("\n"):
        line = raw.strip(_BLANKS)
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        fields[key.strip(_BLANKS)] = value.strip(_BLANKS)
    return Stamp(fields)


class StampFile:
    """The stamp at `path`, every operation relative to an open descriptor of its directory.

    Open it with `StampFile.open(sysroot, path)`; close it (or use `with`) when done.
    """

    def __init__(self, anchor: str, path: str, dirfd: int) -> None:
        self.anchor = anchor
        self.path = path
        self.name = os.path.basename(path)
        self.dirfd = dirfd

    @classmethod
    def open(cls, anchor: str, path: str) -> StampFile:
        """The stamp `path`, which must lie inside `anchor` (the sysroot).

        Raises FileNotFoundError when its directory is missing, confined.Unsafe when the way
        there passes a link or a non-directory, ValueError when it lies outside `anchor`.
        """
        if not confined.is_within(anchor, path):
            raise ValueError(f"the stamp {path} is not inside {anchor}")
        return cls(anchor, path, confined.open_dir(anchor, os.path.dirname(path)))

    def reopen(self) -> None:
        """Reach the directory again (after a remount in a new mount namespace, the old
        descriptor still names the old, read-only mount); it must be the same directory."""
        before = os.fstat(self.dirfd)
        fd = confined.open_dir(self.anchor, os.path.dirname(self.path))
        after = os.fstat(fd)
        if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino):
            os.close(fd)
            directory = os.path.dirname(self.path)
            raise confined.Unsafe(0, f"{directory} was replaced meanwhile", directory)
        os.close(self.dirfd)
        self.dirfd = fd

    def exists(self) -> bool:
        """Whether anything is at the stamp's path (a FIFO or link too: read() refuses it)."""
        return confined.lexists(self.dirfd, self.name)

    def read(self) -> Stamp | None:
        """The stamp, or None when there is none. Undecodable bytes are replaced.

        Raises confined.Unsafe when something other than a regular file is there."""
        data = confined.read_regular(self.dirfd, self.name, self.path, READ_LIMIT)
        if data is None:
            return None
        return parse(data.decode("utf-8", "replace"))

    def write(self, stamp: Stamp) -> None:
        """Atomically and durably replace the stamp (see atomic.replace)."""
        atomic.replace(self.dirfd, self.name, stamp.render(), MODE)

    def remove(self) -> bool:
        """Durably remove the stamp; False when there was none."""
        return atomic.remove(self.dirfd, self.name)

    def sweep(self) -> list[str]:
        """Remove what killed writers of the stamp left behind (see atomic.sweep_temps)."""
        return atomic.sweep_temps(self.dirfd, self.name)

    def close(self) -> None:
        if self.dirfd >= 0:
            os.close(self.dirfd)
            self.dirfd = -1

    def __enter__(self) -> StampFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
