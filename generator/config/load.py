"""Loading the configuration: the files given, else the layered ones, else the default."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import UsageError
from ..rootfs import EscapeError, RootError
from .layering import find_config_files, host_path
from .model import Config
from .validate import build_config
from .yamlsource import read_source


def load_config(files: Sequence[str] = (), root: str | None = None) -> Config:
    """The Config of ``files`` (``-c``), or of the layered files under ``root``, or the default.

    Raises ConfigErrors with every problem of every file, UsageError for a root that cannot be
    read or a config that links out of it.
    """
    if files:
        paths = list(files)
        shown = list(files)
    else:
        try:
            shown = find_config_files(root)
            paths = [host_path(path, root) for path in shown]
        except (RootError, EscapeError) as error:
            raise UsageError(str(error)) from None
    # Messages name the file as it is on disk, so that it can be opened; the rendered units
    # name it as the target system will see it.
    sources = [read_source(path) for path in paths]
    return build_config(sources, tuple(shown))
