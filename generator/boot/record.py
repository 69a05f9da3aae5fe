"""A record of the output rendered for an admin's override, so that it is rendered only once.

The generator renders (cold path, ~8x `python -c pass`) whenever the config differs from the
one `install --generator` rendered: at every boot while an override in /etc stays. So a boot
that rendered also generates a small unit that, once /etc is writable, renders the config once
more and records the output with the exact config bytes and package version it came from
(RECORD_PATH, the precomputed-data format). The next boot's generator finds it and, when the
config files are still byte for byte those bytes, uses it like the precomputed data (warm path).

Keyed on content, never on mtimes: a config edited since is rendered again. Written to a
temporary file, fsync'ed and renamed over the old record, so a crash or power cut leaves the
old record or the new one, and either is only used for the bytes it was rendered from.
Imported only on the cold path and by `--record`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ...helper.version import VERSION
from ..config.layering import CONFIG_DIRS, host_path
from ..errors import ConfigErrors
from ..units.render import environment
from .cold import render_root
from .entries import (
    FILE,
    GENERATOR_PATH,
    LINK,
    RECORD_PATH,
    encode_data,
)

if TYPE_CHECKING:
    from .entries import Entries
    from .log import Log

RECORD_UNIT = "ostree-autocleanup-generator-record.service"
RECORD_TEMPLATE = "generator-record.service.j2"
_TEMP_PREFIX = os.path.basename(RECORD_PATH) + ".tmp-"


def wants_record(root: str) -> bool:
    """Whether a boot that rendered should record the result: the boot script is installed
    (it runs the recording) and /etc holds the override's directory (where the record goes;
    creating it would make every later boot leave the script's no-Python path)."""
    record_dir = host_path(os.path.dirname(RECORD_PATH), root or None)
    generator = host_path(GENERATOR_PATH, root or None)
    return os.path.isdir(record_dir) and os.access(generator, os.X_OK)


def record_unit_entries(entries: Entries) -> Entries:
    """The recording unit, pulled in by the targets that pull in the cleanup (or its timer)."""
    text = (
        environment()
        .get_template(RECORD_TEMPLATE)
        .render(version=VERSION, config_dir=os.path.dirname(RECORD_PATH), generator=GENERATOR_PATH)
    )
    out: Entries = {RECORD_UNIT: (FILE, text.encode())}
    for rel, (kind, _) in entries.items():
        if kind == LINK:
            target = rel.split("/")[0]
            out[f"{target}/{RECORD_UNIT}"] = (LINK, f"../{RECORD_UNIT}".encode())
    return out


def save_record(root: str, log: Log) -> int:
    """Render the config now and record the output for the next boot; the exit status."""
    path = host_path(RECORD_PATH, root or None)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        log.info(f"{CONFIG_DIRS[0]} does not exist: no override, nothing to record")
        return 0
    try:
        rendered = render_root(root)
    except ConfigErrors as e:
        for error in e.errors:
            log.error(str(error))
        log.error("invalid configuration; nothing recorded")
        return 1
    if rendered is None:
        log.info("no configuration: nothing to record")
        return 0
    inputs, entries = rendered
    blob = encode_data(VERSION, inputs, entries)
    _remove_leftovers(directory)
    try:
        with open(path, "rb") as f:
            if f.read() == blob:
                log.info(f"{RECORD_PATH} is up to date")
                return 0
    except FileNotFoundError:
        pass
    write_atomically(path, blob)
    log.info(f"recorded the units of {', '.join(i[0] for i in inputs)} in {RECORD_PATH}")
    return 0


def write_atomically(path: str, data: bytes) -> None:
    """Replace PATH with DATA: a new file under a random name, fsync'ed, renamed, the directory
    fsync'ed, so that after a crash PATH holds the old bytes or the new ones."""
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, _TEMP_PREFIX + os.urandom(6).hex())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:  # noqa: SIM105
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove_leftovers(directory: str) -> None:
    """Temporary files a killed recording left behind."""
    for name in os.listdir(directory):
        if name.startswith(_TEMP_PREFIX):
            try:  # noqa: SIM105
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass
