"""`python3 -m ostree_autocleanup.generator.docs.distfiles`: what a package build runs to get the man
pages, completions and schema file under /usr/share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ostree_autocleanup.generator.docs import clidoc, distfiles


def test_writes_every_file_under_the_share_directory(tmp_path: Path) -> None:
    share = tmp_path / "usr/share"
    argv = ["--output", str(share), "--zsh-dir", "zsh/vendor-completions"]
    assert distfiles.main(argv) == 0
    expected = distfiles.share_files("zsh/vendor-completions")
    written = {str(p.relative_to(share)): p.read_text() for p in share.rglob("*") if p.is_file()}
    assert written == expected
    assert "man/man8/ostree-autocleanup.8" in written
    assert "man/man5/ostree-autocleanup.yaml.5" in written
    assert "bash-completion/completions/ostree-autocleanup" in written
    assert "zsh/vendor-completions/_ostree-autocleanup" in written
    assert distfiles.SCHEMA_PATH in written
    for program in clidoc.PROGRAMS:
        clidoc.load(program)
        assert f"man/man8/{program.prog}.8" in written
        assert f"bash-completion/completions/{program.prog}" in written


def test_list_runs_as_a_module_and_writes_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ostree_autocleanup.generator.docs.distfiles",
            "--list",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == list(distfiles.share_files())
    assert list(tmp_path.iterdir()) == []


def test_output_or_list_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        distfiles.main([])
    assert exit_info.value.code == 2
