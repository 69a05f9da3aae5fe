"""The generator's cold path: load the layered config and render the output entries.

Imported only when the precomputed data does not match (it pulls in yaml and jinja2), and at
install time, so that the precomputed output is the cold path's output by construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Config
from .generator_output import FILE, LINK, read_inputs
from .layering import find_config_files
from .load import load_config
from .render import render_units

if TYPE_CHECKING:
    from .generator_output import Entries, Inputs


def config_entries(config: Config) -> Entries:
    """The unit, the finalize drop-in, and the `.wants/` links that [Install] would have made.

    Generated units cannot be enabled, so the generator makes the links itself. Relative link
    targets keep them valid whatever the output directory is called.
    """
    source_path = config.sources[0] if config.sources else None
    entries: Entries = {
        rel: (FILE, text.encode()) for rel, text in render_units(config, source_path).items()
    }
    for target in config.install.wanted_by.split():
        entries[f"{target}.wants/{config.unit_name}"] = (LINK, f"../{config.unit_name}".encode())
    return entries


def render_root(root: str) -> tuple[Inputs, Entries] | None:
    """The config inputs and the rendered entries for the layered config under ROOT.

    None when there is no config file at all: with nothing installed there is nothing to do.
    Raises ConfigErrors for a bad config, before anything is written anywhere.
    """
    files = find_config_files(root or None)
    if not files:
        return None
    # Sources are named as the booted system sees them (root taken off), so that output
    # rendered into an image at install time and output rendered at boot are identical.
    config = load_config(root=root or None)
    return read_inputs(root, files), config_entries(config)
