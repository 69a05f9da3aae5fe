"""machine.py's `mark` and `cleanup` called directly: every record they hand to state.Recorder,
every line they log, and every error they raise, pinned to the character.

test_helper_machine.py proves the transitions through `run_cleanup`; these pin what `status` and
an admin read of each one: the records' fields (the error, the deployment, the freed counts, the
seconds), the log lines on stderr, and the message and hint of each HelperError. The stamp is a
real file in a plain directory, the work a callable, the clock a list of readings; no root.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from plain_support import Work

from ostree_autocleanup.helper import log, machine, state
from ostree_autocleanup.helper.errors import HelperError
from ostree_autocleanup.helper.stamp import Stamp, StampFile

PROG = "ostree-autocleanup-helper: "
ERROR = PROG + "error: "
WARNING = PROG + "warning: "
DEPLOYMENT = "testos/abc.0"
BROKEN = "the repo is broken (check it with ostree fsck)"
BUG = "TypeError: unsupported operand type(s) for +: 'int' and 'str'"
# What every record says besides its own fields; Recorder adds these.
VARYING = ("started", "finished", "helper_version", "max_attempts")


@pytest.fixture(autouse=True)
def plain_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain lines, not the journal's; debug lines off unless a test turns them on."""
    monkeypatch.setattr(log, "_journal", False)
    monkeypatch.setattr(log, "_verbose", False)


@pytest.fixture
def sysroot(tmp_path: Path) -> Path:
    path = tmp_path / "sysroot"
    path.mkdir()
    return path


@pytest.fixture
def stamp_file(sysroot: Path) -> Iterator[StampFile]:
    with StampFile.open(str(sysroot), str(sysroot / ".cleanup")) as opened:
        yield opened


class Written:
    """The records the state file received, in order, without the fields every record has."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.records: list[dict[str, Any]] = []
        real = state.write

        def write(state_dir: str, record: dict[str, Any]) -> None:
            self.records.append({k: v for k, v in record.items() if k not in VARYING})
            real(state_dir, record)

        monkeypatch.setattr(state, "write", write)


def _recorder(tmp_path: Path, sysroot: Path, with_repo: bool = True) -> state.Recorder:
    context: dict[str, Any] = {"sysroot": str(sysroot), "mode": "prune"}
    if with_repo:
        context["repo"] = str(sysroot / "ostree" / "repo")
    return state.Recorder(str(tmp_path / "state"), 3, context)


def _clock(*readings: float) -> Callable[[], float]:
    values = iter(readings)
    return lambda: next(values)


def _refuse(err: int) -> Callable[..., Any]:
    def refused(*_args: Any) -> Any:
        raise OSError(err, os.strerror(err))

    return refused


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


# --- cleanup: a success -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deployment", "with_repo"), [(DEPLOYMENT, True), (None, False)], ids=["repo", "anchor"]
)
def test_success_records_the_counts_and_says_where_and_how_long(
    tmp_path: Path,
    sysroot: Path,
    stamp_file: StampFile,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    deployment: str | None,
    with_repo: bool,
) -> None:
    (sysroot / ".cleanup").write_text(f"deployment={deployment}\n" if deployment else "")
    written = Written(monkeypatch)
    recorder = _recorder(tmp_path, sysroot, with_repo)
    monkeypatch.setattr(log, "_verbose", True)
    capsys.readouterr()

    # 1.23456 s of work: the record keeps milliseconds, the line tenths.
    assert machine.cleanup(stamp_file, recorder, Work("ok"), _clock(100.0, 101.23456)) == 0

    context = dict(recorder.context)
    own = {"deployment": deployment} if deployment else {}
    assert written.records == [
        {**context, "result": "started", "attempt": 1, **own},
        {
            **context,
            "result": "success",
            "attempt": 1,
            "backend": "fake",
            "objects_freed": 7,
            "bytes_freed": 7000,
            "seconds": 1.235,
            **own,
        },
    ]
    where = context["repo"] if with_repo else str(sysroot)
    assert _lines(capsys) == [
        PROG + "cleanup attempt 1 of 3",
        PROG + f"freed 7 objects (7.0 kB) from {where} in 1.2s",
    ]
    assert not (sysroot / ".cleanup").exists()


@pytest.mark.parametrize(
    ("err", "hint"),
    [
        (errno.EACCES, "its directory must be writable by the cleanup service"),
        (errno.EROFS, machine.READ_ONLY_HINT),
    ],
    ids=["EACCES", "EROFS"],
)
def test_success_whose_stamp_stays_is_recorded_as_failed_with_the_counts(
    tmp_path: Path,
    sysroot: Path,
    stamp_file: StampFile,
    monkeypatch: pytest.MonkeyPatch,
    err: int,
    hint: str,
) -> None:
    (sysroot / ".cleanup").write_text(f"deployment={DEPLOYMENT}\nattempts=1\n")
    written = Written(monkeypatch)
    recorder = _recorder(tmp_path, sysroot)
    monkeypatch.setattr(stamp_file, "remove", _refuse(err))

    with pytest.raises(HelperError) as raised:
        machine.cleanup(stamp_file, recorder, Work("ok"), _clock(5.0, 7.5))

    reason = (
        f"cleanup succeeded but the stamp {stamp_file.path} cannot be removed: {os.strerror(err)}"
    )
    assert str(raised.value) == f"{reason} ({hint})"
    context = dict(recorder.context)
    assert written.records == [
        {**context, "result": "started", "attempt": 2, "deployment": DEPLOYMENT},
        {
            **context,
            "result": "failed",
            "attempt": 2,
            "error": reason,
            "backend": "fake",
            "objects_freed": 7,
            "bytes_freed": 7000,
            "seconds": 2.5,
            "deployment": DEPLOYMENT,
        },
    ]


# --- cleanup: failures and giving up ------------------------------------------------------------


class Failure(NamedTuple):
    attempts: int  # the stamp's count before
    work: str  # plain_support.Work's outcome
    removal: int  # errno of the stamp's removal, 0: it works
    records: list[tuple[str, int, str]]  # (result, attempt, error) of each record
    says: str  # the one log line, {path} for the stamp's


GIVE_UP = (
    "giving up on cleanup after {n} failed attempts ({reason}); removed {path}. The unused "
    "objects stay in the repo until the next update or a manual `ostree admin cleanup`"
)
GIVE_UP_STAYS = (
    "giving up on cleanup after {n} failed attempts ({reason}), but the stamp {path} cannot be "
    "removed: Permission denied"
)
NEVER_CAME_BACK = "the last attempt did not finish"

FAILURES = {
    "a failed attempt keeps the stamp": Failure(
        0, "fail", 0, [("started", 1, ""), ("failed", 1, BROKEN)],
        f"cleanup failed (attempt 1 of 3): {BROKEN}; the stamp {{path}} stays so that the next "
        "boot retries",
    ),
    "the last allowed attempt fails: give up": Failure(
        2, "fail", 0, [("started", 3, ""), ("gave-up", 3, BROKEN)],
        GIVE_UP.format(n=3, reason=BROKEN, path="{path}"),
    ),
    "the last attempt never came back: give up": Failure(
        3, "ok", 0, [("gave-up", 3, NEVER_CAME_BACK)],
        GIVE_UP.format(n=3, reason=NEVER_CAME_BACK, path="{path}"),
    ),
    "giving up, but the stamp stays: failed": Failure(
        3, "ok", errno.EACCES, [("failed", 3, GIVE_UP_STAYS)],
        GIVE_UP_STAYS.format(n=3, reason=NEVER_CAME_BACK, path="{path}"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FAILURES.values()), ids=list(FAILURES))
def test_each_failure_records_its_error_for_the_deployment_and_says_it(
    tmp_path: Path,
    sysroot: Path,
    stamp_file: StampFile,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: Failure,
) -> None:
    (sysroot / ".cleanup").write_text(f"deployment={DEPLOYMENT}\nattempts={case.attempts}\n")
    written = Written(monkeypatch)
    recorder = _recorder(tmp_path, sysroot)
    if case.removal:
        monkeypatch.setattr(stamp_file, "remove", _refuse(case.removal))
    capsys.readouterr()

    assert machine.cleanup(stamp_file, recorder, Work(case.work), _clock(1.0, 2.0)) == 1

    path = stamp_file.path
    expected = []
    for result, attempt, error in case.records:
        record: dict[str, Any] = {**recorder.context, "result": result, "attempt": attempt}
        if error:
            record["error"] = error.format(n=3, reason=NEVER_CAME_BACK, path=path)
        record["deployment"] = DEPLOYMENT
        expected.append(record)
    assert written.records == expected
    assert _lines(capsys) == [ERROR + case.says.format(path=path)]


def test_a_bug_is_recorded_as_an_error_for_the_deployment_and_raised_with_its_hint(
    tmp_path: Path, sysroot: Path, stamp_file: StampFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sysroot / ".cleanup").write_text(f"deployment={DEPLOYMENT}\nattempts=1\n")
    written = Written(monkeypatch)
    recorder = _recorder(tmp_path, sysroot)

    with pytest.raises(machine.InternalError) as raised:
        machine.cleanup(stamp_file, recorder, Work("bug"), _clock(1.0, 2.0))

    assert str(raised.value) == (
        f"internal error in the cleanup ({BUG}); the stamp keeps attempts=1: a bug is not "
        "counted as a failed cleanup (run with --debug for a traceback and report it)"
    )
    context = dict(recorder.context)
    assert written.records == [
        {**context, "result": "started", "attempt": 2, "deployment": DEPLOYMENT},
        {
            **context,
            "result": "error",
            "attempt": 1,
            "error": f"internal error: {BUG}",
            "deployment": DEPLOYMENT,
        },
    ]


# --- cleanup: the stamp itself ------------------------------------------------------------------


def test_a_stamp_gone_meanwhile_is_another_cleanup_s_work(
    tmp_path: Path,
    sysroot: Path,
    stamp_file: StampFile,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    written = Written(monkeypatch)
    work = Work("ok")
    capsys.readouterr()
    assert machine.cleanup(stamp_file, _recorder(tmp_path, sysroot), work) == 0
    assert _lines(capsys) == [
        PROG + f"no stamp at {stamp_file.path} any more: another cleanup did the work"
    ]
    assert written.records == []
    assert work.calls == 0


UNSAFE_HINT = (
    "remove it if it is not the helper's; cleanup never follows or opens anything but a regular "
    "file there"
)


def test_a_stamp_that_is_not_a_regular_file_is_refused_with_a_hint(
    tmp_path: Path, sysroot: Path, stamp_file: StampFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sysroot / ".cleanup").mkdir()
    written = Written(monkeypatch)
    with pytest.raises(HelperError) as raised:
        machine.cleanup(stamp_file, _recorder(tmp_path, sysroot), Work("ok"))
    assert str(raised.value) == (
        f"cannot read the stamp {stamp_file.path}: it is a directory, not a regular file "
        f"({UNSAFE_HINT})"
    )
    assert written.records == []


def test_a_stamp_that_cannot_be_read_is_said_without_a_hint(
    tmp_path: Path, sysroot: Path, stamp_file: StampFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sysroot / ".cleanup").write_text("attempts=0\n")
    monkeypatch.setattr(stamp_file, "read", _refuse(errno.EIO))
    with pytest.raises(HelperError) as raised:
        machine.cleanup(stamp_file, _recorder(tmp_path, sysroot), Work("ok"))
    assert str(raised.value) == f"cannot read the stamp {stamp_file.path}: Input/output error"
    assert raised.value.hint == ""


@pytest.mark.parametrize(
    ("err", "hint"),
    [
        (
            errno.EACCES,
            "its directory must be writable by the cleanup service, or the cleanup would repeat "
            "at every boot",
        ),
        (errno.EROFS, machine.READ_ONLY_HINT),
    ],
    ids=["EACCES", "EROFS"],
)
def test_a_stamp_that_cannot_count_the_attempt_stops_before_the_work(
    tmp_path: Path,
    sysroot: Path,
    stamp_file: StampFile,
    monkeypatch: pytest.MonkeyPatch,
    err: int,
    hint: str,
) -> None:
    (sysroot / ".cleanup").write_text("attempts=0\n")
    monkeypatch.setattr(stamp_file, "write", _refuse(err))
    written = Written(monkeypatch)
    work = Work("ok")
    with pytest.raises(HelperError) as raised:
        machine.cleanup(stamp_file, _recorder(tmp_path, sysroot), work)
    assert str(raised.value) == (
        f"cannot update the stamp {stamp_file.path}: {os.strerror(err)} ({hint})"
    )
    assert (written.records, work.calls) == ([], 0)


# --- mark ---------------------------------------------------------------------------------------

NOW = "2026-01-01T00:00:00Z"

MARKS = {
    "a first mark for a deployment": (
        None, DEPLOYMENT,
        f"marked {{path}}: deployment {DEPLOYMENT} was finalized, cleanup runs at the next boot",
    ),
    "a first mark without a deployment": (
        None, None,
        "marked {path}: the finalized deployment was finalized, cleanup runs at the next boot",
    ),
    "marked again for the same deployment": (
        f"deployment={DEPLOYMENT}\nattempts=2\n", DEPLOYMENT,
        f"cleanup was already pending; updated {{path}} for deployment {DEPLOYMENT} "
        "(attempts so far: 2)",
    ),
    "marked again without a deployment": (
        "attempts=2\n", None,
        "cleanup was already pending; updated {path} for the finalized deployment "
        "(attempts so far: 2)",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("before", "deployment", "says"), list(MARKS.values()), ids=list(MARKS))
def test_mark_says_what_it_marked(
    sysroot: Path,
    stamp_file: StampFile,
    capsys: pytest.CaptureFixture[str],
    before: str | None,
    deployment: str | None,
    says: str,
) -> None:
    if before is not None:
        (sysroot / ".cleanup").write_text(before)
    capsys.readouterr()
    assert machine.mark(stamp_file, deployment, NOW) == 0
    assert _lines(capsys) == [PROG + says.format(path=stamp_file.path)]


def test_mark_makes_the_stamp_writable_just_before_writing_it(
    sysroot: Path, stamp_file: StampFile
) -> None:
    seen: list[tuple[StampFile, bool]] = []

    def writable(stamp: StampFile) -> None:
        seen.append((stamp, stamp.exists()))

    assert machine.mark(stamp_file, DEPLOYMENT, NOW, writable) == 0
    assert seen == [(stamp_file, False)]
    stamp = stamp_file.read()
    assert isinstance(stamp, Stamp)
    assert stamp.fields == {"marked": NOW, "deployment": DEPLOYMENT, "attempts": "0"}


def test_mark_that_cannot_write_the_stamp_says_why_and_what_to_do(
    stamp_file: StampFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stamp_file, "write", _refuse(errno.EACCES))
    with pytest.raises(HelperError) as raised:
        machine.mark(stamp_file, DEPLOYMENT, NOW)
    assert str(raised.value) == (
        f"cannot write the stamp {stamp_file.path}: Permission denied "
        "(permission denied; mark must run as root)"
    )
