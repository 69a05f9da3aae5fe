"""Under CI=true a skip fails the run and names what is missing; outside CI it stays a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).parents[1] / "conftest.py"

SKIPPING = """
import pytest

def test_in_body() -> None:
    pytest.skip("needs the frobnicator (apt-get install frob)")

@pytest.mark.skipif(True, reason="needs a marker's blessing")
def test_marked() -> None:
    pass

def test_runs() -> None:
    pass
"""


def _pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=120,
    )


def test_under_ci_a_skip_fails_and_says_what_is_missing(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed, 1 error" in result.stdout, result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]
    assert "where a skip is a failure" in result.stdout
    assert "needs the frobnicator (apt-get install frob)" in result.stdout
    assert "needs a marker's blessing" in result.stdout


def test_outside_ci_a_skip_stays_a_skip_with_its_reason(tmp_path: Path) -> None:
    for ci in (None, "false", ""):
        result = _pytest(tmp_path, ci)
        assert result.returncode == 0, result.stdout
        assert "1 passed, 2 skipped" in result.stdout, result.stdout
        assert "needs the frobnicator (apt-get install frob)" in result.stdout


def test_the_set_up_fails_saying_why_when_ostree_boot_cannot_be_had(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt_get = bin_dir / "apt-get"
    apt_get.write_text("#!/bin/sh\necho 'E: Unable to locate package ostree-boot' >&2\nexit 100\n")
    apt_get.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "OSTREE_AUTOCLEANUP_TEST_CACHE": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, str(Path(__file__).parents[1] / "support/upstream.py")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"cannot fetch Debian's ostree-boot units into {tmp_path}/cache/ostree-boot: "
        "apt-get download ostree-boot failed: E: Unable to locate package ostree-boot\n"
    )
