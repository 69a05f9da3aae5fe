"""Pacing: the policy alone, the disk's counters, the paced child process, and a real cleanup.

The policy and counter tests need nothing; the process tests fork real children (no root);
the last one paces a real cleanup of a real sysroot while another process reads its disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helper_support import built, helper, need_root

from ostree_autocleanup.helper import pacing
from ostree_autocleanup.helper.errors import HelperError
from ostree_autocleanup.helper.result import Freed
from support import sysroot as sr


def test_slices_grow_while_the_disk_stays_quiet_up_to_the_maximum() -> None:
    pacer = pacing.Pacer(slice_min=0.05, slice_max=2.0, probe=0.05, max_pause=1.0)
    assert pacer.first(busy=True) == 0.05
    slices = []
    for _ in range(4):
        pacer.start_pause()
        assert pacer.after_probe(busy=False, elapsed=0.05) is False
        slices.append(pacer.end_pause())
    assert slices == [0.2, 0.8, 2.0, 2.0]


def test_a_quiet_disk_at_the_start_gets_the_longest_slice_at_once() -> None:
    pacer = pacing.Pacer(slice_min=0.05, slice_max=2.0)
    assert pacer.first(busy=False) == 2.0


def test_a_busy_probe_keeps_the_pause_until_max_pause_then_the_slice_is_short_again() -> None:
    pacer = pacing.Pacer(slice_min=0.05, slice_max=1.0, probe=0.1, max_pause=0.35)
    pacer.slice = 1.0
    pacer.start_pause()
    goes_on = [pacer.after_probe(busy=True, elapsed=0.1) for _ in range(4)]
    # 0.1, 0.2, 0.3 paused: go on; 0.4 >= 0.35: the work gets its slice anyway.
    assert goes_on == [True, True, True, False]
    assert pacer.end_pause() == 0.05


def _probes_of_one_pause(pacer: pacing.Pacer, busy: list[bool]) -> list[float]:
    """The probe lengths a pause asks for while its probes find the disk busy as listed."""
    pacer.start_pause()
    probes = []
    for each in busy:
        probes.append(pacer.next_probe())
        if not pacer.after_probe(busy=each, elapsed=probes[-1]):
            break
    return probes


def test_probes_grow_while_the_disk_stays_busy_so_a_long_pause_wakes_a_few_times() -> None:
    pacer = pacing.Pacer(probe=0.05, max_pause=2.0)
    probes = _probes_of_one_pause(pacer, [True] * 40)
    # Four wake-ups for a whole pause (0.05, 0.2, 0.8, then what is left of the 2 s), where
    # fixed 0.05 s probes took forty.
    assert probes == pytest.approx([0.05, 0.2, 0.8, 0.95])
    assert sum(probes) == pytest.approx(pacer.max_pause)


def test_a_quiet_probe_ends_the_pause_and_the_next_pause_probes_short_again() -> None:
    pacer = pacing.Pacer(probe=0.05, max_pause=2.0)
    assert _probes_of_one_pause(pacer, [True, True, False]) == pytest.approx([0.05, 0.2, 0.8])
    assert _probes_of_one_pause(pacer, [False]) == pytest.approx([0.05])


def test_a_probe_never_outlasts_the_budget() -> None:
    pacer = pacing.Pacer(probe=0.05, max_pause=2.0, budget=0.5)
    probes = _probes_of_one_pause(pacer, [True] * 10)
    assert probes == pytest.approx([0.05, 0.2, 0.25])
    assert pacer.exhausted


def test_pauses_stop_when_their_budget_is_spent() -> None:
    pacer = pacing.Pacer(max_pause=1.0, budget=0.25)
    pacer.start_pause()
    goes_on = [pacer.after_probe(busy=True, elapsed=0.1) for _ in range(3)]
    assert goes_on == [True, True, False]
    assert pacer.exhausted


def test_a_pause_ends_as_soon_as_the_others_are_done() -> None:
    pacer = pacing.Pacer(max_pause=10.0)
    pacer.start_pause()
    assert pacer.after_probe(busy=True, elapsed=0.05) is True
    assert pacer.after_probe(busy=False, elapsed=0.05) is False
    assert pacer.end_pause() == pacing.SLICE_MIN


def test_the_devices_counters_decide_and_pressure_only_without_them() -> None:
    # Device requests by others while the work was stopped: busy, whatever the pressure says.
    assert pacing.busy_between((10, 0), (11, 0), 0.05) is True
    assert pacing.busy_between((10, 0), (10, 10**6), 0.05) is False
    # No device counters: pressure above a tenth of the probe means others waited.
    assert pacing.busy_between((None, 0), (None, 6000), 0.05) is True
    assert pacing.busy_between((None, 0), (None, 4000), 0.05) is False
    assert pacing.busy_between((None, None), (None, None), 0.05) is False


def test_counters_are_read_from_the_sysroots_device_and_from_pressure(tmp_path: Path) -> None:
    dev = os.stat(tmp_path).st_dev
    block = tmp_path / "sys" / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}"
    block.mkdir(parents=True)
    # /sys/.../stat: reads completed is field 1, writes completed field 5.
    (block / "stat").write_text("  100 0 800 10  7 0 56 3 0 20 13 0 0 0 0\n")
    (tmp_path / "proc" / "pressure").mkdir(parents=True)
    (tmp_path / "proc" / "pressure" / "io").write_text(
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=4242\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=17\n"
    )
    activity = pacing.DiskActivity(
        str(tmp_path), sys_root=str(tmp_path / "sys"), proc_root=str(tmp_path / "proc")
    )
    assert activity.sample() == (107, 4242)
    missing = pacing.DiskActivity(
        str(tmp_path), sys_root=str(tmp_path / "none"), proc_root=str(tmp_path / "none")
    )
    assert missing.sample() == (None, None)
    assert not missing.usable


class Scripted(pacing.DiskActivity):
    """A disk whose counters say 'busy' or 'quiet' as told, counting the samples taken."""

    def __init__(self, busy: bool) -> None:
        self.stat_path = "scripted"
        self.psi_path = None
        self.busy = busy
        self.count = 0
        self.samples = 0

    def read_device(self) -> int | None:
        self.samples += 1
        if self.busy:
            self.count += 1
        return self.count


def _spin(cpu_seconds: float, trace: Path) -> Freed:
    """Burn CPU, writing the wall clock of each few milliseconds of progress to `trace`."""
    start = time.process_time()
    stamps = []
    while time.process_time() - start < cpu_seconds:
        stamps.append(time.monotonic())
        spin_until = time.process_time() + 0.002
        while time.process_time() < spin_until:
            pass
    trace.write_text("\n".join(map(str, stamps)))
    return Freed(7, 4096, "test")


def _longest_gap(busy: bool, tmp_path: Path) -> tuple[float, Freed, Scripted]:
    """The longest stretch of wall time in which the paced work made no progress."""
    activity = Scripted(busy)
    pacer = pacing.Pacer(slice_min=0.05, slice_max=0.05, probe=0.05, max_pause=0.3)
    trace = tmp_path / f"trace-{busy}"
    # syncfs() of a tmpfs returns at once; of a shared disk it may take any time.
    where = "/dev/shm" if os.path.isdir("/dev/shm") else str(tmp_path)
    freed = pacing.run_paced(lambda: _spin(0.2, trace), where, pacer, activity)
    stamps = [float(line) for line in trace.read_text().split()]
    return max(b - a for a, b in zip(stamps, stamps[1:])), freed, activity


def test_the_work_is_stopped_while_others_use_the_disk(tmp_path: Path) -> None:
    quiet, freed, quiet_disk = _longest_gap(False, tmp_path)
    busy, _, busy_disk = _longest_gap(True, tmp_path)
    assert (freed.objects, freed.bytes, freed.backend) == (7, 4096, "test")
    assert quiet_disk.samples > 0 and busy_disk.samples > 0
    # Busy: every pause lasts max_pause (0.3 s, plus syncfs). Quiet: each pause is one
    # 0.05 s probe (a loaded machine's scheduler may add to both).
    assert busy >= 0.3, (quiet, busy)
    assert quiet < busy - 0.15, (quiet, busy)


def test_the_works_error_reaches_the_parent_with_its_hint(tmp_path: Path) -> None:
    def fail() -> Freed:
        raise HelperError("prune failed", "look at the repo")

    with pytest.raises(HelperError) as caught:
        pacing.run_paced(fail, str(tmp_path), activity=Scripted(False))
    assert (caught.value.message, caught.value.hint) == ("prune failed", "look at the repo")


def test_a_child_that_dies_is_a_failure_not_a_result(tmp_path: Path) -> None:
    def die() -> Freed:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    with pytest.raises(HelperError, match="killed by signal 9"):
        pacing.run_paced(die, str(tmp_path), activity=Scripted(False))


def test_the_stopped_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """A paced cleanup killed while its worker is stopped leaves no stopped orphan."""
    pidfile = tmp_path / "child.pid"
    script = (
        "import os, sys, time\n"
        "from ostree_autocleanup.helper import pacing\n"
        "from ostree_autocleanup.helper.result import Freed\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from test_helper_pacing import Scripted\n"
        "def work():\n"
        "    open(sys.argv[1], 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "    return Freed(0, 0, 'x')\n"
        "pacing.run_paced(work, sys.argv[1].rsplit('/', 1)[0], "
        "pacing.Pacer(max_pause=60), Scripted(True))\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(pidfile), str(Path(__file__).parent)],
        # In front of, not instead of, a PYTHONPATH that finds the helper (a platform's root).
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH")])
            ),
        },
    )
    try:
        deadline = time.monotonic() + 20
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.05)
        child = int(pidfile.read_text())
        time.sleep(0.3)
        assert _state(child) == "T", "the worker is not stopped while the disk is busy"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _state(child) not in ("", "Z"):
            assert time.monotonic() < deadline, f"worker {child} outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


def test_a_paced_cleanup_of_a_real_sysroot_under_load_frees_what_ostree_frees(
    fixtures_dir: Path, scratch: Path
) -> None:
    """The real thing: a helper with --pacing on, another process reading the same disk the
    whole time, frees exactly the objects `ostree admin cleanup` frees, leaves a repo fsck
    accepts, and was stopped for the reader (its log counts the pauses). Pauses of at most
    0.2 s keep the test short: with the default 2 s it runs about 40 times longer."""
    need_root()
    source = built(fixtures_dir, "cheap", n_files=3000)
    ours = sr.copy_sysroot(source, scratch / "paced")
    theirs = sr.copy_sysroot(source, scratch / "ostree")
    (ours.path / ".cleanup").write_text("attempts=0\n")
    reader_file = scratch / "reader.dat"
    reader_file.write_bytes(os.urandom(8 * 1024 * 1024))
    reader = subprocess.Popen(
        [
            "sh",
            "-c",
            f"while :; do dd if={reader_file} of=/dev/null bs=4k iflag=direct status=none; done",
        ]
    )
    try:
        result = helper(
            "--verbose",
            "cleanup",
            "--sysroot",
            str(ours.path),
            "--state-dir",
            str(scratch / "state"),
            "--pacing",
            "on",
            env={pacing.ENV: "0.05/2/0.05/0.2"},
        )
    finally:
        reader.kill()
        reader.wait()
    assert result.returncode == 0, result.stderr
    sr.ostree("admin", "cleanup", "--sysroot=" + str(theirs.path))
    assert sr.repo_usage(ours.repo) == sr.repo_usage(theirs.repo)
    assert sr.fsck(ours.repo).returncode == 0
    assert not (ours.path / ".cleanup").exists()
    pauses = [line for line in result.stderr.splitlines() if "pacing:" in line]
    assert pauses and " 0 pauses" not in pauses[-1], result.stderr


def test_the_environment_tunes_the_pacer_for_benchmarks_and_nonsense_is_ignored() -> None:
    pacer = pacing.Pacer.from_environment({pacing.ENV: "0.01/0.5/0.02/9"})
    assert (pacer.slice_min, pacer.slice_max, pacer.probe, pacer.max_pause) == (
        0.01,
        0.5,
        0.02,
        9.0,
    )
    assert pacer.probe_growth == pacing.PROBE_GROWTH
    assert pacing.Pacer.from_environment({pacing.ENV: "0.01/0.5/0.02/9/1"}).probe_growth == 1.0
    for nonsense in (
        "",
        "1/2/3",
        "a/b/c/d",
        "0/1/1/1",
        "1/1/1/99999",
        "1/1/1/1/0.5",
        "1/1/1/1/1/1",
    ):
        pacer = pacing.Pacer.from_environment({pacing.ENV: nonsense})
        assert (pacer.slice_min, pacer.max_pause) == (pacing.SLICE_MIN, pacing.MAX_PAUSE)
