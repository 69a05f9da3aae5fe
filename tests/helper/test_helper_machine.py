"""The stamp's state machine (helper/machine.py) as plain functions, transition by transition.

No root, ostree or libostree: the sysroot is a plain directory and the cleanup's work a callable
with a chosen outcome (plain_support.Work), so each case is one starting state, one outcome, and
the state it must end in, next to each other. Root tests (test_helper_faults.py and others) keep
proving the same transitions against real sysroots.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from plain_support import Work, fields, last_record, options, plain_sysroot, temp_files, use_work

from ostree_autocleanup.helper import cleanup, mark, state, status
from ostree_autocleanup.helper.errors import HelperError

# --- cleanup: one case per transition ---------------------------------------------------------------


class Case(NamedTuple):
    stamp: str | None  # the stamp before (None: there is none)
    work: str  # what the work does (plain_support.Work)
    max_attempts: int
    ends: int | str  # exit status, or the name of the exception that leaves run_cleanup
    attempts_after: str | None  # the stamp's count afterwards (None: no stamp)
    records: tuple[str, ...]  # the results written to the state file, in order
    attempt: int | None  # "attempt" of the last record
    calls: int  # how often the work ran
    says: str  # a piece of what the helper logs
    removal_fails: bool = False  # the stamp's unlink fails (a read-only mount, EROFS)


CASES = {
    "no stamp: nothing to do": Case(
        None, "ok", 3, 0, None, (), None, 0, "nothing to clean up"
    ),
    "success removes the stamp, then records it": Case(
        "attempts=0\n", "ok", 3, 0, None, ("started", "success"), 1, 1, "freed 7 objects"
    ),
    "a stamp made by touch is attempts=0": Case(
        "", "ok", 3, 0, None, ("started", "success"), 1, 1, "freed 7 objects"
    ),
    "a failure keeps the stamp with the attempt counted": Case(
        "attempts=0\n", "fail", 3, 1, "1", ("started", "failed"), 1, 1,
        "cleanup failed (attempt 1 of 3): the repo is broken",
    ),
    "a second failure counts on": Case(
        "attempts=1\n", "fail", 3, 1, "2", ("started", "failed"), 2, 1, "attempt 2 of 3"
    ),
    "the last allowed failure gives up": Case(
        "attempts=2\n", "fail", 3, 1, None, ("started", "gave-up"), 3, 1,
        "giving up on cleanup after 3 failed attempts (the repo is broken",
    ),
    "one attempt allowed, one failure gives up": Case(
        "attempts=0\n", "fail", 1, 1, None, ("started", "gave-up"), 1, 1, "giving up"
    ),
    "an attempt that never came back counts: give up without working": Case(
        "attempts=3\n", "ok", 3, 1, None, ("gave-up",), 3, 0, "the last attempt did not finish"
    ),
    "beyond the limit (a lowered max-attempts): give up": Case(
        "attempts=7\n", "ok", 3, 1, None, ("gave-up",), 7, 0, "after 7 failed attempts"
    ),
    "an OSError from the work is a failed attempt": Case(
        "attempts=0\n", "oserror", 3, 1, "1", ("started", "failed"), 1, 1,
        "OSError: [Errno 5] Input/output error",
    ),
    "a MemoryError is a failed attempt": Case(
        "attempts=0\n", "memory", 3, 1, "1", ("started", "failed"), 1, 1, "MemoryError"
    ),
    "a bug gives the attempt back and is recorded as an error": Case(
        "attempts=0\n", "bug", 3, "InternalError", "0", ("started", "error"), 0, 1, ""
    ),
    "a bug on the last attempt never gives the stamp up": Case(
        "attempts=2\n", "bug", 3, "InternalError", "2", ("started", "error"), 2, 1, ""
    ),
    "a backend that returns something else has a bug": Case(
        "attempts=1\n", "garbage", 3, "InternalError", "1", ("started", "error"), 1, 1, ""
    ),
    "success but the stamp stays: recorded as failed, not success": Case(
        "attempts=0\n", "ok", 3, "HelperError", "1", ("started", "failed"), 1, 1, "",
        removal_fails=True,
    ),
    "giving up but the stamp stays: recorded as failed": Case(
        "attempts=2\n", "fail", 3, 1, "3", ("started", "failed"), 3, 1,
        "cannot be removed: Read-only file system", removal_fails=True,
    ),
    "an attempt that never came back, and the stamp stays": Case(
        "attempts=3\n", "ok", 3, 1, "3", ("failed",), 3, 0, "cannot be removed",
        removal_fails=True,
    ),
    "a corrupt count is read as 0, with a warning": Case(
        "attempts=x\n", "fail", 3, 1, "1", ("started", "failed"), 1, 1,
        "has an unreadable attempts count; using 0",
    ),
}  # fmt: skip


class Recorded:
    """The results the helper writes to the state file, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[str] = []
        real = state.write

        def write(state_dir: str, record: dict[str, Any]) -> None:
            self.results.append(record["result"])
            real(state_dir, record)

        monkeypatch.setattr(state, "write", write)


def _fail_stamp_removal(monkeypatch: pytest.MonkeyPatch, name: str = ".cleanup") -> None:
    real = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.path.basename(os.fsdecode(path)) == name:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        real(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_cleanup_transition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: Case
) -> None:
    sysroot = plain_sysroot(tmp_path)
    stamp = sysroot / ".cleanup"
    if case.stamp is not None:
        stamp.write_text(case.stamp)
    state_dir = tmp_path / "state"
    work = Work(case.work)
    use_work(monkeypatch, work)
    recorded = Recorded(monkeypatch)
    if case.removal_fails:
        _fail_stamp_removal(monkeypatch)

    opts = options(sysroot, state_dir, max_attempts=case.max_attempts)
    if isinstance(case.ends, int):
        assert cleanup.run_cleanup(opts) == case.ends
    else:
        with pytest.raises(HelperError) as raised:
            cleanup.run_cleanup(opts)
        assert type(raised.value).__name__ == case.ends

    after = fields(stamp)
    assert (after["attempts"] if after is not None else None) == case.attempts_after
    assert tuple(recorded.results) == case.records
    record = last_record(state_dir)
    assert (record["attempt"] if record else None) == case.attempt
    assert work.calls == case.calls
    assert case.says in capsys.readouterr().err
    assert temp_files(sysroot) == []


def test_a_record_says_what_status_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("deployment=testos/abc.0\nattempts=0\n")
    use_work(monkeypatch, Work("ok"))
    assert cleanup.run_cleanup(options(sysroot, tmp_path / "state", max_attempts=4)) == 0
    record = last_record(tmp_path / "state")
    assert record is not None
    assert record["result"] == "success"
    assert (record["attempt"], record["max_attempts"]) == (1, 4)
    assert (record["objects_freed"], record["bytes_freed"], record["backend"]) == (7, 7000, "fake")
    assert record["deployment"] == "testos/abc.0"
    assert record["sysroot"] == str(sysroot)
    assert record["mode"] == "prune"
    assert record["started"] <= record["finished"]


def test_a_failure_keeps_every_other_field_of_the_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysroot = plain_sysroot(tmp_path)
    stamp = sysroot / ".cleanup"
    stamp.write_text(
        "marked=2026-01-01T00:00:00Z\ndeployment=testos/abc.0\nattempts=0\nnote=kept\n"
    )
    use_work(monkeypatch, Work("fail"))
    assert cleanup.run_cleanup(options(sysroot, tmp_path / "state")) == 1
    assert fields(stamp) == {
        "marked": "2026-01-01T00:00:00Z",
        "deployment": "testos/abc.0",
        "attempts": "1",
        "note": "kept",
    }


def test_a_bug_never_uses_up_the_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: a TypeError in the backend was a failed cleanup; three boots later the helper gave
    # up and removed the stamp of a cleanup that never happened.
    sysroot = plain_sysroot(tmp_path)
    stamp = sysroot / ".cleanup"
    stamp.write_text("attempts=0\n")
    use_work(monkeypatch, Work("bug"))
    for _boot in range(5):
        with pytest.raises(HelperError, match="internal error in the cleanup"):
            cleanup.run_cleanup(options(sysroot, tmp_path / "state", max_attempts=3))
    assert fields(stamp) == {"attempts": "0"}
    record = last_record(tmp_path / "state")
    assert record is not None
    assert record["result"] == "error"
    assert record["error"].startswith("internal error: TypeError: unsupported operand")
    # Once the bug is fixed, the cleanup happens.
    use_work(monkeypatch, Work("ok"))
    assert cleanup.run_cleanup(options(sysroot, tmp_path / "state", max_attempts=3)) == 0
    assert fields(stamp) is None


@pytest.mark.parametrize(
    "error", [AttributeError, KeyError, ValueError, AssertionError, RecursionError, NameError]
)
def test_a_bug_is_reported_on_one_line_and_exits_1(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: type[Exception],
) -> None:
    from ostree_autocleanup.helper import cli

    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("attempts=1\n")

    def broken() -> Any:
        raise error("deep inside")

    use_work(monkeypatch, broken)
    capsys.readouterr()
    rc = cli.main(["cleanup", "--sysroot", str(sysroot), "--state-dir", str(tmp_path / "st")])
    assert rc == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert f"internal error in the cleanup ({error.__name__}: " in lines[0]
    assert "run with --debug" in lines[0]
    assert fields(sysroot / ".cleanup") == {"attempts": "1"}


# --- the order of the durable steps ---------------------------------------------------------------


class Trace:
    """What the helper does to the stamp and the state file, in order, checking on the way that
    each step is durable before the next starts: a temporary file is fsync'ed before it is
    renamed, and the directory after each rename or unlink (a power cut then leaves the old
    state or the new one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, work: Work) -> None:
        self.events: list[str] = []
        self.unsynced: set[str] = set()  # steps whose directory was not fsync'ed yet
        self.temps: dict[int, str] = {}  # open temporary files
        self.synced_temps: set[str] = set()
        real_open, real_rename, real_replace = os.open, os.rename, os.replace
        real_unlink, real_fsync, real_write = os.unlink, os.fsync, state.write

        def step(kind: str, dst: Any) -> None:
            name = os.path.basename(os.fsdecode(dst))
            what = {".cleanup": "stamp", "last-cleanup.json": "record"}.get(name)
            if what is not None:
                assert not self.unsynced, f"{kind} {what} before {self.unsynced} was durable"
                self.events.append(f"{kind} {what}")
                self.unsynced.add(f"{kind} {what}")

        def open_(path: Any, *a: Any, **kw: Any) -> int:
            fd = real_open(path, *a, **kw)
            name = os.path.basename(os.fsdecode(path))
            if ".tmp." in name:
                self.temps[fd] = name
            return fd

        def renamed(src: Any, dst: Any) -> None:
            name = os.path.basename(os.fsdecode(src))
            assert name in self.synced_temps, f"{name} renamed before its data was durable"
            step("write", dst)

        def rename(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
            renamed(src, dst)
            real_rename(src, dst, *a, **kw)

        def replace(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
            renamed(src, dst)
            real_replace(src, dst, *a, **kw)

        def unlink(path: Any, *a: Any, **kw: Any) -> None:
            step("remove", path)
            real_unlink(path, *a, **kw)

        def fsync(fd: int) -> None:
            real_fsync(fd)
            if fd in self.temps:
                self.synced_temps.add(self.temps.pop(fd))
            elif stat.S_ISDIR(os.fstat(fd).st_mode):
                self.unsynced.clear()

        def write(state_dir: str, record: dict[str, Any]) -> None:
            real_write(state_dir, record)
            self.events[-1] += f" {record['result']}"

        def on_call() -> None:
            assert not self.unsynced, f"the work started before {self.unsynced} was durable"
            self.events.append("work")

        work.on_call = on_call
        monkeypatch.setattr(os, "open", open_)
        monkeypatch.setattr(os, "rename", rename)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(os, "unlink", unlink)
        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(state, "write", write)


ORDERS = {
    "ok": (0, ["write stamp", "write record started", "work", "remove stamp", "write record success"]),
    "fail": (1, ["write stamp", "write record started", "work", "write record failed"]),
    "bug": (-1, ["write stamp", "write record started", "work", "write stamp", "write record error"]),
}  # fmt: skip


@pytest.mark.parametrize("outcome", list(ORDERS))
def test_the_order_of_durable_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    # Before: success was recorded before the stamp removal that could still fail, and no step
    # said that an attempt had started.
    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("attempts=0\n")
    work = Work(outcome)
    use_work(monkeypatch, work)
    trace = Trace(monkeypatch, work)
    expected_rc, expected = ORDERS[outcome]
    try:
        rc = cleanup.run_cleanup(options(sysroot, tmp_path / "state"))
    except HelperError:
        rc = -1
    assert rc == expected_rc
    assert trace.events == expected
    assert not trace.unsynced, "the last step was not made durable"


def test_giving_up_removes_the_stamp_before_recording_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("attempts=3\n")
    work = Work("ok")
    use_work(monkeypatch, work)
    trace = Trace(monkeypatch, work)
    assert cleanup.run_cleanup(options(sysroot, tmp_path / "state")) == 1
    assert trace.events == ["remove stamp", "write record gave-up"]


# --- mark: the per-deployment retry budget ---------------------------------------------------------


class MarkCase(NamedTuple):
    stamp: str | None
    deployment: str | None  # what the boot loader says was finalized
    fields: dict[str, str]  # the stamp afterwards, without "marked"
    says: str


MARKS = {
    "first mark": MarkCase(
        None, "testos/a.0", {"deployment": "testos/a.0", "attempts": "0"}, "marked "
    ),
    "the same deployment again keeps its budget": MarkCase(
        "deployment=testos/a.0\nattempts=2\n", "testos/a.0",
        {"deployment": "testos/a.0", "attempts": "2"}, "already pending",
    ),
    "a new deployment starts afresh": MarkCase(
        "deployment=testos/b.0\nattempts=2\n", "testos/a.0",
        {"deployment": "testos/a.0", "attempts": "0"}, "(attempts so far: 0)",
    ),
    "an unknown deployment after a known one starts afresh": MarkCase(
        "deployment=testos/b.0\nattempts=2\n", None, {"attempts": "0"}, "already pending"
    ),
    "unknown twice keeps the budget": MarkCase(
        "attempts=2\n", None, {"attempts": "2"}, "already pending"
    ),
    "a stamp made by touch": MarkCase(
        "", "testos/a.0", {"deployment": "testos/a.0", "attempts": "0"}, "already pending"
    ),
    "a corrupt count starts at 0": MarkCase(
        "deployment=testos/a.0\nattempts=²\n", "testos/a.0",
        {"deployment": "testos/a.0", "attempts": "0"}, "already pending",
    ),
    "unknown keys are kept": MarkCase(
        "deployment=testos/a.0\nattempts=1\nnote=kept\n", "testos/a.0",
        {"deployment": "testos/a.0", "attempts": "1", "note": "kept"}, "already pending",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MARKS.values()), ids=list(MARKS))
def test_mark_transition(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: MarkCase,
) -> None:
    sysroot = plain_sysroot(tmp_path)
    stamp = sysroot / ".cleanup"
    if case.stamp is not None:
        stamp.write_text(case.stamp)
    monkeypatch.setattr(mark, "default_deployment", lambda _sysroot, _boot: case.deployment)
    assert mark.run_mark(str(sysroot), str(stamp), None) == 0
    after = fields(stamp)
    assert after is not None
    marked = after.pop("marked")
    assert time.strftime("%Y-%m-%dT", time.gmtime()) in marked
    assert after == case.fields
    assert case.says in capsys.readouterr().err
    assert temp_files(sysroot) == []


def test_mark_reads_the_finalized_deployment_from_the_boot_loader(tmp_path: Path) -> None:
    # The deployment mark records is the newest loader entry's, as a boot loader picks it.
    sysroot = plain_sysroot(tmp_path)
    checksums = {1: "a" * 64, 2: "b" * 64}
    entries = sysroot / "boot" / "loader" / "entries"
    entries.mkdir(parents=True)
    for version, checksum in checksums.items():
        deploy = sysroot / "ostree" / "deploy" / "testos" / "deploy" / f"{checksum}.0"
        deploy.mkdir(parents=True)
        link = sysroot / "ostree" / f"boot.1/testos/{checksum}/0"
        link.parent.mkdir(parents=True)
        link.symlink_to(os.path.relpath(deploy, link.parent))
        (entries / f"ostree-{version}.conf").write_text(
            f"title test\nversion {version}\noptions ostree=/ostree/boot.1/testos/{checksum}/0\n"
        )
    assert mark.run_mark(str(sysroot), str(sysroot / ".cleanup"), None) == 0
    assert fields(sysroot / ".cleanup")["deployment"] == f"testos/{'b' * 64}.0"  # type: ignore[index]


def test_mark_refuses_after_a_failed_finalization_and_keeps_the_stamp(tmp_path: Path) -> None:
    sysroot = plain_sysroot(tmp_path)
    stamp = sysroot / ".cleanup"
    stamp.write_text("attempts=1\n")
    (sysroot / "boot" / "ostree").mkdir()
    (sysroot / "boot" / "ostree" / "finalize-failure.stamp").write_text("failed\n")
    assert mark.run_mark(str(sysroot), str(stamp), None) == 1
    assert stamp.read_text() == "attempts=1\n"


# --- cleanups that meet -----------------------------------------------------------------------------


def test_two_cleanups_at_once_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("attempts=0\n")
    log = tmp_path / "work.log"

    def slow() -> Any:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        from plain_support import FREED

        return FREED

    use_work(monkeypatch, slow)
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 70
            try:
                code = cleanup.run_cleanup(options(sysroot, tmp_path / "state"))
            finally:
                os._exit(code)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    assert [os.waitstatus_to_exitcode(s) for s in statuses] == [0, 0]
    assert len(log.read_text().splitlines()) == 1, "both cleanups did the work"
    assert fields(sysroot / ".cleanup") is None
    assert last_record(tmp_path / "state")["attempt"] == 1  # type: ignore[index]


# --- status ------------------------------------------------------------------------------------------


def test_status_says_when_an_attempt_recorded_no_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("attempts=2\n")
    state.write(
        str(tmp_path / "state"),
        {"result": "started", "attempt": 2, "started": "2026-01-02T03:04:05Z"},
    )
    status.run_status(str(sysroot / ".cleanup"), str(tmp_path / "state"), False, str(sysroot))
    out = capsys.readouterr().out
    assert "last run:    attempt 2 started at 2026-01-02T03:04:05Z and recorded no end" in out, out
    status.run_status(str(sysroot / ".cleanup"), str(tmp_path / "state"), True, str(sysroot))
    info = json.loads(capsys.readouterr().out)
    assert (info["pending"], info["attempts"], info["last"]["result"]) == (True, 2, "started")


def test_a_state_directory_that_cannot_be_written_does_not_fail_the_cleanup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("attempts=0\n")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    use_work(monkeypatch, Work("ok"))
    assert cleanup.run_cleanup(options(sysroot, blocked)) == 0
    assert fields(sysroot / ".cleanup") is None
    assert f"cannot write {blocked}/last-cleanup.json" in capsys.readouterr().err


def test_sigterm_during_the_work_leaves_the_attempt_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemd stops the cleanup at shutdown (Conflicts=shutdown.target): the attempt counts.
    sysroot = plain_sysroot(tmp_path)
    (sysroot / ".cleanup").write_text("attempts=0\n")
    use_work(monkeypatch, Work("ok", on_call=lambda: os.kill(os.getpid(), signal.SIGTERM)))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            cleanup.run_cleanup(options(sysroot, tmp_path / "state"))
        finally:
            os._exit(70)
    status_ = os.waitpid(pid, 0)[1]
    assert os.WIFSIGNALED(status_) and os.WTERMSIG(status_) == signal.SIGTERM
    assert fields(sysroot / ".cleanup") == {"attempts": "1"}
    assert last_record(tmp_path / "state")["result"] == "started"  # type: ignore[index]
