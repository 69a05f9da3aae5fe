"""The stamp's state machine: what `mark` and `cleanup` do to the stamp and to the state file,
and in which order, as plain functions over an open stamp directory and a state directory.

The work itself (the repo prune) is a callable handed in, so that all of this runs and is tested
without root, ostree or libostree; cleanup.py and mark.py wire it to the real backends, locks
and remounts.

States on disk: no stamp, or a stamp S(n, d) with n attempts started for deployment d; and the
last record R in the state file.

mark (at shutdown, after a successful finalization):
    none      -> S(0, d)
    S(n, d)   -> S(n, d)   marked again for the same deployment: its retry budget stays
    S(n, d')  -> S(0, d)   a new deployment starts with a fresh budget
    unreadable (corrupt, not a regular file) -> S(0, d), with a warning; the rename replaces
              whatever was at the path and never follows it
cleanup (at boot, under the stamp directory's lock), with m = max_attempts:
    none      -> none, nothing recorded
    S(n>=m)   -> none, R=gave-up            the last allowed attempt never came back
    S(n<m)    -> S(n+1), R=started          durable *before* the work: a kill still counts
      work ok          -> none, then R=success      removal first: no "success" while the
                                                   stamp may still be there
      removal fails    -> S(n+1), R=failed          said so; the next boot tries again
      work fails       -> S(n+1), R=failed          n+1 < m: the next boot retries
                       -> none, R=gave-up           n+1 = m
      bug in the work  -> S(n), R=error, re-raised  a bug is not the cleanup's failure: it
                                                   uses no retry and never gives the stamp up
A kill between any two durable steps leaves one of these states, never a lost stamp of a
cleanup that has not happened (tests/helper/test_machine_*.py kill it at every step).
"""

from __future__ import annotations

import errno
import time

from . import confined, log, state
from .errors import HelperError
from .stamp import Stamp, StampFile, utc_now

# typing costs milliseconds at shutdown; only mypy reads these names.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .result import Freed

    Work = Callable[[], Freed]

# What a backend raises when the cleanup failed for a reason outside the helper (a broken repo,
# a held lock, a full disk, a missing tool): a failed attempt. Anything else it raises is a
# programming error of the helper.
WORK_FAILURES: tuple[type[BaseException], ...] = (HelperError, OSError, MemoryError)


class InternalError(HelperError):
    """A bug inside the cleanup work; the original exception is its __cause__."""


READ_ONLY_HINT = (
    "the sysroot is mounted read-only (ostree's sysroot.readonly): set sysroot-readonly: yes "
    "in the config (the helper's --sysroot-readonly), so that the cleanup remounts it in a "
    "mount namespace of its own"
)


def _stamp_hint(e: OSError, default: str) -> str:
    return READ_ONLY_HINT if e.errno == errno.EROFS else default


def mark_hint(err: OSError) -> str:
    """What to do when the stamp cannot be written at shutdown."""
    if isinstance(err, confined.Unsafe):
        return "every directory of --stamp below the sysroot must be a real directory"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the filesystem is full; free some space, or run `ostree admin cleanup` by hand"
    if err.errno == errno.EROFS:
        return "the filesystem is mounted read-only; the finalize unit must be able to write there"
    if err.errno == errno.ENOENT:
        return "its directory does not exist; check --stamp"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; mark must run as root"
    if err.errno == errno.EISDIR:
        return "a directory is in the way; remove it"
    return "check that the stamp's directory is writable"


# --- mark ---------------------------------------------------------------------------------------


def next_mark(previous: Stamp | None, deployment: str | None, now: str) -> Stamp:
    """The stamp `mark` writes over `previous` for the finalized `deployment`."""
    same_deployment = previous is not None and previous.deployment == deployment
    new = Stamp(previous.fields if previous else None)
    new.fields["marked"] = now
    if deployment:
        new.fields["deployment"] = deployment
    else:
        new.fields.pop("deployment", None)
    # The retry budget is per finalized deployment. Marking the same deployment again keeps the
    # count; a new one starts afresh, or cleanups cut short by earlier shutdowns (the unit
    # conflicts with shutdown.target) could use up its budget before it ever ran. A cleanup
    # that keeps failing is still bounded: max-attempts boots per update.
    new.attempts = previous.attempts if previous is not None and same_deployment else 0
    return new


def mark(
    stamp: StampFile,
    deployment: str | None,
    now: str | None = None,
    writable: Callable[[StampFile], None] | None = None,
) -> int:
    """Write the stamp for `deployment`. `writable` runs just before the write (the remount of a
    read-only sysroot). Raises HelperError when the stamp cannot be written."""
    try:
        previous = stamp.read()
    except OSError as e:
        log.warning(f"cannot read the existing stamp {stamp.path} ({e.strerror}); replacing it")
        previous = None
    new = next_mark(previous, deployment, now or utc_now())
    if writable is not None:
        writable(stamp)
    try:
        stamp.write(new)
    except OSError as e:
        raise HelperError(f"cannot write the stamp {stamp.path}: {e.strerror}", mark_hint(e)) from e
    what = f"deployment {deployment}" if deployment else "the finalized deployment"
    if previous is not None:
        log.info(
            f"cleanup was already pending; updated {stamp.path} for {what} "
            f"(attempts so far: {new.attempts})"
        )
    else:
        log.info(f"marked {stamp.path}: {what} was finalized, cleanup runs at the next boot")
    return 0


# --- cleanup ------------------------------------------------------------------------------------


def cleanup(
    stamp: StampFile,
    recorder: state.Recorder,
    work: Work,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """One cleanup of the stamp, the caller holding the stamp directory's lock. Returns the
    exit status; raises HelperError when the stamp cannot be read or its attempt raised
    (nothing ran), InternalError when the work has a bug."""
    max_attempts = recorder.max_attempts
    try:
        current = stamp.read()
    except OSError as e:
        raise HelperError(
            f"cannot read the stamp {stamp.path}: {e.strerror}",
            "remove it if it is not the helper's; cleanup never follows or opens anything "
            "but a regular file there"
            if isinstance(e, confined.Unsafe)
            else "",
        ) from e
    if current is None:
        log.info(f"no stamp at {stamp.path} any more: another cleanup did the work")
        return 0
    if not current.valid_attempts:
        log.warning(f"the stamp {stamp.path} has an unreadable attempts count; using 0")
    deployment = {"deployment": current.deployment} if current.deployment else {}

    previous = current.attempts
    if previous >= max_attempts:
        # The last allowed attempt never came back (killed or timed out).
        return _give_up(stamp, recorder, previous, "the last attempt did not finish", deployment)

    attempt = previous + 1
    current.attempts = attempt
    try:
        stamp.write(current)
    except OSError as e:
        raise HelperError(
            f"cannot update the stamp {stamp.path}: {e.strerror}",
            _stamp_hint(
                e,
                "its directory must be writable by the cleanup service, or the cleanup would "
                "repeat at every boot",
            ),
        ) from e
    recorder.record(state.STARTED, attempt, **deployment)

    log.debug(f"cleanup attempt {attempt} of {max_attempts}")
    started = clock()
    try:
        freed = work()
        # What the record and the log take from it, checked here: a backend that returns
        # something else has a bug too.
        objects, nbytes, backend = int(freed.objects), int(freed.bytes), str(freed.backend)
    except WORK_FAILURES as e:
        reason = str(e) if isinstance(e, HelperError) else f"{type(e).__name__}: {e}"
        return _failed(stamp, recorder, attempt, reason, deployment)
    except Exception as e:
        _internal_error(stamp, recorder, current, previous, e, deployment)
        raise InternalError(
            f"internal error in the cleanup ({type(e).__name__}: {e}); the stamp keeps "
            f"attempts={previous}: a bug is not counted as a failed cleanup",
            "run with --debug for a traceback and report it",
        ) from e
    seconds = clock() - started
    record: dict[str, object] = {
        "backend": backend,
        "objects_freed": objects,
        "bytes_freed": nbytes,
        "seconds": round(seconds, 3),
        **deployment,
    }

    try:
        stamp.remove()
    except OSError as e:
        reason = f"cleanup succeeded but the stamp {stamp.path} cannot be removed: {e.strerror}"
        recorder.record(state.FAILED, attempt, error=reason, **record)
        raise HelperError(
            reason, _stamp_hint(e, "its directory must be writable by the cleanup service")
        ) from e
    from .usage import format_bytes  # not on mark's path at shutdown

    where = recorder.context.get("repo", stamp.anchor)
    log.notice(f"freed {objects} objects ({format_bytes(nbytes)}) from {where} in {seconds:.1f}s")
    recorder.record(state.SUCCESS, attempt, **record)
    return 0


def _internal_error(
    stamp: StampFile,
    recorder: state.Recorder,
    current: Stamp,
    previous: int,
    error: Exception,
    deployment: dict[str, str],
) -> None:
    """Give the attempt back, and say so in the state file."""
    current.attempts = previous
    try:
        stamp.write(current)
    except OSError as e:
        log.warning(f"cannot give the attempt back to {stamp.path}: {e.strerror}")
    recorder.record(
        state.ERROR,
        previous,
        error=f"internal error: {type(error).__name__}: {error}",
        **deployment,
    )


def _failed(
    stamp: StampFile,
    recorder: state.Recorder,
    attempt: int,
    reason: str,
    deployment: dict[str, str],
) -> int:
    if attempt >= recorder.max_attempts:
        return _give_up(stamp, recorder, attempt, reason, deployment)
    log.error(
        f"cleanup failed (attempt {attempt} of {recorder.max_attempts}): {reason}; "
        f"the stamp {stamp.path} stays so that the next boot retries"
    )
    recorder.record(state.FAILED, attempt, error=reason, **deployment)
    return 1


def _give_up(
    stamp: StampFile,
    recorder: state.Recorder,
    attempts: int,
    reason: str,
    deployment: dict[str, str],
) -> int:
    try:
        stamp.remove()
    except OSError as e:
        message = (
            f"giving up on cleanup after {attempts} failed attempts ({reason}), but the stamp "
            f"{stamp.path} cannot be removed: {e.strerror}"
        )
        log.error(message)
        recorder.record(state.FAILED, attempts, error=message, **deployment)
        return 1
    log.error(
        f"giving up on cleanup after {attempts} failed attempts ({reason}); removed "
        f"{stamp.path}. The unused objects stay in the repo until the next update or a manual "
        f"`ostree admin cleanup`"
    )
    recorder.record(state.GAVE_UP, attempts, error=reason, **deployment)
    return 1
