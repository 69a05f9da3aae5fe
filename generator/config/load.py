"""Loading the configuration: the files given, else the layered ones, else the default.

Every file is read exactly once, into memory, and everything downstream works on those bytes:
``-c -`` (standard input) and ``-c /dev/stdin`` can be read only once, and ``install
--generator`` must ship the very bytes that were validated, not whatever the path holds a
moment later.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..errors import UsageError
from ..rootfs import EscapeError, RootError, resolve
from .layering import find_config_files, host_path
from .model import Config
from .validate import build_config
from .yamlsource import MAX_BYTES, read_source

STDIN = "-"
STDIN_NAME = "<stdin>"

Warn = Callable[[str], None]


class ConfigInput(NamedTuple):
    """One config file as read: its name on the target system, on disk, and its bytes."""

    name: str  # as the rendered units name it: the target system's path, or as given to -c
    disk: str  # as messages name it: where it is on this machine, so that it can be opened
    data: bytes | None  # None when it could not be read (the loader then says why)


_stdin: bytes | None = None


def _read_stdin() -> bytes:
    global _stdin
    if _stdin is None:
        try:
            _stdin = sys.stdin.buffer.read(MAX_BYTES + 1)
        except (OSError, ValueError, AttributeError) as error:
            raise UsageError(f"-c -: cannot read standard input: {error}") from None
    return _stdin


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as stream:
            # One byte more than a config may have, so that the loader can say it is too big.
            return stream.read(MAX_BYTES + 1)
    except OSError:
        return None


def check_root(root: str | None) -> None:
    """Refuse a root that cannot be used, also when ``-c`` means it is not read for config."""
    if root is None:
        return
    if not root:
        raise UsageError("--root '': an empty root is refused (use --root / for this system)")
    try:
        resolve(root, "/")
    except RootError as error:
        raise UsageError(str(error)) from None


def read_config_inputs(
    files: Sequence[str] = (), root: str | None = None, warn: Warn | None = None
) -> list[ConfigInput]:
    """The bytes of ``files`` (``-c``; ``-`` is standard input), or of the layered files under
    ``root``; empty when there is none (the embedded default applies).

    Raises UsageError for a root that cannot be read or a config that links out of it.
    """
    check_root(root)
    if files:
        return [
            ConfigInput(STDIN_NAME, STDIN_NAME, _read_stdin())
            if path == STDIN
            else ConfigInput(path, path, _read(path))
            for path in files
        ]
    try:
        names = find_config_files(root, warn)
        disks = [host_path(name, root) for name in names]
    except (RootError, EscapeError) as error:
        raise UsageError(str(error)) from None
    # Messages name the file as it is on disk, so that it can be opened; the rendered units
    # name it as the target system will see it.
    return [ConfigInput(name, disk, _read(disk)) for name, disk in zip(names, disks)]


def config_from_inputs(inputs: Sequence[ConfigInput]) -> Config:
    """Validate ``inputs``; ConfigErrors with every problem of every file."""
    sources = [read_source(i.disk, i.disk, i.data) for i in inputs]
    return build_config(sources, tuple(i.name for i in inputs))


def load_config(
    files: Sequence[str] = (), root: str | None = None, warn: Warn | None = None
) -> Config:
    """The Config of ``files`` (``-c``), or of the layered files under ``root``, or the default.

    Raises ConfigErrors with every problem of every file, UsageError for a root that cannot be
    read or a config that links out of it. ``warn`` hears of names that mask others by mistake.
    """
    return config_from_inputs(read_config_inputs(files, root, warn))
