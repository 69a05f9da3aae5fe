"""Under CI a skip is a failure.

A test that skips passes silently: a failed download or a missing package would switch off
whole groups of tests and the run would still go green. ``.ci/run`` provides everything the
tests need (packages, the upstream ostree units, root, nspawn, pystemd), so under ``CI=true``
any skip means the set-up is incomplete and is reported as a failure naming what is missing.
Outside CI, skips stay skips, each with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


def strict() -> bool:
    """Whether skips count as failures: CI=true (or 1/yes), as CI services set it."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _reason(longrepr: Any) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason").
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.outcome = "failed"
    report.longrepr = (
        "skipped under CI=true, where a skip is a failure (.ci/run provides what tests need): "
        + _reason(report.longrepr)
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if strict() and report.skipped and not hasattr(report, "wasxfail"):
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if strict() and report.skipped:
        _fail(report)
