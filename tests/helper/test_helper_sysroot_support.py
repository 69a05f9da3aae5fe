"""The guarantees of tests/support/sysroot.py that the helper tests and other areas rely on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helper_support import built, need_ostree, need_root, need_unshare

from support import sysroot as sr

pytestmark = pytest.mark.root


def _freed_by_ostree(source: sr.Sysroot, scratch: Path) -> int:
    copy = sr.copy_sysroot(source, scratch / "copy")
    before = sr.repo_usage(copy.repo).objects
    sr.ostree("admin", "cleanup", "--sysroot=" + str(copy.path))
    freed = before - sr.repo_usage(copy.repo).objects
    sr.remove_tree(copy.path)
    return freed


def test_deployed_sysroot_has_nothing_to_clean(fixtures_dir: Path, scratch: Path) -> None:
    source = built(fixtures_dir, "deployed", versions=2, n_files=50)
    assert len(sr.deployment_commits(source)) == 2
    assert _freed_by_ostree(source, scratch) == 0


def test_cheap_and_staged_sysroots_need_the_same_cleanup(fixtures_dir: Path, scratch: Path) -> None:
    cheap = built(fixtures_dir, "cheap", n_files=300, file_size=100)
    staged = built(fixtures_dir, "staged", n_files=300, file_size=100)
    freed = _freed_by_ostree(cheap, scratch)
    # The oldest version's payload plus its trees, commit, kernel and initramfs.
    assert 300 < freed < 300 + 20
    assert _freed_by_ostree(staged, scratch) == freed
    for source in (cheap, staged):
        assert len(sr.deployment_commits(source)) == 2
        assert sr.refs(source.repo)[sr.BRANCH] in sr.deployment_commits(source)


def test_payload_knobs_set_the_object_count(scratch: Path) -> None:
    need_root()
    need_ostree()
    small = sr.deployed_sysroot(scratch / "small", n_files=10)
    big = sr.deployed_sysroot(scratch / "big", n_files=10 + 600, shared_files=0)
    # 600 more files: 600 more content objects and 2 more directories (256 files each).
    assert sr.repo_usage(big.repo).objects - sr.repo_usage(small.repo).objects == 600 + 2


def test_remove_tree_refuses_while_something_is_mounted_below(scratch: Path) -> None:
    need_unshare()
    victim = scratch / "tree" / "mnt"
    victim.mkdir(parents=True)
    (victim / "keep").write_text("host data\n")
    # In a private namespace, mount over a directory of the tree and try to remove the tree.
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]); from pathlib import Path\n"
        "from support import sysroot as sr\n"
        "try:\n"
        "    sr.remove_tree(Path(sys.argv[1]))\n"
        "except RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    tests_dir = Path(__file__).resolve().parent.parent
    script = 'mount -t tmpfs tmpfs "$1/mnt" && exec "$3" -c "$4" "$1" "$2"'
    result = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(scratch / "tree"),
            str(tests_dir),
            "/usr/bin/python3",
            code,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.stdout.startswith("refused:"), result.stdout + result.stderr
    assert (victim / "keep").read_text() == "host data\n"
