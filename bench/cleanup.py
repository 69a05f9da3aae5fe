"""Benchmark: ostree-autocleanup-helper cleanup against `ostree admin cleanup`.

Builds one sysroot that needs cleanup (staged and finalized when root and namespaces allow it,
else the `deploy --no-prune` equivalent), about 50,000 objects of which a third are prunable,
then for each round makes identical copies and times, as whole processes (interpreter start-up
included), `ostree admin cleanup` on one and the helper on the others. The order alternates
between rounds so that neither side always gets the warmer page cache. Prints medians and the
ratios helper / ostree (target: at most 1.10), and checks both freed the same objects.

It does so on every platform of support.platforms (Debian 12: ostree 2022.7, Python 3.11;
Debian 13: ostree 2025.2, Python 3.13): the host's own directly, every other one by running this
script again inside that platform's Debian root (support.platform_root, built once and cached;
needs root and debootstrap), so that both sides use that platform's ostree and Python.

    .venv/bin/python bench/cleanup.py [--files 16600] [--rounds 7] [--platform debian13]...
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import platform_root as pr
from support import sysroot as sr
from support.platforms import BY_ID, PLATFORMS, Platform

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.10


def _timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one run of `argv`."""
    subprocess.run(["sync"], check=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return elapsed, cpu


def _helper(sysroot: sr.Sysroot, mode: str, state: Path) -> list[str]:
    (sysroot.path / ".cleanup").write_text("attempts=0\n")
    return [
        sys.executable,
        "-m",
        "ostree_autocleanup.helper",
        "cleanup",
        "--sysroot",
        str(sysroot.path),
        "--mode",
        mode,
        "--state-dir",
        str(state),
    ]


def _versions() -> str:
    ostree = subprocess.run(["ostree", "--version"], capture_output=True, text=True, check=False)
    found = [line.split("'")[1] for line in ostree.stdout.splitlines() if "Version:" in line]
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return f"ostree {found[0] if found else '?'}, Python {python}"


def _elsewhere(platform: Platform, args: argparse.Namespace) -> int:
    """This script run again, with the same sizes, inside `platform`'s Debian root."""
    reason = pr.unavailable_reason()
    if reason:
        print(f"== {platform.id}: skipped: {reason}", flush=True)
        return 0
    root = pr.runner_root(platform)
    scratch = Path(tempfile.mkdtemp(prefix="oac-bench-root-"))
    try:
        argv = ["python3", f"{pr.CHECKOUT}/bench/cleanup.py", "--platform", platform.id]
        argv += ["--files", str(args.files), "--rounds", str(args.rounds)]
        sys.stdout.flush()
        result = pr.run_in_root(
            root,
            REPO,
            scratch,
            argv,
            # Unbuffered: each round's line shows up as it is measured, as it does here.
            env={**pr.checkout_env(scratch), "PYTHONUNBUFFERED": "1"},
            stdout=sys.stdout.fileno(),
        )
        return result.returncode
    finally:
        sr.remove_tree(scratch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--files",
        type=int,
        default=16600,
        help="unique files per version (3 versions; default %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--platform",
        action="append",
        choices=sorted(BY_ID),
        help="measure on this platform (repeatable; default: every platform)",
    )
    args = parser.parse_args()
    here = pr.running_platform_id()
    status = 0
    for platform_id in args.platform or [p.id for p in PLATFORMS]:
        if platform_id == here:
            print(f"== {here}: {_versions()}", flush=True)
            status |= _bench(args)
        else:
            status |= _elsewhere(BY_ID[platform_id], args)
    return status


def _bench(args: argparse.Namespace) -> int:
    if sr.tools_unavailable(("ostree", "cp")):
        print("skipped: the ostree CLI is not installed", file=sys.stderr)
        return 0
    base = Path(tempfile.mkdtemp(prefix="oac-bench-"))
    try:
        started = time.perf_counter()
        if sr.staging_unavailable() is None:
            kind = "staged and finalized"
            source = sr.staged_sysroot(base / "source", n_files=args.files, file_size=64)
        else:
            kind = "deploy --no-prune"
            source = sr.needs_cleanup_sysroot(base / "source", n_files=args.files, file_size=64)
        before = sr.repo_usage(source.repo)
        print(
            f"fixture: {kind} sysroot, {before.objects} objects ({before.bytes} bytes), "
            f"built in {time.perf_counter() - started:.1f}s"
        )

        times: dict[str, list[float]] = {"ostree": [], "full": [], "prune": []}
        cpu: dict[str, list[float]] = {name: [] for name in times}
        freed: dict[str, set[int]] = {name: set() for name in times}
        for rnd in range(args.rounds):
            copies = {name: sr.copy_sysroot(source, base / f"r{rnd}-{name}") for name in times}
            order = list(times) if rnd % 2 == 0 else list(reversed(times))
            for name in order:
                copy = copies[name]
                if name == "ostree":
                    argv = ["ostree", "admin", "cleanup", "--sysroot=" + str(copy.path)]
                else:
                    argv = _helper(copy, name, base / f"state-{rnd}-{name}")
                wall, used = _timed(argv)
                times[name].append(wall)
                cpu[name].append(used)
                freed[name].add(before.objects - sr.repo_usage(copy.repo).objects)
            for copy in copies.values():
                sr.remove_tree(copy.path)
            print(
                f"round {rnd + 1}: " + ", ".join(f"{name} {times[name][-1]:.3f}s" for name in times)
            )

        base_median = statistics.median(times["ostree"])
        base_cpu = statistics.median(cpu["ostree"])
        print(
            f"ostree admin cleanup:       median {base_median:.3f}s wall, {base_cpu:.3f}s "
            f"CPU, freed {sorted(freed['ostree'])} objects"
        )
        worst = 0.0
        for mode in ("full", "prune"):
            median = statistics.median(times[mode])
            median_cpu = statistics.median(cpu[mode])
            ratio = median / base_median
            worst = max(worst, ratio)
            print(
                f"helper cleanup --mode {mode:5s} median {median:.3f}s wall, "
                f"{median_cpu:.3f}s CPU, freed {sorted(freed[mode])} objects, "
                f"ratio {ratio:.2f} wall, {median_cpu / base_cpu:.2f} CPU"
            )
        same = freed["full"] == freed["prune"] == freed["ostree"]
        print(f"same objects freed: {'yes' if same else 'NO'}")
        print(
            f"worst ratio {worst:.2f} (target <= {TARGET:.2f}): "
            f"{'ok' if worst <= TARGET else 'over target'}"
        )
        return 0 if same else 1
    finally:
        sr.remove_tree(base)
        os.sync()


if __name__ == "__main__":
    sys.exit(main())
