"""Every file under cases/good/ is a config that must be accepted and mean what it says.

Its ``# expect:`` lines are the outcome: ``# expect: service: KEY=VALUE`` (and ``dropin:``,
``preset:``) is a line of that rendered file, ``# expect: file: PATH`` a file rendered at PATH.
test_systemd_verify.py also loads each of them into the real systemd of both eras. Cases of one
class share a subdirectory, like the bad ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.units.render import render

GOOD = Path(__file__).parent / "cases" / "good"
CASES = sorted(GOOD.rglob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (service|dropin|preset|file): (.*)$")


def expectations(case: Path) -> list[tuple[str, str]]:
    return [
        (m[1], m[2])
        for line in case.read_text(encoding="utf-8").splitlines()
        if (m := _EXPECT.match(line))
    ]


def _role(path: str) -> str:
    if path.endswith(".preset"):
        return "preset"
    return "dropin" if path.endswith(".conf") else "service"


def test_there_are_cases_and_each_expects_something() -> None:
    assert len(CASES) >= 15
    for case in CASES:
        assert expectations(case), f"{case.name} has no '# expect:' line"


@pytest.mark.parametrize(
    "case", CASES, ids=[str(c.relative_to(GOOD).with_suffix("")) for c in CASES]
)
def test_good_config(case: Path) -> None:
    files = render(load_config([str(case)]))
    for role, expected in expectations(case):
        if role == "file":
            assert expected in files, sorted(files)
            continue
        texts = [text for path, text in files.items() if _role(path) == role]
        assert any(expected in text.splitlines() for text in texts), (expected, texts)
