"""The README's commands as a new user copies them: root without sudo, Debian's interpreter, and
scripts that exist. tests/e2e runs the set-up command in a fresh Debian and the demo itself."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from support import readme

TOP = Path(__file__).parents[2]
CI_SCRIPT = TOP / ".ci" / "run"


def steps(command: str) -> list[list[str]]:
    """A one-line `A && B && C` command as the argv of each step."""
    assert "\n" not in command, f"not one line: {command!r}"
    return [shlex.split(step) for step in command.split(" && ")]


def test_the_first_two_commands_come_before_any_section() -> None:
    text = readme.README.read_text()
    first_section = text.index("\n## ")
    for command in readme.commands()[:2]:
        assert text.index(command) < first_section


@pytest.mark.parametrize("index", [0, 1], ids=["set-up-and-render", "test-suite"])
def test_commands_run_as_root_without_sudo(index: int) -> None:
    # A minimal Debian, or one with a root password, has no sudo: exit 127.
    for argv in steps(readme.commands()[index]):
        assert argv[0] != "sudo", readme.commands()[index]


def test_the_venv_is_made_by_debians_python_and_sees_its_packages() -> None:
    """A `python3` first on PATH may be a pyenv shim: a venv from it has no PyGObject."""
    argvs = steps(readme.first_command())
    venv = [argv for argv in argvs if argv[1:3] == ["-m", "venv"]]
    assert venv == [["/usr/bin/python3", "-m", "venv", "--system-site-packages", ".venv"]]
    apt = next(argv for argv in argvs if argv[:2] == ["apt-get", "install"])
    # PyGObject and the OSTree typelib for the helper, pystemd for `status`.
    for package in ("python3-venv", "python3-gi", "gir1.2-ostree-1.0", "python3-pystemd"):
        assert package in apt
    assert argvs[-1] == [".venv/bin/ostree-autocleanup", "render"]


def test_the_test_suite_command_is_the_ci_script() -> None:
    assert steps(readme.commands()[1]) == [["bash", ".ci/run"]]
    assert CI_SCRIPT.is_file()


def test_see_it_work_runs_the_demo_with_the_venv_and_packages_ci_installs() -> None:
    argvs = steps(readme.command_running("see_it_work.py"))
    *setup, demo = argvs
    assert demo == [".venv/bin/python", "tests/see_it_work.py"]
    assert (TOP / demo[1]).is_file()
    ci = CI_SCRIPT.read_text()
    for argv in setup:
        assert argv[:3] == ["apt-get", "install", "-y"], argv
        for package in argv[3:]:
            assert f" {package}" in ci, f"{package} is not installed by .ci/run"
