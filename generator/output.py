"""Writing rendered files into a directory: each file atomically, nothing outside it."""

from __future__ import annotations

import contextlib
import os
import tempfile

from .errors import Failure, UsageError


def write_file_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Temp file in the same directory, fsync, rename over, fsync the directory."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".#", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_tree(output: str, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``output``."""
    base = os.path.abspath(output)
    for relative in files:
        target = os.path.normpath(os.path.join(base, relative))
        if os.path.isabs(relative) or not target.startswith(base + os.sep):
            raise UsageError(f"refusing to write {relative!r} outside {output}")
    try:
        for relative, text in files.items():
            target = os.path.join(base, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            write_file_atomic(target, text.encode())
    except OSError as error:
        raise Failure(f"cannot write under {output}: {error.strerror or error}") from error
