"""Benchmark: what the cleanup costs a foreground reader and writer on the same disk.

A loop-mounted ext4 image (see LOOP_DIRECT_IO and --loop-direct-io) holds a sysroot that needs
cleanup (three versions of FILES unique files, the oldest one's objects unreachable) and two fio
files (fio runs under SCHED_FIFO: see FOREGROUND). Each run mounts a
fresh copy of that image (so every cleanup starts from the same blocks with a cold cache), sets
the loop device's scheduler, and runs fio beside one of:

    alone     no cleanup: fio only, for --alone-seconds
    null      no cleanup either, measured as a cleanup is (`sleep` for the whole window): its
              ratio to `alone` is what the measurement alone varies by, the floor under which
              no ratio means anything
    updater   `ostree admin cleanup` at default priority, what an updater does
    today     the helper as the unit rendered before this benchmark existed asked for it
              (IOSchedulingClass=idle, CPUSchedulingPolicy=idle, Nice=19), unpaced
    new       the helper as the project's default config renders it now (scheduling read
              from the rendered unit, pacing included)

fio: 4 KiB random reads, direct I/O, queue depth 1, plus 4 KiB O_DIRECT|O_SYNC writes at 20
per second (each one waits for the ext4 journal when the inode's time changes). Latencies come
from fio's per-I/O logs, cut to the cleanup's own window (at most --window seconds). Runs alternate their order, repeat,
and report medians; ratios are against the alone-run of the same scheduler in the same
invocation. Then the idle-disk ratio: the new cleanup's wall time with no foreground load,
paced against unpaced, same scheduler.

Last line: `io: worst p99.9 ratio R (target <= 1.25); null run N`, the worst read p99.9 ratio
of `new` over the three schedulers, and of `null` (the same ratio with nothing running).

    .venv/bin/python bench/io.py --quick   # 10,000 files per version, 1 round, 15 s windows
    .venv/bin/python bench/io.py           # 50,000 files per version (150,000 objects),
                                           # 3 rounds, 30 s windows: about an hour

--quick takes about 7 minutes on the 2-core development machine (--rounds 4: about 20). docs/io.md
has figures and their reading.

Needs root, fio, losetup, mkfs.ext4 and the ostree CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import sysroot as sr

TARGET = 1.25
IDLE_TARGET = 1.10
SCHEDULERS = ("none", "mq-deadline", "bfq")
VARIANTS = ("alone", "null", "updater", "today", "new")
TODAY = {"io-class": "idle", "cpu-policy": "idle", "nice": "19", "pacing": "off"}
WARMUP = 1.0
READ_FILE_MB = 256
BLKIO = "/sys/fs/cgroup/blkio"
# Extra variants from --try: name -> the settings of `new` with some replaced.
EXTRA: dict[str, dict[str, str]] = {}
# The loop device's own I/O to its backing file: "off" goes through the host's page cache
# (steady figures; the cleanup competes for the loop device's queue, its scheduler, the
# journal and the CPU), "on" reaches the host's disk (on a shared virtual disk its latency
# swings by milliseconds with the neighbours' load, drowning what the cleanup does).
LOOP_DIRECT_IO = "off"
# fio under SCHED_FIFO: on a shared machine the neighbours' CPU load would otherwise put
# milliseconds into every run's tail, alone or not (the cleanup's own CPU use is then not
# measured, only what it does to the I/O path). --foreground-normal for a quiet machine.
FOREGROUND = ["chrt", "--fifo", "10"]


@dataclass
class Latencies:
    """Per-I/O latencies in microseconds inside one run's window."""

    read: list[float] = field(default_factory=list)
    write: list[float] = field(default_factory=list)


@dataclass
class RunResult:
    lat: Latencies
    seconds: float  # the cleanup's wall time (the window's length for `alone`)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@contextlib.contextmanager
def mounted(image: Path, mountpoint: Path, scheduler: str | None = None) -> Iterator[str]:
    """The image on a loop device mounted at `mountpoint`; yields the loop device."""
    device = _run("losetup", "--find", "--show", f"--direct-io={LOOP_DIRECT_IO}", str(image))
    try:
        if scheduler is not None:
            name = os.path.basename(device)
            Path(f"/sys/block/{name}/queue/scheduler").write_text(scheduler)
        mountpoint.mkdir(parents=True, exist_ok=True)
        _run("mount", "-t", "ext4", device, str(mountpoint))
        try:
            yield device
        finally:
            subprocess.run(["umount", str(mountpoint)], check=False)
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


def build_image(base: Path, files: int) -> Path:
    image = base / "golden.img"
    size_mb = max(1024, files * 3 * 6 // 1024 + READ_FILE_MB + 512)
    with open(image, "wb") as f:
        f.truncate(size_mb * 1024 * 1024)
    # Lazy initialisation would leave the kernel zeroing inode tables in the background
    # during the first runs.
    _run(
        "mkfs.ext4", "-q", "-i", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(image)
    )
    mnt = base / "mnt"
    with mounted(image, mnt):
        sr.needs_cleanup_sysroot(mnt / "sysroot", n_files=files, file_size=64)
        fg = mnt / "fg"
        fg.mkdir()
        with open(fg / "read.dat", "wb") as f:
            chunk = os.urandom(1024 * 1024)
            for _ in range(READ_FILE_MB):
                f.write(chunk)
        with open(fg / "write.dat", "wb") as f:
            f.write(os.urandom(16 * 1024 * 1024))
        os.sync()
    return image


def fio_argv(mnt: Path, logs: Path, runtime: float) -> list[str]:
    common = [
        "--ioengine=psync",
        "--direct=1",
        "--bs=4k",
        "--time_based",
        f"--runtime={int(runtime) + 1}",
        "--log_avg_msec=0",
        "--randrepeat=0",
    ]
    return [
        *FOREGROUND,
        "fio",
        "--output-format=terse",
        "--output=" + str(logs / "fio.out"),
        "--name=reader",
        "--filename=" + str(mnt / "fg/read.dat"),
        "--rw=randread",
        "--write_lat_log=" + str(logs / "reader"),
        *common,
        "--name=writer",
        "--filename=" + str(mnt / "fg/write.dat"),
        "--rw=randwrite",
        "--sync=1",
        "--rate_iops=20",
        "--write_lat_log=" + str(logs / "writer"),
        *common,
    ]


def read_lat_logs(logs: Path, start_ms: float, end_ms: float) -> Latencies:
    """Per-I/O total latencies (fio's `lat` log: msec since start, nsec, direction)."""
    lat = Latencies()
    for path in logs.glob("*_lat.*.log"):
        with open(path, encoding="ascii") as f:
            for line in f:
                parts = line.split(",")
                if len(parts) < 3:
                    continue
                t = float(parts[0])
                if t < start_ms or t > end_ms:
                    continue
                (lat.read if parts[2].strip() == "0" else lat.write).append(float(parts[1]) / 1000)
    return lat


def unit_scheduling() -> dict[str, str]:
    """io-class, cpu-policy, nice, io-priority and pacing as the default config renders them."""
    text = _run(sys.executable, "-m", "ostree_autocleanup.generator", "render")
    found: dict[str, str] = {"pacing": "off", "io-priority": ""}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "IOSchedulingClass":
            found["io-class"] = value
        elif key == "IOSchedulingPriority":
            found["io-priority"] = value
        elif key == "CPUSchedulingPolicy":
            found["cpu-policy"] = value
        elif key == "Nice":
            found["nice"] = value
        elif key == "ExecStart" and "--pacing" in value:
            found["pacing"] = value.split("--pacing", 1)[1].split()[0]
    return found


def scheduled(argv: list[str], sched: dict[str, str]) -> list[str]:
    """`argv` with the unit's IOSchedulingClass=, CPUSchedulingPolicy= and Nice= applied."""
    io_class = {"realtime": "1", "best-effort": "2", "idle": "3"}[sched["io-class"]]
    ionice = ["ionice", "-c", io_class]
    if sched.get("io-priority") and io_class != "3":
        ionice += ["-n", sched["io-priority"]]
    policy = sched["cpu-policy"]
    chrt = ["chrt", "--" + {"other": "other", "batch": "batch", "idle": "idle"}[policy], "0"]
    return [*ionice, *chrt, "nice", "-n", sched["nice"], *argv]


def helper_argv(mnt: Path, pacing: str) -> list[str]:
    sysroot = mnt / "sysroot"
    (sysroot / ".cleanup").write_text("attempts=0\n")
    return [
        sys.executable,
        "-m",
        "ostree_autocleanup.helper",
        "cleanup",
        "--sysroot",
        str(sysroot),
        "--mode",
        "full",
        "--state-dir",
        str(mnt / "state"),
        "--pacing",
        pacing,
    ]


def cleanup_argv(
    variant: str, mnt: Path, new: dict[str, str], device: str, window: float
) -> list[str]:
    if variant == "null":
        return ["sleep", str(window)]
    if variant == "updater":
        return ["ostree", "admin", "cleanup", "--sysroot=" + str(mnt / "sysroot")]
    sched = TODAY if variant == "today" else EXTRA.get(variant, new)
    argv = scheduled(helper_argv(mnt, sched["pacing"]), sched)
    if sched.get("read-iops") or sched.get("write-iops"):
        argv = throttled(argv, sched, device, mnt.parent.name)
    return argv


def throttled(argv: list[str], sched: dict[str, str], device: str, prefix: str) -> list[str]:
    """`argv` in a blkio cgroup that caps its IOPS on `device`, as IOReadIOPSMax= and
    IOWriteIOPSMax= do (blk-throttle; cgroup v1's blkio here, io.max under cgroup v2)."""
    rdev = os.stat(device).st_rdev
    dev = f"{os.major(rdev)}:{os.minor(rdev)}"
    group = Path(tempfile.mkdtemp(prefix=prefix + "-", dir=BLKIO))
    for key, name in (("read-iops", "read_iops_device"), ("write-iops", "write_iops_device")):
        if sched.get(key):
            (group / f"blkio.throttle.{name}").write_text(f"{dev} {sched[key]}\n")
    script = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
    return ["sh", "-c", script, str(group), *argv]


def one_run(
    golden: Path,
    base: Path,
    scheduler: str,
    variant: str,
    new: dict[str, str],
    alone_seconds: float,
    with_fio: bool = True,
    window: float = 30.0,
) -> RunResult:
    image = base / "run.img"
    _run("cp", "--sparse=always", str(golden), str(image))
    os.sync()
    mnt = base / "run"
    logs = Path(tempfile.mkdtemp(prefix="logs-", dir=base))
    try:
        with mounted(image, mnt, scheduler) as device:
            fio = None
            if with_fio:
                fio = subprocess.Popen(fio_argv(mnt, logs, 900), stdout=subprocess.DEVNULL)
            started = time.monotonic()
            try:
                time.sleep(WARMUP if with_fio else 0)
                t0 = time.monotonic()
                if variant == "alone":
                    time.sleep(alone_seconds)
                    t1 = time.monotonic()
                else:
                    sched = TODAY if variant == "today" else EXTRA.get(variant, new)
                    env = dict(os.environ)
                    if sched.get("pacing-params"):
                        env["OSTREE_AUTOCLEANUP_PACING"] = sched["pacing-params"]
                    cleanup = subprocess.Popen(
                        cleanup_argv(variant, mnt, new, device, window),
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        cleanup.wait(window if fio is not None else None)
                    if cleanup.poll() is not None:
                        # What a cleanup dirtied and left to writeback is part of its cost: it
                        # is flushed inside the measured time, for every variant alike (a paced
                        # cleanup flushes at each pause, an unpaced one leaves it all to later).
                        _run("sync", "-f", str(mnt))
                    t1 = time.monotonic()
                    if fio is not None:
                        fio.send_signal(signal.SIGINT)
                        fio.wait()
                    # A paced cleanup that outlived the window finishes on a quiet disk.
                    _, err = cleanup.communicate()
                    if cleanup.returncode != 0:
                        raise SystemExit(f"{variant} cleanup failed: {err.strip()}")
                total = time.monotonic() - t0
                lat = Latencies()
                if fio is not None:
                    fio.send_signal(signal.SIGINT)  # the alone-run's fio is still running
                    fio.wait()
                    lat = read_lat_logs(logs, (t0 - started) * 1000, (t1 - started) * 1000)
                return RunResult(lat, total if variant != "alone" else t1 - t0)
            finally:
                # Never leave fio holding the mount (a failed cleanup, an interrupt).
                if fio is not None and fio.poll() is None:
                    fio.kill()
                    fio.wait()
    finally:
        shutil.rmtree(logs, ignore_errors=True)
        image.unlink()
        for group in Path(BLKIO).glob(f"{base.name}*"):
            group.rmdir()


def fmt_row(name: str, results: list[RunResult], alone: list[RunResult] | None) -> str:
    cells = []
    for kind in ("read", "write"):
        for q in (50, 99, 99.9):
            cells.append(statistics.median(percentile(getattr(r.lat, kind), q) for r in results))
    ratio = ""
    if alone is not None:
        base = statistics.median(percentile(r.lat.read, 99.9) for r in alone)
        wbase = statistics.median(percentile(r.lat.write, 99.9) for r in alone)
        ratio = f" {cells[2] / base:6.2f}x {cells[5] / wbase:6.2f}x"
    secs = statistics.median(r.seconds for r in results)
    return (
        f"  {name:8s} {secs:7.1f}s "
        + " ".join(f"{c:8.0f}" for c in cells)
        + ratio
        + f"  (n={len(results)}, reads {statistics.median(len(r.lat.read) for r in results):.0f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 files per version, 1 round")
    parser.add_argument("--files", type=int, help="unique files per version (default 50,000)")
    parser.add_argument("--rounds", type=int, help="rounds per scheduler (default 3)")
    parser.add_argument("--schedulers", default=",".join(SCHEDULERS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--dir", default="/var/tmp", help="where the images go")
    parser.add_argument(
        "--window",
        type=float,
        help="measure the foreground during at most this many seconds of a cleanup (default 30, "
        "15 with --quick); a paced cleanup that runs longer then finishes without foreground load",
    )
    parser.add_argument(
        "--alone-seconds", type=float, default=10.0, help="length of the alone-run's window"
    )
    parser.add_argument(
        "--loop-direct-io", action="store_true", help="the loop device bypasses the host's cache"
    )
    parser.add_argument(
        "--try",
        action="append",
        default=[],
        dest="tries",
        metavar="NAME:KEY=VALUE,...",
        help="one more variant: the new settings with these replaced (io-class, io-priority, "
        "cpu-policy, nice, pacing, pacing-params=SLICE_MIN/SLICE_MAX/PROBE/MAX_PAUSE, "
        "read-iops, write-iops), "
        "e.g. unpaced:pacing=off",
    )
    parser.add_argument(
        "--foreground-normal",
        action="store_true",
        help="run fio at normal priority (default: SCHED_FIFO, see FOREGROUND)",
    )
    args = parser.parse_args()
    if args.foreground_normal:
        FOREGROUND.clear()
    global LOOP_DIRECT_IO
    if args.loop_direct_io:
        LOOP_DIRECT_IO = "on"
    files = args.files or (10000 if args.quick else 50000)
    rounds = args.rounds or (1 if args.quick else 3)
    window = args.window or (15.0 if args.quick else 30.0)
    schedulers = args.schedulers.split(",")
    variants = [v for v in VARIANTS if v in args.variants.split(",")]

    missing = [t for t in ("fio", "losetup", "mkfs.ext4", "ostree") if shutil.which(t) is None]
    if missing or os.geteuid() != 0:
        print(f"skipped: needs root and {', '.join(missing) or 'nothing else'}", file=sys.stderr)
        return 0
    new = unit_scheduling()
    for spec in args.tries:
        name, _, pairs = spec.partition(":")
        EXTRA[name] = dict(new, **dict(p.split("=", 1) for p in pairs.split(",") if p))
        variants.append(name)
    base = Path(tempfile.mkdtemp(prefix="oac-io-bench-", dir=args.dir))
    try:
        started = time.monotonic()
        golden = build_image(base, files)
        print(
            f"fixture: {files * 3} payload objects ({files} unreachable) on a loop ext4 (direct I/O "
            f"{LOOP_DIRECT_IO}), built in {time.monotonic() - started:.0f}s; new = {new}"
        )
        results: dict[tuple[str, str], list[RunResult]] = {}
        worst_of = {"new": 0.0, "null": 0.0}
        print(
            "                 time  read p50      p99    p99.9  write p50    p99    p99.9"
            "  (us)  read/write p99.9 ratio"
        )
        for scheduler in schedulers:
            for rnd in range(rounds):
                # Alternate the order so that no variant always runs first or last.
                order = list(variants) if rnd % 2 == 0 else list(reversed(variants))
                for variant in order:
                    res = one_run(
                        golden, base, scheduler, variant, new, args.alone_seconds, True, window
                    )
                    results.setdefault((scheduler, variant), []).append(res)
            print(f"{scheduler}:")
            alone = results.get((scheduler, "alone"))
            for variant in variants:
                rows = results.get((scheduler, variant))
                if rows:
                    print(fmt_row(variant, rows, alone if variant != "alone" else None))
            if alone:
                base_p = statistics.median(percentile(r.lat.read, 99.9) for r in alone)
                for variant in ("new", "null"):
                    if results.get((scheduler, variant)):
                        ratio = (
                            statistics.median(
                                percentile(r.lat.read, 99.9) for r in results[(scheduler, variant)]
                            )
                            / base_p
                        )
                        worst_of[variant] = max(worst_of[variant], ratio)
            sys.stdout.flush()

        idle_ratio = idle_disk_ratio(
            golden, base, schedulers[:1] if args.quick else schedulers, rounds, new
        )
        print(f"idle disk: paced/unpaced wall time {idle_ratio:.2f} (target <= {IDLE_TARGET:.2f})")
        # The null run's ratio says how far the measurement itself moves a ratio in this run.
        null = f"; null run {worst_of['null']:.2f}" if worst_of["null"] else ""
        print(f"io: worst p99.9 ratio {worst_of['new']:.2f} (target <= {TARGET:.2f}){null}")
        return 0
    finally:
        for point in sr.mounts_under(base):
            subprocess.run(["umount", point], check=False)
        shutil.rmtree(base, ignore_errors=True)


def idle_disk_ratio(
    golden: Path, base: Path, schedulers: list[str], rounds: int, new: dict[str, str]
) -> float:
    """The new cleanup's wall time with no foreground load: paced over unpaced (medians)."""
    ratios = []
    for scheduler in schedulers:
        times: dict[str, list[float]] = {"on": [], "off": []}
        for rnd in range(max(rounds, 2)):
            order = ["off", "on"] if rnd % 2 == 0 else ["on", "off"]
            for pacing in order:
                sched = dict(new, pacing=pacing)
                res = one_run(golden, base, scheduler, f"idle-{pacing}", sched, 0, with_fio=False)
                times[pacing].append(res.seconds)
        ratio = statistics.median(times["on"]) / statistics.median(times["off"])
        print(
            f"idle disk {scheduler}: unpaced {statistics.median(times['off']):.2f}s, "
            f"paced {statistics.median(times['on']):.2f}s, ratio {ratio:.2f}"
        )
        ratios.append(ratio)
    return max(ratios)


if __name__ == "__main__":
    sys.exit(main())
