"""The command line a new user meets: standard input, what render wrote, status without
pystemd, and the verdict after the report. Each command runs as its own process, as typed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ostree_autocleanup.generator import cli

RUN = "import sys; from ostree_autocleanup.generator.cli import main; sys.exit(main())"
BAD = "version: 1\ncleanup:\n  mode: fast\n"
# A program every machine has where the service's sandbox lets it run, standing in for the
# helper (the venv's own may be under /root or /tmp, which the sandbox hides).
HELPER = Path(os.path.realpath(shutil.which("true") or "/bin/true"))


def ostree_autocleanup(
    *argv: str, stdin: str = "", merged: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command; ``merged`` sends stderr into the same pipe as stdout, as `2>&1 | less`
    does, so that the order of the two is what a reader sees."""
    return subprocess.run(
        [sys.executable, "-c", RUN, *argv],
        input=stdin,
        capture_output=not merged,
        stdout=subprocess.PIPE if merged else None,
        stderr=subprocess.STDOUT if merged else None,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


# -- -c - is standard input, wherever -c is accepted -----------------------------------------


def test_render_reads_standard_input() -> None:
    result = ostree_autocleanup("render", "-c", "-", stdin="version: 1\nname: fromstdin\n")
    assert result.returncode == 0, result.stderr
    assert "--- usr/lib/systemd/system/fromstdin-autocleanup.service ---" in result.stdout
    # The header says where the config came from.
    assert "#   <stdin>\n" in result.stdout


def test_dev_stdin_is_read_once_too() -> None:
    result = ostree_autocleanup("render", "-c", "/dev/stdin", stdin="version: 1\nname: dev\n")
    assert result.returncode == 0, result.stderr
    assert "dev-autocleanup.service" in result.stdout


def test_standard_input_with_other_files_keeps_the_order(tmp_path: Path) -> None:
    later = tmp_path / "later.yaml"
    later.write_text("version: 1\ncleanup:\n  mode: prune\n")
    result = ostree_autocleanup(
        "render", "-c", "-", "-c", str(later), stdin="version: 1\nname: first\n"
    )
    assert result.returncode == 0, result.stderr
    assert "first-autocleanup.service" in result.stdout and "--mode prune" in result.stdout


@pytest.mark.parametrize("command", ["render", "verify", "status", "install"])
def test_a_bad_config_on_standard_input_names_stdin_and_its_line(
    command: str, tmp_path: Path
) -> None:
    extra = ["--root", str(tmp_path)] if command == "install" else []
    result = ostree_autocleanup(command, "-c", "-", *extra, stdin=BAD)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("<stdin>:3:9: error: cleanup.mode: "), result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_verify_reads_standard_input() -> None:
    config = f"version: 1\nname: piped\ncleanup:\n  helper-path: {HELPER}\n"
    result = ostree_autocleanup("verify", "-c", "-", stdin=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("piped-autocleanup.service:\n")


# -- render --output says what it wrote --------------------------------------------------------


def test_render_output_lists_every_file_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = ostree_autocleanup("render", "--output", str(out))
    assert result.returncode == 0, result.stderr
    on_disk = sorted(
        str(Path(directory, name)) for directory, _, names in os.walk(out) for name in names
    )
    assert len(on_disk) == 3
    assert sorted(result.stdout.splitlines()) == [f"wrote {path}" for path in on_disk]


# -- status without pystemd ----------------------------------------------------------------------


def test_status_without_pystemd_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes every import of it fail, as where it is not installed.
    for name in ("pystemd", "pystemd.dbuslib", "pystemd.systemd1"):
        monkeypatch.setitem(sys.modules, name, None)
    status = cli.main(["status", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1
    assert "internal error" not in err
    assert len(err.strip().splitlines()) == 1
    assert "python3-pystemd" in err
    assert "pip install 'ostree-autocleanup[live]'" in err
    assert "pkg-config libsystemd-dev" in err


# -- the verdict comes after the report --------------------------------------------------------


def test_verify_prints_its_verdict_after_the_report_when_piped(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("version: 1\ncleanup:\n  helper-path: /nonexistent/helper\n")
    result = ostree_autocleanup("verify", "-c", str(config), merged=True)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    verdict = [i for i, line in enumerate(lines) if line.startswith("ostree-autocleanup: error:")]
    assert verdict == [len(lines) - 1], result.stdout
    assert lines[-2] == "  result: FAILED"
