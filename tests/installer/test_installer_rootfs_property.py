"""Whatever symlinks a root holds, a write lands inside it or is refused: random trees.

Absolute links are resolved inside the root, as the image itself would see them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.generator.rootfs import EscapeError, Root

NAMES = ("a", "b", "c")
TARGETS = ("/", "..", "../..", "../../..", "a", "b/c", "../a", "./b", "c/../..", "@outside")


def _build(root: Path, outside: Path, entries: list[tuple[str, str | None]]) -> None:
    """Entries are (path, None) for a directory or (path, target) for a symlink."""
    for path, target in entries:
        full = root / path
        if os.path.lexists(full) or not full.parent.is_dir() or full.parent.is_symlink():
            continue
        if target is None:
            full.mkdir()
        else:
            os.symlink(str(outside) if target == "@outside" else target, full)


paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)
entries = st.lists(st.tuples(paths, st.one_of(st.none(), st.sampled_from(TARGETS))), max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=entries, target=paths)
def test_a_write_never_leaves_the_root(entries: list[tuple[str, str | None]], target: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        # The root sits two levels down so that "../.." from inside it still has somewhere to go.
        root = Path(scratch, "x", "y", "root")
        root.mkdir(parents=True)
        outside = Path(scratch, "outside")
        outside.mkdir()
        _build(root, outside, entries)
        before_outside = sorted(os.walk(scratch))
        created: list[str] = []
        try:
            with Root(str(root)) as opened:
                opened.write(f"{target}/file", b"data\n", 0o644, created)
                # Where the image itself would find it: absolute links mean the image's /.
                landed: str | None = os.path.join(root, opened.resolve(f"{target}/file"))
        except (EscapeError, OSError):
            landed = None
        # Nothing anywhere but under the root changed.
        after = sorted((d, ds, fs) for d, ds, fs in os.walk(scratch) if not d.startswith(str(root)))
        assert after == [(d, ds, fs) for d, ds, fs in before_outside if not d.startswith(str(root))]
        assert os.listdir(outside) == []
        if landed is not None:
            assert os.path.realpath(landed).startswith(str(root.resolve()) + os.sep)
            assert Path(landed).read_bytes() == b"data\n"
