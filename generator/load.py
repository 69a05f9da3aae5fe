"""Loading the configuration: the files given, else the layered ones, else the default."""

from __future__ import annotations

from collections.abc import Sequence

from .config import Config
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
    # Messages name the file as it is on disk, so that it can be opened; the rendered units
    # name it as the target system will see it.
    sources = [read_source(path) for path in paths]
    return build_config(sources, tuple(shown))
