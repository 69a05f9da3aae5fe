"""The helper's real-sysroot tests, run a second time against another platform's ostree.

`tests/helper` builds real sysroots with the `ostree` CLI and runs the helper with
`sys.executable`, so run with the host's interpreter it proves the helper on the host's
platform (Debian 12: ostree 2022.7, Python 3.11). Here the same files run again, unchanged, by
pytest inside a root of every other platform (Debian 13: ostree 2025.2, libostree 2025.2,
Python 3.13), with the checkout mounted read-only; any inner failure fails this test with the
inner summary. The inner test ids carry the platform (`[debian13]`), the host's `[debian12]`.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from support import platform_root as pr
from support import sysroot as sr
from support.platforms import PLATFORMS, Platform

REPO = Path(__file__).resolve().parents[2]
OTHERS = [p for p in PLATFORMS if p.id != pr.running_platform_id()]
PROBE = (
    "import sys, gi\n"
    "gi.require_version('OSTree', '1.0')\n"
    "from gi.repository import OSTree\n"
    "print('%d.%d' % sys.version_info[:2], OSTree.VERSION_S)\n"
)

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """/tmp of the platform's root: on a disk filesystem, so deployments can be chattr +i."""
    path = Path(tempfile.mkdtemp(prefix="oac-platform-", dir=os.environ.get("OAC_TEST_TMP")))
    try:
        yield path
    finally:
        sr.remove_tree(path)


def _need_root_and_tools() -> None:
    reason = pr.unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the helper tests on every platform, but {reason}")
    pytest.skip(reason)


class Inner(NamedTuple):
    """What the inner pytest reported in its JUnit XML."""

    counts: dict[str, int]
    # "failure: ID message" for every test that did not pass.
    problems: list[str]
    ids: list[str]


def _read_junit(junit: Path) -> Inner:
    keys = ("tests", "failures", "errors", "skipped")
    if not junit.exists():
        return Inner(dict.fromkeys(keys, 0), ["no JUnit report: the inner pytest never ran"], [])
    suite = ET.parse(junit).getroot()
    if suite.tag == "testsuites":
        suite = suite[0]
    counts = {key: int(suite.get(key, "0")) for key in keys}
    problems = []
    ids = []
    for case in suite.iter("testcase"):
        ids.append(case.get("name", ""))
        for outcome in ("failure", "error", "skipped"):
            found = case.find(outcome)
            if found is not None:
                message = (found.get("message") or "").split("\n")[0]
                problems.append(f"{outcome}: {case.get('classname')}::{ids[-1]} {message}")
    return Inner(counts, problems, ids)


@pytest.mark.parametrize("platform", OTHERS, ids=[p.id for p in OTHERS])
def test_helper_tests_pass_on(platform: Platform, scratch: Path) -> None:
    _need_root_and_tools()
    root = pr.runner_root(platform)

    probe = pr.run_in_root(root, REPO, scratch, ["python3", "-c", PROBE])
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == [platform.python, platform.ostree]
    cli = pr.run_in_root(root, REPO, scratch, ["ostree", "--version"])
    assert f"Version: '{platform.ostree}'" in cli.stdout

    env = pr.checkout_env(scratch)
    if "CI" in os.environ:
        env["CI"] = os.environ["CI"]
    log = scratch / "pytest.log"
    with open(log, "w") as out:
        run = pr.run_in_root(
            root,
            REPO,
            scratch,
            [
                "sh",
                "-c",
                # The hypothesis database and anything else written to the working directory
                # land in the scratch directory, not in the read-only checkout.
                'cd /tmp && exec "$@"',
                "sh",
                "python3",
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                f"--rootdir={pr.CHECKOUT}",
                "-c",
                f"{pr.CHECKOUT}/pyproject.toml",
                "--junitxml=/tmp/junit.xml",
                "-ra",
                f"{pr.CHECKOUT}/tests/helper",
            ],
            env=env,
            stdout=out.fileno(),
            timeout=3600,
        )
    inner = _read_junit(scratch / "junit.xml")
    tail = log.read_text(errors="replace").splitlines()[-40:]
    report = "\n".join(
        [
            f"inner pytest on {platform.id}: exit {run.returncode}, {inner.counts}",
            *inner.problems[:30],
            "--- end of the inner log ---",
            *tail,
        ]
    )
    assert run.returncode == 0, report
    assert inner.counts["failures"] == inner.counts["errors"] == 0, report
    assert inner.counts["tests"] > 0, report
    if os.environ.get("CI") == "true":
        assert inner.counts["skipped"] == 0, report
    # Every inner test says where it ran (conftest.platform_id comes first in the brackets):
    # proof that the root's own interpreter collected them.
    named = [name for name in inner.ids if f"[{platform.id}]" in name or f"[{platform.id}-" in name]
    assert named == inner.ids, report
