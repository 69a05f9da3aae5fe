"""Log lines for the journal and for a terminal, status output, version and usage errors."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from helper_support import HELPER_MODULE, helper


def _run_with_stderr_file(args: list[str], stderr_file: Path, journal: str | None) -> int:
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    with open(stderr_file, "w") as err:
        if journal == "match":
            st = os.fstat(err.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        elif journal == "other":
            # Inherited from a parent whose stderr was the journal, but ours is not.
            st = os.stat("/")
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        return subprocess.run(
            [sys.executable, "-m", HELPER_MODULE, *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            check=False,
        ).returncode


def test_journal_lines_carry_syslog_priorities(tmp_path: Path) -> None:
    log = tmp_path / "stderr"
    (tmp_path / "sysroot").mkdir()
    rc = _run_with_stderr_file(["mark", "--sysroot", str(tmp_path / "sysroot")], log, "match")
    assert rc == 0
    assert log.read_text().startswith("<6>marked ")
    rc = _run_with_stderr_file(
        ["mark", "--sysroot", str(tmp_path), "--stamp", str(tmp_path / "no" / "dir" / "s")],
        log,
        "match",
    )
    assert rc == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("<3>cannot write the stamp ")


def test_terminal_lines_are_plain(tmp_path: Path) -> None:
    log = tmp_path / "stderr"
    for journal in (None, "other"):
        rc = _run_with_stderr_file(
            ["cleanup", "--sysroot", str(tmp_path), "--state-dir", str(tmp_path / "st")],
            log,
            journal,
        )
        assert rc == 0
        assert log.read_text() == (
            f"ostree-autocleanup-helper: no stamp at {tmp_path}/.cleanup: nothing to clean up\n"
        )
    rc = _run_with_stderr_file(
        ["mark", "--sysroot", str(tmp_path), "--stamp", str(tmp_path / "no" / "s")], log, None
    )
    assert rc == 1
    assert log.read_text().startswith("ostree-autocleanup-helper: error: cannot write the stamp")
    assert "(its directory does not exist; check --stamp)" in log.read_text()


def test_version() -> None:
    version = importlib.import_module("ostree_autocleanup.helper.version").VERSION
    result = helper("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ostree-autocleanup-helper {version}"


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        [],
        ["frobnicate"],
        ["cleanup", "--mode", "everything"],
        ["cleanup", "--max-attempts", "0"],
        ["cleanup", "--lock-timeout", "soon"],
    ):
        result = helper(*args)
        assert result.returncode == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("ostree-autocleanup-helper"), args
        assert "error: " in lines[0]


def test_status_reports_stamp_attempts_and_last_result(tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    state = tmp_path / "state"
    base = ["status", "--sysroot", str(sysroot), "--state-dir", str(state)]

    empty = json.loads(helper(*base, "--json").stdout)
    assert empty["pending"] is False
    assert empty["last"] is None
    assert "pending:     no" in helper(*base).stdout

    (sysroot / ".cleanup").write_text(
        "marked=2026-01-02T03:04:05Z\ndeployment=testos/abc.0\nattempts=2\n"
    )
    state.mkdir()
    (state / "last-cleanup.json").write_text(
        json.dumps(
            {"result": "failed", "finished": "2026-01-02T03:05:00Z", "error": "boom", "attempt": 2}
        )
    )
    pending = json.loads(helper(*base, "--json").stdout)
    assert pending["pending"] is True
    assert pending["attempts"] == 2
    assert pending["marked"] == "2026-01-02T03:04:05Z"
    assert pending["deployment"] == "testos/abc.0"
    assert pending["last"]["error"] == "boom"
    text = helper(*base).stdout
    assert "attempts:    2" in text
    assert "last run:    failed at 2026-01-02T03:05:00Z: boom" in text
