"""Any sequence of shutdowns (mark) and boots (cleanup with any outcome) against a model of the
stamp's state machine: the files on disk say what the model says after every step.

The model is the table in helper/machine.py written as plain Python; hypothesis draws the
sequences (deployments that repeat or change, successes, failures, bugs, stamps removed by
hand) and shrinks any disagreement to the shortest one. No root, ostree or libostree.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from plain_support import Work, fields, last_record, options, plain_sysroot

from ostree_autocleanup.helper import cleanup, mark
from ostree_autocleanup.helper.errors import HelperError

DEPLOYMENTS = st.sampled_from(["testos/a.0", "testos/b.0", None])


class StampMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="oac-model-"))
        self.sysroot = plain_sysroot(self.base)
        self.stamp = self.sysroot / ".cleanup"
        self.state = self.base / "state"
        self.max_attempts = 3
        # The model.
        self.pending = False
        self.attempts = 0
        self.deployment: str | None = None
        self.last: tuple[str, int] | None = None

    def teardown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    @initialize(max_attempts=st.integers(min_value=1, max_value=4))
    def limit(self, max_attempts: int) -> None:
        self.max_attempts = max_attempts

    @rule(deployment=DEPLOYMENTS)
    def shutdown_after_finalizing(self, deployment: str | None) -> None:
        real = mark.default_deployment
        mark.default_deployment = lambda _s, _b: deployment  # type: ignore[assignment]
        try:
            assert mark.run_mark(str(self.sysroot), str(self.stamp), None) == 0
        finally:
            mark.default_deployment = real
        if not (self.pending and self.deployment == deployment):
            self.attempts = 0
        self.pending = True
        self.deployment = deployment

    @rule(outcome=st.sampled_from(Work.OUTCOMES))
    def boot(self, outcome: str) -> None:
        work = Work(outcome)
        real = cleanup._clean
        cleanup._clean = lambda _opts: work()  # type: ignore[assignment]
        try:
            rc: Any = cleanup.run_cleanup(options(self.sysroot, self.state, self.max_attempts))
        except HelperError as e:
            rc = type(e).__name__
        finally:
            cleanup._clean = real  # type: ignore[assignment]
        expected_rc, expected_calls = self._model_boot(outcome)
        assert (rc, work.calls) == (expected_rc, expected_calls)

    def _model_boot(self, outcome: str) -> tuple[int | str, int]:
        """What a boot does in the model: (exit status or exception, calls of the work)."""
        if not self.pending:
            return 0, 0
        if self.attempts >= self.max_attempts:
            self.pending = False
            self.last = ("gave-up", self.attempts)
            return 1, 0
        attempt = self.attempts + 1
        if outcome == "ok":
            self.pending = False
            self.last = ("success", attempt)
            return 0, 1
        if outcome in ("bug", "garbage"):
            self.last = ("error", self.attempts)
            return "InternalError", 1
        self.attempts = attempt
        if attempt >= self.max_attempts:
            self.pending = False
            self.last = ("gave-up", attempt)
        else:
            self.last = ("failed", attempt)
        return 1, 1

    @rule()
    def admin_removes_the_stamp(self) -> None:
        self.stamp.unlink(missing_ok=True)
        self.pending = False

    @invariant()
    def disk_agrees_with_the_model(self) -> None:
        on_disk = fields(self.stamp)
        assert (on_disk is not None) == self.pending
        if on_disk is not None:
            assert on_disk["attempts"] == str(self.attempts)
            assert on_disk.get("deployment") == self.deployment
        record = last_record(self.state) if self.state.exists() else None
        got = (record["result"], record["attempt"]) if record else None
        assert got == self.last


def test_stamp_state_machine() -> None:
    # A plain test function rather than the machine's unittest TestCase, so that it takes the
    # platform id (conftest.platform_id) like every other helper test.
    run_state_machine_as_test(
        StampMachine,
        settings=settings(
            max_examples=60, stateful_step_count=25, deadline=None, derandomize=True, database=None
        ),
    )
