"""``status`` edge cases that need no container."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_status_without_pystemd_is_a_clear_failure(tmp_path: Path) -> None:
    """The optional dependency missing is one line and exit 1, not a traceback."""
    blocker = tmp_path / "pystemd"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('pystemd blocked for this test')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ostree_autocleanup.generator.cli import main; "
            "sys.exit(main(['status', '--json']))",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "pystemd" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_status_with_an_unreachable_bus_is_a_clear_failure(tmp_path: Path) -> None:
    address = f"unix:path={tmp_path}/no-bus-here"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ostree_autocleanup.generator.cli import main; sys.exit(main())",
            "status",
            "--bus-address",
            address,
            "--root",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and address in result.stderr, result.stderr
