"""Every file under cases/bad/ is one bad config; its ``# expect:`` lines are the outcome.

An expectation ``# expect: LINE:COL KEY: TEXT`` means: stderr has a line that starts with
``FILE:LINE:COL: error: KEY: `` and contains TEXT. The command exits 2, prints nothing but those
errors, and writes nothing. Adding a case is adding a file. Cases of one class of mistake share
a subdirectory (numbers/, timespan/, names/, ...); the ones directly in cases/bad/ are general.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ostree_autocleanup.generator import cli

BAD = Path(__file__).parent / "cases" / "bad"
CASES = sorted(BAD.rglob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (\d+):(\d+) (\S+): (.*)$")


def expectations(case: Path) -> list[tuple[int, int, str, str]]:
    out = []
    for line in case.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _EXPECT.match(line)
        if match:
            out.append((int(match[1]), int(match[2]), match[3], match[4]))
    return out


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        assert expectations(case), f"{case.name} has no '# expect:' line"


@pytest.mark.parametrize(
    "case", CASES, ids=[str(c.relative_to(BAD).with_suffix("")) for c in CASES]
)
def test_bad_config(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "out"
    status = cli.main(["render", "-c", str(case), "--output", str(output)])
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert captured.out == ""
    assert not output.exists(), "a bad config must not write anything"
    lines = captured.err.splitlines()
    expected = expectations(case)
    assert len(lines) == len(expected), captured.err
    for line_no, column, key, text in expected:
        prefix = f"{case}:{line_no}:{column}: error: {key}: "
        matching = [line for line in lines if line.startswith(prefix)]
        assert matching, f"no line starting with {prefix!r} in:\n{captured.err}"
        assert any(text in line for line in matching), f"{text!r} not in {matching}"
    assert "Traceback" not in captured.err


def _render_status(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(["render", "-c", str(path)])
    return status, capsys.readouterr().err


def test_oversized_file_is_refused_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.yaml"
    # A valid config padded with a comment: the size alone must refuse it.
    big.write_text("version: 1\n" + "#" * (70 * 1024) + "\n")
    status, err = _render_status(big, capsys)
    assert status == 2
    assert (
        err.strip()
        == f"{big}:1:1: error: (file): is larger than 65536 bytes (a config is a few lines)"
    )


def test_billion_laughs_is_refused_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    lines.append("sandbox:\n  read-write-paths: *a11")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    status, err = _render_status(path, capsys)
    assert status == 2
    assert "YAML aliases are not allowed" in err


def test_unreadable_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _render_status(tmp_path / "missing.yaml", capsys)
    assert status == 2
    assert (
        err.strip()
        == f"{tmp_path / 'missing.yaml'}:1:1: error: (file): cannot read: No such file or directory"
    )


def test_errors_from_several_files_are_all_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text("version: 1\nname: 'bad name'\n")
    second.write_text("version: 1\ncleanup:\n  mode: nope\n")
    status = cli.main(["render", "-c", str(first), "-c", str(second)])
    err = capsys.readouterr().err.splitlines()
    assert status == 2
    assert [line.split(": error: ")[0] for line in err] == [f"{first}:2:7", f"{second}:3:9"]


def test_a_later_file_does_not_hide_an_earlier_files_bad_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The later file overrides the value, but the earlier file is still wrong: it is reported
    # where it stands (as systemd reports a bad line that a drop-in overrides), once.
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text("version: 1\nname: 'bad name'\n")
    second.write_text("version: 1\nname: good\n")
    assert cli.main(["render", "-c", str(first), "-c", str(second)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{first}:2:7: error: name: 'bad name' has characters outside systemd's unit-name rules "
        "(start with a letter or digit, then A-Z a-z 0-9 _ . -)"
    ]


def test_no_traceback_without_debug(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "file-not-dir"
    output.write_text("")
    status = cli.main(["render", "--output", str(output)])
    err = capsys.readouterr().err
    assert status == 1
    assert (
        err.startswith(f"ostree-autocleanup: error: cannot create {output}: ")
        and "Traceback" not in err
    )
    assert os.path.isfile(output)


def test_deep_nesting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\nname: " + "[" * 5000 + "]" * 5000 + "\n")
    status, err = _render_status(path, capsys)
    assert status == 2
    assert err.strip().endswith("error: (file): nested deeper than 32 levels")


@pytest.mark.parametrize(
    "argv", [["render", "--bogus"], [], ["install", "--root"], ["schema", "--format", "xml"]]
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ostree-autocleanup") and ": error: " in err
