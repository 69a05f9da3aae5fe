"""Pacing: the cleanup gives the disk to whoever else wants it.

I/O scheduling classes cannot do this alone: the `none` scheduler ignores them, and the
deletions' metadata is written by the filesystem's journal thread on everyone's behalf. Worse,
an idle-class cleanup that is starved while it holds a journal handle stalls every other
writer's commit (measured in bench/io.py). So the helper paces itself from outside the work:
the work runs in a child process, and this parent lets it run in slices. Between slices the
child is stopped (SIGSTOP takes effect on the way back to user space, so it holds no
filesystem lock while stopped), what it dirtied is flushed with syncfs() right away (a small
journal commit now rather than a big one later, under somebody's read), and the disk is
watched for a short probe: while others read or write the sysroot's device (its request
counters in /sys/dev/block), or, where the device cannot be found, while tasks wait for I/O
(/proc/pressure/io), the child stays stopped, up to MAX_PAUSE at a time so that the cleanup
always finishes. Slices start short and grow while the disk stays quiet, so that an idle
disk pays little for the probes; probes grow while it stays busy, so that a long pause wakes
the CPU a few times, not twenty times a second (bench/io.py: a process that only woke every
50 ms to read the disk's counters raised a foreground reader's p99.9 latency by 1.4x).

The order of the deletions is the backend's own (commits first), so a kill at any point,
stopped or running, leaves what an unpaced kill leaves. The child dies with the parent
(PR_SET_PDEATHSIG), even while stopped.

The policy (`Pacer`) is separate from the processes and clocks so that it can be tested alone.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import time
from typing import Callable

from . import log
from .errors import HelperError
from .result import Freed

SLICE_MIN = 0.05
SLICE_MAX = 2.0
# How much longer the next slice runs after a quiet pause: few pauses on an idle disk.
GROWTH = 4
# Pauses add up to at most this much; then the work runs to its end unpaced. Under a disk that
# is never quiet, pacing gives the work about 1/40 of the time: without a budget a cleanup
# of a minute would outlast the unit's 30-minute timeout and be retried at every boot.
PAUSE_BUDGET = 600.0
PROBE = 0.05
# How much longer each probe of a pause is than the one before while the disk stays busy: a
# pause of MAX_PAUSE takes four probes (0.05, 0.2, 0.8, then the rest) instead of forty.
PROBE_GROWTH = 4.0
MAX_PAUSE = 2.0
# Requests that others may issue during a probe without counting as busy: a stray atime or
# log write is not the user waiting.
QUIET_REQUESTS = 0
# Share of a probe during which some task waited for I/O, above which the disk counts as busy
# (only used where the sysroot's device has no counters to read).
PSI_BUSY_SHARE = 0.10


ENV = "OSTREE_AUTOCLEANUP_PACING"


class Pacer:
    """How long the next slice runs, and whether a pause goes on.

    The first slice is SLICE_MAX when a probe before the work found the disk quiet, else
    SLICE_MIN. `slice` grows GROWTH times after a pause whose probes found the disk quiet
    (nobody is using it: work in longer slices, probe less often) and falls back to
    SLICE_MIN after one that found it busy (someone is: leave them the disk within a short
    slice).
    """

    def __init__(
        self,
        slice_min: float = SLICE_MIN,
        slice_max: float = SLICE_MAX,
        probe: float = PROBE,
        max_pause: float = MAX_PAUSE,
        probe_growth: float = PROBE_GROWTH,
        budget: float = PAUSE_BUDGET,
    ) -> None:
        self.budget = budget
        self.total_paused = 0.0
        self.slice_min = slice_min
        self.slice_max = slice_max
        self.probe = probe
        self.max_pause = max_pause
        self.probe_growth = probe_growth
        self.slice = slice_min
        self._paused = 0.0
        self._busy_seen = False
        self._probe = probe

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Pacer:
        """The defaults, or SLICE_MIN/SLICE_MAX/PROBE/MAX_PAUSE seconds and optionally
        PROBE_GROWTH from ENV (for bench/io.py's trials; anything else is ignored)."""
        text = (os.environ if environ is None else environ).get(ENV, "")
        try:
            values = [float(v) for v in text.split("/")]
        except ValueError:
            values = []
        # A growth under 1 would shrink the probes of a busy pause towards zero.
        growth_ok = len(values) == 4 or (len(values) == 5 and values[4] >= 1)
        if growth_ok and all(0 < v <= 3600 for v in values):
            return cls(*values)
        if text:
            log.warning(
                f"pacing: ignoring {ENV}={text!r} (want four seconds a/b/c/d, and optionally a "
                "probe growth of at least 1)"
            )
        return cls()

    def first(self, busy: bool) -> float:
        """The first slice's length, after a probe before the work started."""
        self.slice = self.slice_min if busy else self.slice_max
        return self.slice

    def start_pause(self) -> None:
        self._paused = 0.0
        self._busy_seen = False
        self._probe = self.probe

    def next_probe(self) -> float:
        """How long the next probe of this pause lasts: `probe` at first (a quiet disk is
        back to work within it), `probe_growth` times the last one after a busy probe, never
        past max_pause or the budget."""
        left = min(self.max_pause - self._paused, self.budget - self.total_paused)
        return max(min(self._probe, left), 0.0)

    def after_probe(self, busy: bool, elapsed: float) -> bool:
        """Record one probe; True when the pause must go on (others use the disk and the
        pause is still shorter than max_pause)."""
        self._paused += elapsed
        self.total_paused += elapsed
        if busy:
            self._busy_seen = True
            self._probe *= self.probe_growth
        return busy and self._paused < self.max_pause and not self.exhausted

    @property
    def exhausted(self) -> bool:
        """The pause budget is spent: no more pauses."""
        return self.total_paused >= self.budget

    def end_pause(self) -> float:
        """The next slice's length."""
        if self._busy_seen:
            self.slice = self.slice_min
        else:
            self.slice = min(self.slice * GROWTH, self.slice_max)
        return self.slice


class DiskActivity:
    """Counters of what everybody does to the disk that holds `path`."""

    def __init__(self, path: str, sys_root: str = "/sys", proc_root: str = "/proc") -> None:
        dev = os.stat(path).st_dev
        self.stat_path: str | None = f"{sys_root}/dev/block/{os.major(dev)}:{os.minor(dev)}/stat"
        self.psi_path: str | None = f"{proc_root}/pressure/io"
        if self.read_device() is None:
            self.stat_path = None
        if self.read_psi() is None:
            self.psi_path = None

    @property
    def usable(self) -> bool:
        return self.stat_path is not None or self.psi_path is not None

    def read_device(self) -> int | None:
        """Reads plus writes completed on the device, or None when it cannot be read."""
        if self.stat_path is None:
            return None
        try:
            with open(self.stat_path, encoding="ascii") as f:
                fields = f.read().split()
            return int(fields[0]) + int(fields[4])
        except (OSError, ValueError, IndexError):
            return None

    def read_psi(self) -> int | None:
        """Microseconds during which some task waited for I/O, or None."""
        if self.psi_path is None:
            return None
        try:
            with open(self.psi_path, encoding="ascii") as f:
                first = f.readline().split()
            return int(first[-1].partition("=")[2])
        except (OSError, ValueError, IndexError):
            return None

    def sample(self) -> tuple[int | None, int | None]:
        return (self.read_device(), self.read_psi())


def busy_between(
    before: tuple[int | None, int | None],
    after: tuple[int | None, int | None],
    seconds: float,
) -> bool:
    """Whether others used the disk between two samples taken while the work was stopped.

    The device's counters decide where they exist (they see only this disk; pressure is
    system-wide and would stop the cleanup for another disk's load); pressure otherwise.
    """
    dev_before, psi_before = before
    dev_after, psi_after = after
    if dev_before is not None and dev_after is not None:
        return dev_after - dev_before > QUIET_REQUESTS
    if psi_before is not None and psi_after is not None and seconds > 0:
        return (psi_after - psi_before) / 1e6 > PSI_BUSY_SHARE * seconds
    return False


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _child(work: Callable[[], Freed], out: int) -> None:
    """Runs in the forked child: does the work, writes its outcome as JSON, never returns."""
    code = 0
    try:
        _die_with_parent()
        try:
            freed = work()
            outcome: dict[str, object] = {
                "objects": freed.objects,
                "bytes": freed.bytes,
                "backend": freed.backend,
            }
        except HelperError as e:
            outcome = {"error": e.message, "hint": e.hint}
            code = 1
        except BaseException as e:
            outcome = {"error": f"the cleanup failed: {type(e).__name__}: {e}", "hint": ""}
            code = 1
        data = json.dumps(outcome).encode()
        while data:
            data = data[os.write(out, data) :]
    finally:
        os._exit(code)


def _syncfs(fd: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syncfs(fd)
    except (OSError, AttributeError):
        os.sync()


def run_paced(
    work: Callable[[], Freed],
    path: str,
    pacer: Pacer | None = None,
    activity: DiskActivity | None = None,
) -> Freed:
    """`work()` in a child process, paced against the disk that holds `path`."""
    pacer = pacer or Pacer.from_environment()
    activity = activity or DiskActivity(path)
    if not activity.usable:
        log.info("pacing: neither the disk's counters nor /proc/pressure/io can be read")
        return work()
    before = activity.sample()
    t0 = time.monotonic()
    time.sleep(pacer.probe)
    elapsed = time.monotonic() - t0
    pacer.first(busy_between(before, activity.sample(), elapsed))
    dirfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(work, write_end)
    os.close(write_end)
    chunks: list[bytes] = []
    status: int | None = None
    stopped = False
    pauses = 0
    paused_for = 0.0
    try:
        while True:
            ready, _, _ = select.select(
                [read_end], [], [], None if pacer.exhausted else pacer.slice
            )
            if ready:
                data = os.read(read_end, 65536)
                if not data:
                    break
                chunks.append(data)
                continue
            os.kill(pid, signal.SIGSTOP)
            _, st = os.waitpid(pid, os.WUNTRACED)
            if not os.WIFSTOPPED(st):
                # It ended between the slice's end and the signal: read what it wrote.
                status = st
                chunks.append(_read_all(read_end))
                break
            stopped = True
            started = time.monotonic()
            _syncfs(dirfd)
            pacer.start_pause()
            pauses += 1
            while True:
                before = activity.sample()
                t0 = time.monotonic()
                time.sleep(pacer.next_probe())
                elapsed = time.monotonic() - t0
                if not pacer.after_probe(busy_between(before, activity.sample(), elapsed), elapsed):
                    break
            pacer.end_pause()
            paused_for += time.monotonic() - started
            os.kill(pid, signal.SIGCONT)
            stopped = False
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)
        os.close(read_end)
        os.close(dirfd)
    if status is None:
        _, status = os.waitpid(pid, 0)
    log.info(f"pacing: {pauses} pauses, {paused_for:.2f}s paused")
    return _outcome(b"".join(chunks), status)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _outcome(data: bytes, status: int) -> Freed:
    try:
        outcome = json.loads(data.decode()) if data else {}
    except ValueError:
        outcome = {}
    if "error" in outcome:
        raise HelperError(str(outcome["error"]), str(outcome.get("hint", "")))
    if "objects" not in outcome:
        raise HelperError(f"the cleanup process ended without a result ({_describe(status)})")
    return Freed(int(outcome["objects"]), int(outcome["bytes"]), str(outcome["backend"]))


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
