"""Log lines for the journal or a terminal, with no logging framework on the shutdown path.

Under systemd, stderr is connected to the journal and JOURNAL_STREAM names that stream as
`DEVICE:INODE`; then every line starts with a `<N>` syslog priority, which journald strips and
stores as the line's priority. Anywhere else the lines are plain and say the program's name.
"""

from __future__ import annotations

import os
import sys

from .numbers import parse_count

PROG = "ostree-autocleanup-helper"

ERR = 3
WARNING = 4
NOTICE = 5
INFO = 6
DEBUG = 7

_LABELS = {ERR: "error: ", WARNING: "warning: "}

_journal: bool | None = None
_verbose = False


def stderr_is_journal() -> bool:
    """True when stderr is the very stream that JOURNAL_STREAM names (not merely inherited)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    text_dev, _, text_ino = value.partition(":")
    dev, ino = parse_count(text_dev), parse_count(text_ino)
    if dev is None or ino is None:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return st.st_dev == dev and st.st_ino == ino


def set_verbose(verbose: bool) -> None:
    global _verbose
    _verbose = verbose


def emit(priority: int, message: str) -> None:
    """Write one line at `priority`; never raises, a lost log line must not fail the work."""
    global _journal
    if priority >= DEBUG and not _verbose:
        return
    if _journal is None:
        _journal = stderr_is_journal()
    # One message is one line: a newline would split it into lines without a priority.
    text = " ".join(message.splitlines())
    prefix = f"<{priority}>" if _journal else f"{PROG}: {_LABELS.get(priority, '')}"
    line = prefix + text + "\n"
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def error(message: str) -> None:
    emit(ERR, message)


def warning(message: str) -> None:
    emit(WARNING, message)


def notice(message: str) -> None:
    emit(NOTICE, message)


def info(message: str) -> None:
    emit(INFO, message)


def debug(message: str) -> None:
    emit(DEBUG, message)
