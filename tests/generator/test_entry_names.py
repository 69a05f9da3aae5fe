"""The generator writes only the names it ever makes: its data file is data, not a path list.

The precomputed-data file lives in the image; a damaged or crafted one must not turn an entry
such as ``../../etc/x`` into a file outside the output directory. Every name is checked before
anything is written, on the way in (decode_data), on the way out (write_entries) and when the
file is made (encode_data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from ostree_autocleanup.generator.boot.entries import (
    DATA_MAGIC,
    DATA_PATH,
    FILE,
    LINK,
    DataError,
    decode_data,
    encode_data,
    entry_problem,
    write_entries,
)
from ostree_autocleanup.helper.version import VERSION
from support.generator_image import Image

UNIT = "ostree-autocleanup.service"

# (name, kind, data): the shapes the generator makes. Quadlet-style: one case per line.
ACCEPTED = [
    (UNIT, FILE, b"[Unit]\n"),
    ("x@y.service", FILE, b""),
    ("a-autocleanup.timer", FILE, b""),
    ("ostree-finalize-staged.service.d/50-ostree-autocleanup.conf", FILE, b""),
    (f"multi-user.target.wants/{UNIT}", LINK, f"../{UNIT}".encode()),
    (f"basic.target.requires/{UNIT}", LINK, f"../{UNIT}".encode()),
]

# (name, kind, data, what the refusal says)
REFUSED = [
    ("../escape.service", FILE, b"", "not a normalised relative path"),
    ("a.service.d/../../escape.conf", FILE, b"", "not a normalised relative path"),
    ("/etc/escape.service", FILE, b"", "not a relative path"),
    ("a\0b.service", FILE, b"", "not a relative path"),
    ("", FILE, b"", "not a normalised relative path"),
    ("./x.service", FILE, b"", "not a normalised relative path"),
    ("a//x.service", FILE, b"", "not a normalised relative path"),
    ("x.service/", FILE, b"", "not a normalised relative path"),
    ("..", FILE, b"", "not a normalised relative path"),
    ("notes.txt", FILE, b"", "expected a unit file"),
    (".hidden.service", FILE, b"", "expected a unit file"),
    ("a b.service", FILE, b"", "expected a unit file"),
    ("x" * 250 + ".service", FILE, b"", "expected a unit file"),
    (UNIT, LINK, f"../{UNIT}".encode(), "expected a unit file"),
    ("a/b/c.service", FILE, b"", "nested deeper than a unit directory"),
    ("a.service.d/run.sh", FILE, b"", "expected UNIT.d/NAME.conf"),
    ("etc.d/x.conf", FILE, b"", "expected UNIT.d/NAME.conf"),
    ("multi-user.target.wants/x.service", FILE, b"", "expected UNIT.d/NAME.conf"),
    (f"multi-user.target.wants/{UNIT}", LINK, b"/etc/shadow", "link to ../UNIT"),
    (f"multi-user.target.wants/{UNIT}", LINK, f"../../{UNIT}".encode(), "link to ../UNIT"),
    (f"multi-user.target.wants/{UNIT}", LINK, b"../other.service", "link to ../UNIT"),
    (f"etc/{UNIT}", LINK, f"../{UNIT}".encode(), "link to ../UNIT"),
    (UNIT, "device", b"", "unknown entry kind 'device'"),
]


@pytest.mark.parametrize(("name", "kind", "data"), ACCEPTED)
def test_the_names_the_generator_makes_are_accepted(name: str, kind: str, data: bytes) -> None:
    assert entry_problem(name, kind, data) is None
    # And they round-trip through the data file.
    blob = encode_data(VERSION, [], {name: (kind, data)})
    assert decode_data(blob)[2] == {name: (kind, data)}


@pytest.mark.parametrize(("name", "kind", "data", "why"), REFUSED)
def test_every_other_name_is_refused(name: str, kind: str, data: bytes, why: str) -> None:
    problem = entry_problem(name, kind, data)
    assert problem is not None and why in problem
    with pytest.raises(ValueError, match=re.escape(why)):
        encode_data(VERSION, [], {name: (kind, data)})
    crafted = _crafted({name: (kind, data)})
    # An empty name or an unknown kind is already no well-formed record.
    with pytest.raises(DataError, match=r"refusing entry|bad header line|unknown record"):
        decode_data(crafted)


def _crafted(
    entries: dict[str, tuple[str, bytes]], inputs: Sequence[tuple[str, bytes]] = ()
) -> bytes:
    """A data file written by hand, as encode_data would if it did not check names."""
    chunks = [DATA_MAGIC, f"version {VERSION}\n".encode()]
    for path, data in inputs:
        chunks += [f"input {len(data)} {path}\n".encode(), data]
    for rel, (kind, data) in entries.items():
        chunks += [f"{kind} {len(data)} ".encode() + rel.encode() + b"\n", data]
    return b"".join(chunks)


def test_bad_input_names_are_refused() -> None:
    for name in ("relative.yaml", "/usr/lib/../../etc/x.yaml", "/a\0b"):
        with pytest.raises(DataError, match="bad input name"):
            decode_data(_crafted({}, [(name, b"version: 1\n")]))


def test_write_entries_writes_nothing_when_one_name_is_bad(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    good = {UNIT: (FILE, b"[Unit]\n")}
    with pytest.raises(ValueError, match="refusing to write"):
        write_entries(str(out), {**good, "../escape.service": (FILE, b"x")})
    assert list(out.iterdir()) == []
    assert not (tmp_path / "escape.service").exists()


def test_a_crafted_data_file_writes_nothing_outside_and_falls_back_to_rendering(
    image: Image, tmp_path: Path
) -> None:
    """The data file matches the installed config byte for byte, as a real one would, and adds
    an entry that climbs out of the output directory."""
    image.install()
    data_path = image.root / DATA_PATH.lstrip("/")
    _version, inputs, entries = decode_data(data_path.read_bytes())
    # From OUT/normal, this climbs to the test's own directory: the outside that is checked.
    escape = "../../escaped.service"
    data_path.write_bytes(_crafted({**entries, escape: (FILE, b"[Unit]\n")}, inputs))

    result = image.generate("python")
    assert result.returncode == 0, result.stderr
    assert "refusing entry '../../escaped.service'" in result.stderr
    assert "rendering" in result.stderr
    # Rendered by the cold path instead: the real units, and nothing anywhere else.
    assert UNIT in result.tree
    assert list(tmp_path.rglob("escaped.service")) == []
    assert set(result.tree) == set(entries)
