"""Kills and failures at every step: the stamp and the state file stay in one of the machine's
states, and the next boot finishes the job.

Each run is a forked copy of the test process in which every os call with an effect on disk
(open, write, fchmod, fsync, rename, replace, unlink, mkdir) is counted; the K-th one is
preceded by SIGKILL (a kill between two durable steps, no handler, no `finally`), or replaced by
an OSError (a failing disk). K runs from 1 until a run reaches its end untouched, so every step
of every path below is hit. No root, ostree or libostree.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pytest
from plain_support import FREED, Work, fields, last_record, options, plain_sysroot, use_work

from ostree_autocleanup.helper import cleanup, mark
from ostree_autocleanup.helper.errors import HelperError

EFFECTS = ("open", "write", "fchmod", "fsync", "rename", "replace", "unlink", "mkdir")
# Failures may also hit the calls that only look.
LOOKS = ("read", "fstat", "stat", "listdir", "fstatvfs")
EXIT_DONE = 0
EXIT_RAISED = 3


class Counted:
    """Counts the hooked os calls while active; at call `k` does `action`."""

    def __init__(self, names: tuple[str, ...], k: int, action: Callable[[str], None]) -> None:
        self.names = names
        self.k = k
        self.action = action
        self.calls = 0
        self.active = True
        self.hit: str | None = None

    @contextmanager
    def installed(self) -> Iterator[Counted]:
        saved = {name: getattr(os, name) for name in self.names}

        def hook(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
            def hooked(*args: Any, **kwargs: Any) -> Any:
                if self.active:
                    self.calls += 1
                    if self.calls == self.k:
                        self.hit = name
                        self.action(name)
                return real(*args, **kwargs)

            return hooked

        for name, real in saved.items():
            setattr(os, name, hook(name, real))
        try:
            yield self
        finally:
            for name, real in saved.items():
                setattr(os, name, real)


def _kill(_name: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _fail(name: str) -> None:
    raise OSError(errno.EIO, f"injected failure of os.{name}")


class World:
    """A plain sysroot with a stamp, a state directory and a work that leaves a trace."""

    def __init__(self, base: Path, stamp: str | None, work: str, max_attempts: int) -> None:
        self.sysroot = plain_sysroot(base)
        self.stamp = self.sysroot / ".cleanup"
        self.state = base / "state"
        self.started = base / "work-started"
        self.done = base / "work-done"
        self.outcome = work
        self.max_attempts = max_attempts
        if stamp is not None:
            self.stamp.write_text(stamp)
        self.before = fields(self.stamp)

    def work(self, counted: Counted | None) -> Work:
        def trace() -> None:
            # The work's own bookkeeping is not one of the helper's steps.
            if counted is not None:
                counted.active = False
            try:
                self.started.write_text("started")
                if self.outcome == "ok":
                    self.done.write_text("done")
            finally:
                if counted is not None:
                    counted.active = True

        return Work(self.outcome, on_call=trace)

    def run_cleanup(self, monkeypatch: pytest.MonkeyPatch, counted: Counted | None) -> int:
        use_work(monkeypatch, self.work(counted))
        return cleanup.run_cleanup(
            options(self.sysroot, self.state, max_attempts=self.max_attempts)
        )

    def age_temporary_files(self) -> None:
        """A boot later: whatever a killed writer left is old now."""
        for directory in (self.sysroot, self.state):
            if directory.is_dir():
                for name in os.listdir(directory):
                    if ".tmp." in name:
                        os.utime(directory / name, (1, 1), follow_symlinks=False)

    def leftovers(self) -> list[str]:
        out = []
        for directory in (self.sysroot, self.state):
            if directory.is_dir():
                out += [n for n in os.listdir(directory) if ".tmp." in n]
        return out


def _in_child(body: Callable[[], int]) -> int:
    """Run `body` in a forked child; its exit status, or -SIGNAL when killed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 70
        try:
            code = body()
        except HelperError:
            code = EXIT_RAISED
        finally:
            os._exit(code)
    status = os.waitpid(pid, 0)[1]
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Scenario(NamedTuple):
    stamp: str | None
    work: str
    max_attempts: int
    # Counts the stamp may hold at any moment: before, during and after the run.
    counts: tuple[str | None, ...]
    # Results the state file may hold at any moment (None: no file yet).
    results: tuple[str | None, ...]
    gives_up: bool  # may the stamp go without the work having succeeded


CLEANUPS = {
    "success": Scenario(
        "attempts=0\n", "ok", 3, ("0", "1", None), (None, "started", "success", "failed"), False
    ),
    "failure": Scenario(
        "attempts=0\n", "fail", 3, ("0", "1"), (None, "started", "failed"), False
    ),
    "failure that gives up": Scenario(
        "attempts=2\n", "fail", 3, ("2", "3", None), (None, "started", "gave-up", "failed"), True
    ),
    "attempt that never came back": Scenario(
        "attempts=3\n", "ok", 3, ("3", None), (None, "gave-up", "failed"), True
    ),
    "bug": Scenario(
        "attempts=1\n", "bug", 3, ("1", "2"), (None, "started", "error"), False
    ),
}  # fmt: skip


def _check_invariants(world: World, scenario: Scenario, where: str) -> None:
    after = fields(world.stamp)
    count = after["attempts"] if after is not None else None
    assert count in scenario.counts, f"{where}: the stamp holds attempts={count}"
    if after is not None:
        assert stat.S_ISREG(os.lstat(world.stamp).st_mode)
        others = {k: v for k, v in after.items() if k != "attempts"}
        assert others == {k: v for k, v in (world.before or {}).items() if k != "attempts"}
    record = last_record(world.state) if world.state.is_dir() else None
    result = record["result"] if record is not None else None
    assert result in scenario.results, f"{where}: the state file says {result}"
    if result == "success":
        assert after is None, f"{where}: success recorded while the stamp is still there"
    if after is None:
        assert world.done.exists() or scenario.gives_up, (
            f"{where}: the stamp is gone but the cleanup never happened"
        )
    if world.started.exists() and after is not None:
        # The attempt is counted durably before the work starts; only a bug gives it back.
        raised = str(int((world.before or {}).get("attempts") or 0) + 1)
        allowed = (raised, world.before["attempts"]) if scenario.work == "bug" else (raised,)
        assert count in allowed, f"{where}: the work ran while the stamp said attempts={count}"
    for name in world.leftovers():
        assert name.startswith(("..cleanup.tmp.", ".last-cleanup.json.tmp.")), name


def _next_boot(world: World, monkeypatch: pytest.MonkeyPatch, scenario: Scenario) -> None:
    """The next boot, with a cleanup that works, ends with no stamp and no leftovers."""
    world.age_temporary_files()
    world.outcome = "ok"
    if fields(world.stamp) is None:
        # Nothing pending: the next update marks again, and that cleanup sweeps up too.
        world.stamp.write_text("attempts=0\n")
    rc = world.run_cleanup(monkeypatch, None)
    assert fields(world.stamp) is None
    record = last_record(world.state)
    if rc == 0 and record is not None and record["result"] == "success":
        assert world.done.exists()
    else:
        # Nothing pending any more, or the budget was used up: either is an end.
        assert rc in (0, 1)
    assert world.leftovers() == []


@pytest.mark.parametrize("scenario", list(CLEANUPS.values()), ids=list(CLEANUPS))
def test_cleanup_killed_at_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    k = 0
    while True:
        k += 1
        assert k < 200, "the run never ends"
        base = tmp_path / f"k{k}"
        world = World(base, scenario.stamp, scenario.work, scenario.max_attempts)
        counted = Counted(EFFECTS, k, _kill)

        def body(world: World = world, counted: Counted = counted) -> int:
            with counted.installed():
                return world.run_cleanup(monkeypatch, counted)

        outcome = _in_child(body)
        _check_invariants(world, scenario, f"killed before effect {k}")
        if outcome != -signal.SIGKILL:
            break
        _next_boot(world, monkeypatch, scenario)
    assert k > 5, "too few steps were counted for the test to mean anything"


@pytest.mark.parametrize("scenario", list(CLEANUPS.values()), ids=list(CLEANUPS))
def test_cleanup_with_a_failing_call_at_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    k = 0
    while True:
        k += 1
        assert k < 300, "the run never ends"
        world = World(tmp_path / f"k{k}", scenario.stamp, scenario.work, scenario.max_attempts)
        counted = Counted(EFFECTS + LOOKS, k, _fail)
        raised: BaseException | None = None
        with counted.installed():
            try:
                world.run_cleanup(monkeypatch, counted)
            except HelperError as e:  # an expected failure, said in one line at the CLI
                raised = e
            except BaseException as e:
                raised = e
        where = f"os.{counted.hit} failing (call {k})"
        if counted.hit is not None:
            assert raised is None or isinstance(raised, HelperError), (
                f"{where}: {type(raised).__name__}: {raised}"
            )
            assert world.leftovers() == [], f"{where} left temporary files"
        _check_invariants(world, scenario, where)
        if counted.hit is None:
            break
        _next_boot(world, monkeypatch, scenario)


class MarkScenario(NamedTuple):
    stamp: str | None
    deployment: str
    expected: dict[str, str]  # the stamp after a complete mark, without "marked"


MARKS = {
    "first": MarkScenario(None, "testos/a.0", {"deployment": "testos/a.0", "attempts": "0"}),
    "same deployment": MarkScenario(
        "marked=old\ndeployment=testos/a.0\nattempts=2\n",
        "testos/a.0",
        {"deployment": "testos/a.0", "attempts": "2"},
    ),
    "new deployment": MarkScenario(
        "marked=old\ndeployment=testos/b.0\nattempts=2\n",
        "testos/a.0",
        {"deployment": "testos/a.0", "attempts": "0"},
    ),
}


@pytest.mark.parametrize("scenario", list(MARKS.values()), ids=list(MARKS))
@pytest.mark.parametrize("action", ["kill", "fail"])
def test_mark_interrupted_at_every_step_leaves_the_old_stamp_or_the_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: MarkScenario, action: str
) -> None:
    monkeypatch.setattr(mark, "default_deployment", lambda _s, _b: scenario.deployment)
    k = 0
    while True:
        k += 1
        assert k < 100, "the run never ends"
        sysroot = plain_sysroot(tmp_path / f"k{k}")
        stamp = sysroot / ".cleanup"
        if scenario.stamp is not None:
            stamp.write_text(scenario.stamp)
        if action == "kill":
            counted = Counted(EFFECTS, k, _kill)
        else:
            counted = Counted(EFFECTS + LOOKS, k, _fail)

        def body(sysroot: Path = sysroot, counted: Counted = counted) -> int:
            with counted.installed():
                return mark.run_mark(str(sysroot), str(sysroot / ".cleanup"), None)

        if action == "kill":
            outcome = _in_child(body)
            interrupted = outcome == -signal.SIGKILL
        else:
            try:
                outcome = body()
            except HelperError:
                outcome = EXIT_RAISED
            interrupted = counted.hit is not None
            assert outcome in (0, 1, EXIT_RAISED)
        after = fields(stamp)
        if after is None:
            assert scenario.stamp is None, f"call {k}: the pending stamp was lost"
        elif after.get("marked") == "old":
            assert stamp.read_text() == scenario.stamp, f"call {k}: the old stamp changed"
        else:
            after.pop("marked")
            # A stamp whose count could not be read starts at 0: mark must leave a stamp.
            fresh = dict(scenario.expected, attempts="0")
            allowed = [scenario.expected] if action == "kill" else [scenario.expected, fresh]
            assert after in allowed, f"call {k}: a stamp that is neither old nor new: {after}"
        if not interrupted:
            assert outcome == 0
            assert fields(stamp) is not None
            break
    assert k > 5


def test_a_kill_leaves_nothing_the_next_run_cannot_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed right after the temporary stamp was written: the next boot removes it.
    world = World(tmp_path, "attempts=0\n", "ok", 3)

    def kill_at_rename(name: str) -> None:
        if name in ("rename", "replace"):
            _kill(name)

    counted = Counted(("rename", "replace"), 1, kill_at_rename)

    def body() -> int:
        with counted.installed():
            return world.run_cleanup(monkeypatch, counted)

    assert _in_child(body) == -signal.SIGKILL
    assert len(world.leftovers()) == 1
    assert fields(world.stamp) == {"attempts": "0"}
    world.age_temporary_files()
    use_work(monkeypatch, lambda: FREED)
    assert cleanup.run_cleanup(options(world.sysroot, world.state)) == 0
    assert world.leftovers() == []
