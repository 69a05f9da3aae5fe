"""The helper runs at shutdown and at boot: it never imports the generator side."""

from __future__ import annotations

from pathlib import Path

import pytest
from helper_support import built, gi_unavailable, helper

from support import sysroot as sr

FORBIDDEN = ("yaml", "jinja2", "markupsafe", "ostree_autocleanup.generator")


def _imported(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def _forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))


def _run(*args: str) -> set[str]:
    result = helper(*args, python_flags=("-X", "importtime"))
    names = _imported(result.stderr)
    # The parse itself must work, or the assertions below would pass vacuously.
    assert "ostree_autocleanup.helper.cli" in names, result.stderr[-2000:]
    return names


def test_mark_and_status_import_neither_the_generator_nor_libostree(tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    for args in (
        ("mark", "--sysroot", str(sysroot)),
        ("status", "--sysroot", str(sysroot), "--state-dir", str(tmp_path / "st")),
        ("cleanup", "--sysroot", str(tmp_path / "none"), "--state-dir", str(tmp_path / "st")),
    ):
        names = _run(*args)
        assert _forbidden(names) == [], args
        assert "gi" not in names, args
    assert (sysroot / ".cleanup").exists()


@pytest.mark.root
def test_cleanup_imports_libostree_but_not_the_generator(fixtures_dir: Path, scratch: Path) -> None:
    if gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", n_files=20), scratch / "ours")
    (ours.path / ".cleanup").write_text("attempts=0\n")
    names = _run("cleanup", "--sysroot", str(ours.path), "--state-dir", str(scratch / "st"))
    assert not (ours.path / ".cleanup").exists()
    assert "gi" in names
    assert _forbidden(names) == []
