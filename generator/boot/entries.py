"""The generator's output as data: entries, the precomputed-data file, and writing them out.

An entry set maps a path relative to the generator's output directory to `(kind, data)`: kind
`file` with the file's bytes, or kind `link` with the symlink target. The same entry set comes
from three places that must agree byte for byte: the cold path's rendering, the precomputed-data
file written at install time, and the unit tree the boot script copies.

This module is on the boot path: it imports only os.
"""

from __future__ import annotations

import os

from ..config.layering import host_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    Entry = tuple[str, bytes]
    Entries = dict[str, Entry]
    Inputs = list[tuple[str, bytes]]

FILE = "file"
LINK = "link"

# Where `install --generator` puts what the boot path reads, as the booted system sees it.
DATA_DIR = "/usr/lib/ostree-autocleanup/generator"
DATA_PATH = DATA_DIR + "/precomputed"
UNITS_ARCHIVE = DATA_DIR + "/units.tar"
TEMPLATE_CACHE_DIR = DATA_DIR + "/templates"

# The boot script `install --generator` writes (boot/image.py).
GENERATOR_PATH = "/usr/lib/systemd/system-generators/ostree-autocleanup-generator"

# The output rendered for an admin's override, recorded after a boot that had to render it
# (boot/record.py), in the precomputed-data format. In /etc, beside the override: the generator
# runs before /var may be mounted, while /etc is there (it holds the override itself). A hidden
# name, which the config loader never reads.
RECORD_PATH = "/etc/ostree-autocleanup/.generator-record"

DATA_MAGIC = b"ostree-autocleanup generator data 1\n"


class DataError(ValueError):
    """The precomputed-data file is not in the format this version reads."""


# systemd's unit name rules (unit-name.c): these characters, a known type suffix, at most 255
# bytes. Checked by hand: importing re would cost every boot.
_UNIT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@")
_UNIT_TYPES = (
    ".service",
    ".socket",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
)
_NAME_MAX = 255


def _is_unit_name(name: str) -> bool:
    return (
        0 < len(name.encode()) <= _NAME_MAX
        and name.endswith(_UNIT_TYPES)
        and not name.startswith(".")
        and all(c in _UNIT_CHARS for c in name)
    )


def entry_problem(rel: str, kind: str, data: bytes) -> str | None:
    """Why ``rel`` is not an entry the generator may write into its output directory.

    Only what the generator ever makes is allowed: ``UNIT`` and ``UNIT.d/NAME.conf`` files,
    and ``UNIT.wants/UNIT`` or ``UNIT.requires/UNIT`` links to ``../UNIT``. Anything else
    (``..``, an absolute path, a NUL, an empty or ``.`` component, a link elsewhere) could
    write outside the output directory or place something systemd would load by surprise.
    """
    if kind not in (FILE, LINK):
        return f"unknown entry kind {kind!r}"
    if "\0" in rel or rel.startswith("/"):
        return "not a relative path"
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "not a normalised relative path"
    if len(parts) == 1:
        if kind == FILE and _is_unit_name(parts[0]):
            return None
        return "expected a unit file"
    if len(parts) != 2:
        return "nested deeper than a unit directory"
    directory, name = parts
    if kind == FILE:
        unit_dir = directory.endswith(".d") and _is_unit_name(directory[:-2])
        conf = name.endswith(".conf") and len(name.encode()) <= _NAME_MAX and "\\" not in name
        return None if unit_dir and conf else "expected UNIT.d/NAME.conf"
    for suffix in (".wants", ".requires"):
        unit_dir = directory.endswith(suffix) and _is_unit_name(directory[: -len(suffix)])
        if unit_dir and _is_unit_name(name) and data == b"../" + name.encode():
            return None
    return "expected a UNIT.wants/UNIT link to ../UNIT"


def encode_data(version: str, inputs: Inputs, entries: Entries) -> bytes:
    """The precomputed-data file: package version, config inputs (path and exact bytes), output.

    Exact input bytes, not mtimes or sizes: image builds normalise mtimes (OSTree commits store
    0), so only content tells whether the config changed. Comparing a few hundred bytes costs
    less than importing hashlib.
    """
    chunks = [DATA_MAGIC, b"version " + _field(version) + b"\n"]
    for path, data in inputs:
        chunks += [b"input %d " % len(data) + _field(path) + b"\n", data]
    for rel, (kind, data) in sorted(entries.items()):
        problem = entry_problem(rel, kind, data)
        if problem:
            raise ValueError(f"{rel!r}: {problem}")
        chunks += [kind.encode() + b" %d " % len(data) + _field(rel) + b"\n", data]
    return b"".join(chunks)


def _field(text: str) -> bytes:
    if "\n" in text:
        raise ValueError(f"newline in {text!r}")
    return text.encode("utf-8", "surrogateescape")


def decode_data(blob: bytes) -> tuple[str, Inputs, Entries]:
    """The inverse of encode_data; DataError when the blob is not such a file."""
    if not blob.startswith(DATA_MAGIC):
        raise DataError("not a generator data file")
    pos = len(DATA_MAGIC)
    version = ""
    inputs: Inputs = []
    entries: Entries = {}
    while pos < len(blob):
        end = blob.find(b"\n", pos)
        if end < 0:
            raise DataError("truncated header line")
        header = blob[pos:end].decode("utf-8", "surrogateescape")
        pos = end + 1
        kind, _, rest = header.partition(" ")
        if kind == "version":
            version = rest
            continue
        size_text, _, name = rest.partition(" ")
        if not size_text.isdigit() or not name:
            raise DataError(f"bad header line {header!r}")
        size = int(size_text)
        data = blob[pos : pos + size]
        if len(data) != size:
            raise DataError(f"truncated data for {name!r}")
        pos += size
        if kind == "input":
            if not name.startswith("/") or "\0" in name or "/../" in name + "/":
                raise DataError(f"bad input name {name!r}")
            inputs.append((name, data))
        elif kind in (FILE, LINK):
            # Every name is checked before anything is written: this file is data, and a name
            # such as ../../etc/x must never become a path outside the output directory.
            problem = entry_problem(name, kind, data)
            if problem:
                raise DataError(f"refusing entry {name!r}: {problem}")
            if name in entries:
                raise DataError(f"entry {name!r} appears twice")
            entries[name] = (kind, data)
        else:
            raise DataError(f"unknown record {kind!r}")
    return version, inputs, entries


def read_inputs(root: str, paths: list[str]) -> Inputs:
    """The config files as (path inside the root, exact bytes), for comparison with the data."""
    inputs: Inputs = []
    for path in paths:
        with open(host_path(path, root), "rb") as f:
            inputs.append((path, f.read()))
    return inputs


def write_entries(outdir: str, entries: Entries) -> None:
    """Put ENTRIES into OUTDIR, all or nothing: on any error, remove what was written and raise.

    Each file goes through a temporary name and rename, so systemd never sees a partial unit.
    No fsync: generator output lives on /run, a tmpfs rebuilt at every boot and reload.
    """
    for rel in sorted(entries):
        problem = entry_problem(rel, *entries[rel])
        if problem:  # nothing is written when any one name is wrong
            raise ValueError(f"refusing to write {rel!r} into {outdir}: {problem}")
    created_dirs: list[str] = []
    written: list[str] = []
    try:
        for rel in sorted(entries):
            kind, data = entries[rel]
            path = os.path.join(outdir, rel)
            _make_parents(outdir, os.path.dirname(rel), created_dirs)
            tmp = os.path.join(os.path.dirname(path), f".#{os.path.basename(path)}.tmp")
            _remove(tmp)
            if kind == LINK:
                os.symlink(os.fsdecode(data), tmp)
            else:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
            try:
                os.replace(tmp, path)
            except OSError:
                _remove(tmp)
                raise
            written.append(path)
    except BaseException:
        for path in reversed(written):
            _remove(path)
        for directory in reversed(created_dirs):
            try:  # noqa: SIM105 - contextlib is one more import at every boot
                os.rmdir(directory)
            except OSError:
                pass
        raise


def _make_parents(outdir: str, rel_dir: str, created: list[str]) -> None:
    if not rel_dir:
        return
    path = outdir
    for part in rel_dir.split("/"):
        path = os.path.join(path, part)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
        else:
            created.append(path)


def _remove(path: str) -> None:
    try:  # noqa: SIM105 - contextlib is one more import at every boot
        os.unlink(path)
    except FileNotFoundError:
        pass


def format_entries(entries: Entries) -> str:
    """ENTRIES as text for --dry-run: a `==> PATH <==` header before each file's content."""
    parts = []
    for rel in sorted(entries):
        kind, data = entries[rel]
        if kind == LINK:
            parts.append(f"==> {rel} -> {os.fsdecode(data)} <==\n")
        else:
            text = data.decode("utf-8", "replace")
            parts.append(f"==> {rel} <==\n{text}")
            if not text.endswith("\n"):
                parts.append("\n")
    return "".join(parts)
