"""The one exception the helper's commands raise for an expected failure."""

from __future__ import annotations


class HelperError(Exception):
    """Work that failed in a way an admin can act on: becomes one log line and exit 1.

    `hint` is the sentence saying what to do about it, shown in parentheses.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message
