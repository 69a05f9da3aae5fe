"""The last cleanup's result, kept in STATE_DIR/last-cleanup.json for `status`.

The state directory is the admin's (StateDirectory= of the unit) and is opened as given; the
file in it is replaced atomically under a random temporary name, and read only when it is a
regular file (a FIFO there must not hang `status`).
"""

from __future__ import annotations

import os

from . import atomic, confined, log
from .stamp import utc_now
from .version import VERSION

# typing costs milliseconds at shutdown; only mypy reads it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FILENAME = "last-cleanup.json"
READ_LIMIT = 1024 * 1024

# The values of "result", in the order a cleanup may write them (see machine.py).
STARTED = "started"
SUCCESS = "success"
FAILED = "failed"
GAVE_UP = "gave-up"
ERROR = "error"


def state_path(state_dir: str) -> str:
    return os.path.join(state_dir, FILENAME)


def _open_dir(state_dir: str) -> int:
    return os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def write(state_dir: str, record: dict[str, Any]) -> None:
    """Atomically replace the state file; creates STATE_DIR (0755) when missing."""
    import json  # only here: mark, at shutdown, never writes a record

    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    dirfd = _open_dir(state_dir)
    try:
        # Only cleanups write here, one at a time (the stamp directory's lock): what a killed
        # one left behind is swept by the next.
        atomic.sweep_temps(dirfd, FILENAME)
        atomic.replace(dirfd, FILENAME, data, 0o644)
    finally:
        os.close(dirfd)


def read(state_dir: str) -> dict[str, Any] | None:
    """The last result, or None when there is none, it is not a regular file, or it cannot be
    parsed."""
    import json

    try:
        dirfd = _open_dir(state_dir)
    except OSError:
        return None
    try:
        data = confined.read_regular(dirfd, FILENAME, state_path(state_dir), READ_LIMIT)
        value = json.loads(data) if data is not None else None
    except (OSError, ValueError):
        return None
    finally:
        os.close(dirfd)
    return value if isinstance(value, dict) else None


class Recorder:
    """Writes the records of one cleanup: the same context (sysroot, mode, ...) in each."""

    def __init__(self, state_dir: str, max_attempts: int, context: dict[str, Any]) -> None:
        self.state_dir = state_dir
        self.max_attempts = max_attempts
        self.context = context
        self.started: str | None = None

    def record(self, result: str, attempt: int, **extra: Any) -> None:
        """Replace the state file with this result. Never raises: the file only feeds
        `status`, and losing it must not fail a cleanup."""
        now = utc_now()
        if result == STARTED:
            self.started = now
        record: dict[str, Any] = dict(self.context)
        record.update(
            result=result,
            attempt=attempt,
            max_attempts=self.max_attempts,
            helper_version=VERSION,
        )
        if self.started is not None:
            record["started"] = self.started
        if result != STARTED:
            record["finished"] = now
        record.update(extra)
        try:
            write(self.state_dir, record)
        except OSError as e:
            log.warning(f"cannot write {state_path(self.state_dir)}: {e.strerror}")
