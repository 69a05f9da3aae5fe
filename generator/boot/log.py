"""Logging for the systemd generator: kernel log records, the way systemd's own generators log.

At boot no journal is running yet and a generator's stderr goes nowhere useful, so messages go
to /dev/kmsg as `<N>ostree-autocleanup-generator[PID]: message`, falling back to stderr when
/dev/kmsg cannot be opened. SYSTEMD_LOG_LEVEL and SYSTEMD_LOG_TARGET are honoured as systemd
tools honour them. This module is on the boot path: it imports only os and sys.
"""

from __future__ import annotations

import os
import sys

# typing costs milliseconds to import and this module runs at every boot; mypy still sees it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PROGRAM = "ostree-autocleanup-generator"

ERR = 3
WARNING = 4
NOTICE = 5
INFO = 6
DEBUG = 7

_LEVEL_NAMES = {
    "emerg": 0,
    "alert": 1,
    "crit": 2,
    "err": 3,
    "warning": 4,
    "notice": 5,
    "info": 6,
    "debug": 7,
}

# systemd tags its own records with the daemon facility; a record tagged 0 (kernel) from user
# space would be rewritten by the kernel to "user".
_LOG_DAEMON = 3 << 3

# A kmsg record is limited in size; longer writes fail with EINVAL instead of being cut.
_MAX_RECORD = 976


def parse_level(text: str | None, default: int = INFO) -> int:
    """A SYSTEMD_LOG_LEVEL value (a name or 0-7) as a number; the default when unset or bad."""
    if not text:
        return default
    text = text.strip().lower()
    if text in _LEVEL_NAMES:
        return _LEVEL_NAMES[text]
    if text.isdigit() and int(text) <= DEBUG:
        return int(text)
    return default


class Log:
    """Where messages go and which ones are kept; one per generator run."""

    def __init__(self, level: int = INFO, target: str = "auto") -> None:
        self.level = level
        self.target = target
        self._kmsg: int | None = None
        self._kmsg_failed = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Log:
        target = environ.get("SYSTEMD_LOG_TARGET", "auto").strip().lower() or "auto"
        return cls(parse_level(environ.get("SYSTEMD_LOG_LEVEL")), target)

    def _kmsg_fd(self) -> int | None:
        if self._kmsg is None and not self._kmsg_failed:
            try:
                self._kmsg = os.open("/dev/kmsg", os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
            except OSError:
                self._kmsg_failed = True
        return self._kmsg

    def log(self, priority: int, message: str) -> None:
        if priority > self.level or self.target == "null":
            return
        line = f"{PROGRAM}[{os.getpid()}]: {message}"
        if self.target not in ("console", "stderr"):
            fd = self._kmsg_fd()
            if fd is not None:
                record = f"<{_LOG_DAEMON | priority}>{line}\n".encode("utf-8", "replace")
                if len(record) > _MAX_RECORD:
                    record = record[: _MAX_RECORD - 1] + b"\n"
                try:
                    os.write(fd, record)
                    return
                except OSError:
                    pass
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def error(self, message: str) -> None:
        self.log(ERR, message)

    def warning(self, message: str) -> None:
        self.log(WARNING, message)

    def info(self, message: str) -> None:
        self.log(INFO, message)

    def debug(self, message: str) -> None:
        self.log(DEBUG, message)

    def close(self) -> None:
        if self._kmsg is not None:
            os.close(self._kmsg)
            self._kmsg = None
