"""Loading the configuration: the files given, else the layered ones, else the default."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .config import Config
from .errors import UsageError
from .layering import find_config_files, target_path
from .validate import build_config
from .yamlsource import read_source


def load_config(files: Sequence[str] = (), root: str | None = None) -> Config:
    """The Config of ``files`` (``-c``), or of the layered files under ``root``, or the default.

    Raises ConfigErrors with every problem of every file.
    """
    if files:
        paths = list(files)
        shown = list(files)
    else:
        paths = find_config_files(root)
        shown = [target_path(p, root) for p in paths]
        if root and root != "/":
            _refuse_escapes(paths, root)
    # Messages name the file as it is on disk, so that it can be opened; the rendered units
    # name it as the target system will see it.
    sources = [read_source(path) for path in paths]
    return build_config(sources, tuple(shown))


def _refuse_escapes(paths: Sequence[str], root: str) -> None:
    """An image's config must come from the image: refuse a link that leads to the host's."""
    top = os.path.realpath(root)
    for path in paths:
        real = os.path.realpath(path)
        if not real.startswith(top.rstrip(os.sep) + os.sep):
            raise UsageError(
                f"{path}: leads out of the root {root} (to {real}); "
                "make it a relative link or a regular file"
            )
