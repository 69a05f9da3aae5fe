"""Writing rendered files under a directory (``render --output``, the built docs).

The same confined, atomic writer as ``install`` (``rootfs.Root``): a symlink inside the output
directory cannot redirect a write outside it, and each file is either old or new after a crash.
"""

from __future__ import annotations

import os

from .errors import Failure, UsageError
from .rootfs import EscapeError, Root, RootError


def write_tree(output: str, files: dict[str, str], mode: int = 0o644) -> None:
    """Write ``files`` (path relative to ``output`` -> text) under ``output``, creating it."""
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as error:
        raise Failure(f"cannot create {output}: {error.strerror or error}") from error
    try:
        with Root(output) as root:
            for relative, text in files.items():
                root.write(relative, text.encode(), mode, [])
    except (RootError, EscapeError) as error:
        raise UsageError(str(error)) from error
    except OSError as error:
        raise Failure(f"cannot write under {output}: {error.strerror or error}") from error
