"""Exceptions that the command-line edge turns into one-line messages and exit statuses.

Library code raises these; only ``cli.main`` (and the generator's ``main``) format them, the way
pypa/build keeps messages out of its library layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class UsageError(Exception):
    """Bad usage: exit status 2."""


class Failure(Exception):
    """The work itself failed: exit status 1."""


class Mark(NamedTuple):
    """Where a value came from: a file and a 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ConfigError(NamedTuple):
    """One problem in a config file, pointing at the node that is wrong."""

    mark: Mark
    key: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.mark}: error: {self.key}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigErrors(Exception):
    """Every problem found in the config files, reported together: exit status 2."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = tuple(sorted(errors, key=_order))
        super().__init__("\n".join(str(e) for e in self.errors))


def _order(error: ConfigError) -> tuple[str, int, int, str]:
    return (error.mark.file, error.mark.line, error.mark.column, error.key)
