"""Pieces for the tests of the helper's own logic, which need no root, ostree or libostree.

The sysroot is a plain directory; the cleanup's work is a callable put in place of the backend
(`cleanup._clean`), so every path through the stamp and the state file runs for real, on real
files, with the outcome of the work chosen by the test.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ostree_autocleanup.helper import cleanup
from ostree_autocleanup.helper.errors import HelperError
from ostree_autocleanup.helper.result import Freed

FREED = Freed(7, 7000, "fake")


class Work:
    """The cleanup's work with a chosen outcome; counts its calls."""

    OUTCOMES = ("ok", "fail", "oserror", "memory", "bug", "garbage")

    def __init__(self, outcome: str = "ok", on_call: Callable[[], None] | None = None) -> None:
        assert outcome in self.OUTCOMES, outcome
        self.outcome = outcome
        self.calls = 0
        self.on_call = on_call

    def __call__(self) -> Freed:
        self.calls += 1
        if self.on_call is not None:
            self.on_call()
        if self.outcome == "fail":
            raise HelperError("the repo is broken", "check it with ostree fsck")
        if self.outcome == "oserror":
            raise OSError(errno.EIO, "Input/output error")
        if self.outcome == "memory":
            raise MemoryError()
        if self.outcome == "bug":
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
        if self.outcome == "garbage":
            return None  # type: ignore[return-value]
        return FREED


def plain_sysroot(base: Path) -> Path:
    """A directory shaped like a sysroot as far as the helper's stamp logic looks."""
    sysroot = base / "sysroot"
    (sysroot / "ostree" / "repo" / "objects").mkdir(parents=True)
    (sysroot / "boot").mkdir()
    return sysroot


def options(sysroot: Path, state_dir: Path, max_attempts: int = 3, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "sysroot": str(sysroot),
        "stamp_path": str(sysroot / ".cleanup"),
        "mode": "prune",
        "max_attempts": max_attempts,
        "state_dir": str(state_dir),
        "lock_timeout": 5.0,
        "backend": "ostree-cli",
        "ostree": "/nonexistent/ostree",
    }
    values.update(extra)
    return cleanup.Options(**values)


def use_work(monkeypatch: pytest.MonkeyPatch, work: Callable[[], Freed]) -> None:
    """Make every cleanup in this test run `work` instead of a backend."""
    monkeypatch.setattr(cleanup, "_clean", lambda _opts: work())


def fields(path: Path) -> dict[str, str] | None:
    """The stamp's key=value lines, None when there is no stamp."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    out: dict[str, str] = {}
    # "\n" alone, as the helper splits: str.splitlines() would also split at U+2028.
    for line in text.split("\n"):
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def last_record(state_dir: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((state_dir / "last-cleanup.json").read_text())
    except FileNotFoundError:
        return None
    assert isinstance(value, dict)
    return value


def temp_files(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if ".tmp." in n)


@contextmanager
def argv_stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    """The helper's log lines written while the block runs."""
    lines: list[str] = []
    capsys.readouterr()
    try:
        yield lines
    finally:
        sys.stderr.flush()
        lines.extend(line for line in capsys.readouterr().err.splitlines() if line.strip())
