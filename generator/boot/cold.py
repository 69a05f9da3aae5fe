"""The generator's cold path: load the layered config and render the output entries.

Imported only when the precomputed data does not match (it pulls in yaml and jinja2), and at
install time, so that the precomputed output is the cold path's output by construction.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import jinja2

from ...helper.version import VERSION
from ..config.layering import host_path
from ..config.load import config_from_inputs, read_config_inputs
from ..config.model import Config
from ..units.render import environment, render_units
from .entries import FILE, LINK, TEMPLATE_CACHE_DIR

if TYPE_CHECKING:
    from .entries import Entries, Inputs


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
        # With scheduling.delay the target pulls in the timer, which starts the service.
        unit = config.enabled_unit
        entries[f"{target}.wants/{unit}"] = (LINK, f"../{unit}".encode())
    return entries


class TemplateCache(jinja2.BytecodeCache):
    """Templates compiled at install time, read at boot; compiling them costs ~10 ms a boot.

    Jinja2's own caches key on the template's file name, which differs between the host that
    installs and the image that boots; this one keys on the package version and template name.
    The bucket still checks the Python version and a checksum of the template source, so a
    stale file is ignored, never used. /usr is read-only at boot: nothing is written back.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return f"{VERSION}-{name}"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            with open(os.path.join(self.directory, bucket.key + ".cache"), "rb") as f:
                bucket.load_bytecode(f)
        except OSError:
            pass

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        pass


def compiled_templates() -> dict[str, bytes]:
    """Every template compiled, as cache file name -> bytes, for `install --generator`."""
    env = environment()
    cache = TemplateCache("")
    out: dict[str, bytes] = {}
    assert env.loader is not None
    for name in env.loader.list_templates():
        if not name.endswith(".j2"):  # the package's own __init__.py lives there too
            continue
        source, _, _ = env.loader.get_source(env, name)
        bucket = jinja2.bccache.Bucket(
            env, cache.get_cache_key(name), cache.get_source_checksum(source)
        )
        # The template name, not the host path, as file name: the same bytes on every build host.
        bucket.code = env.compile(source, name, name)
        out[bucket.key + ".cache"] = bucket.bytecode_to_string()
    return out


def use_template_cache(root: str) -> None:
    """Read compiled templates from the image's generator data, when they are there."""
    environment().bytecode_cache = TemplateCache(host_path(TEMPLATE_CACHE_DIR, root or None))


def render_root(root: str) -> tuple[Inputs, Entries] | None:
    """The config inputs and the rendered entries for the layered config under ROOT.

    None when there is no config file at all: with nothing installed there is nothing to do.
    Raises ConfigErrors for a bad config, before anything is written anywhere.
    """
    # Read once: the inputs that key the output are the very bytes it was rendered from, also
    # when a file changes meanwhile (a record keyed on newer bytes would be stale).
    read = read_config_inputs((), root or None)
    if not read:
        return None
    # Sources are named as the booted system sees them (root taken off), so that output
    # rendered into an image at install time and output rendered at boot are identical.
    config = config_from_inputs(read)
    inputs: Inputs = [(i.name, i.data or b"") for i in read]
    return inputs, config_entries(config)
