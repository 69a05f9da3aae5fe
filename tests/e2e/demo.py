"""See it work: one update cycle of ostree-autocleanup on a throwaway ostree-booted system.

    .venv/bin/python tests/see_it_work.py [--platform debian12|debian13]
                                            (as root; the launcher only calls main())

It builds a Debian 12 (or 13) OSTree system in a loop-mounted image with this checkout installed as a
package would install it, boots it with systemd as PID 1 under systemd-nspawn, stages an
update, powers off, boots twice more, and says at each step what happened, in words, from what
the system itself reports: its units, its journal, ``ostree-autocleanup status``, its sysroot.
Everything it made is removed at the end, also after ^C or SIGTERM.

The work is the end-to-end suite's (support.container, e2e.system, e2e.project); this module
only drives it and narrates. It is a tool for people trying the project and for development,
not part of what the project installs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from support.container import (
    OS_NAME,
    Container,
    ContainerError,
    cached_rootfs,
    remove_tree,
    unavailable_reason,
)
from support.platforms import BY_ID, DEBIAN_12, Platform

from .project import build_wheel, cli_command
from .system import BRANCH, PAYLOAD_FILES, System

SERVICE = "ostree-autocleanup.service"
FINALIZE = "ostree-finalize-staged.service"
STAMP = "/sysroot/.cleanup"
MIB = 1024 * 1024
STAGE_TIMEOUT = 30.0


class DemoSystem(System):
    """Releases big enough that what a cleanup frees reads in MiB rather than in bytes."""

    payload_file_bytes = MIB


class DemoError(Exception):
    """A step did not do what it should; the message says which, with the evidence."""


class Narrator:
    """Timed lines for a person watching, details indented under their step."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()

    def say(self, text: str, *details: str) -> None:
        elapsed = time.monotonic() - self.started
        lines = [f"[{elapsed:5.1f}s] {text}"] + [f"         {detail}" for detail in details]
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


def mib(nbytes: int) -> str:
    return f"{nbytes / MIB:.1f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="see_it_work.py",
        description="Run one whole ostree-autocleanup cycle in a throwaway ostree-booted "
        "container (stage, shut down, stamp, boot, cleanup, boot) and say what happens.",
    )
    parser.add_argument(
        "--tmpdir",
        default="/var/tmp",
        metavar="DIR",
        help="where to make the scratch directory with the sparse 4 GiB system image "
        "(default: %(default)s); it is removed at the end",
    )
    parser.add_argument(
        "--platform",
        choices=sorted(BY_ID),
        default=DEBIAN_12.id,
        help="the OS of the test system: Debian 12 (ostree 2022.7, systemd 252) or Debian 13 "
        "(ostree 2025.2, systemd 257) (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    platform = BY_ID[args.platform]
    narrator = Narrator(sys.stdout)

    reason = unavailable_reason()
    if reason is None:
        try:
            cli_command()  # installs the units into the image: needed before minutes of work
        except RuntimeError:
            reason = (
                f"no ostree-autocleanup next to {sys.executable}: run it with the venv's "
                "python after the README's first command (.venv/bin/python tests/see_it_work.py)"
            )
    if reason is not None:
        sys.stderr.write(f"see_it_work: cannot run here: {reason}\n")
        return 2
    # ^C unwinds through the cleanup below even when started where SIGINT is ignored (a
    # background job of a script), and so does a SIGTERM (a CI timeout, `kill`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)

    workdir = Path(tempfile.mkdtemp(prefix="ostree-autocleanup-demo-", dir=args.tmpdir))
    systems: list[System] = []
    status = 0
    try:
        run_cycle(narrator, workdir, systems, platform)
    except KeyboardInterrupt:
        narrator.say("Interrupted: stopping the container and removing what was made.")
        status = 130
    except (DemoError, ContainerError, RuntimeError) as e:
        narrator.say(f"FAILED: {e}")
        status = 1
    finally:
        # A second ^C must not leave an image mounted or a container running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for system in systems:
            system.close()
        remove_tree(workdir)
        lingering = wait_for_loop_devices(workdir)
        narrator.say(
            f"Cleaned up: no container left running, image unmounted, {workdir} removed."
            + (f" Still attached: {', '.join(lingering)}." if lingering else "")
        )
    if status == 0:
        narrator.say("Done.")
    return status


def loop_devices(workdir: Path) -> list[str]:
    """Loop devices whose backing file lies in workdir (deleted or not)."""
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        with contextlib.suppress(OSError):
            if backing.read_text().startswith(f"{workdir}/"):
                found.append(f"/dev/{backing.parts[3]}")
    return sorted(found)


def wait_for_loop_devices(workdir: Path, timeout: float = 30.0) -> list[str]:
    """Wait until the image's loop device is released; what is still attached after timeout.

    After a power cut, the killed container's mount namespace can outlive its processes for
    a moment; the loop device (and the deleted image's disk space) goes only with it.
    """
    deadline = time.monotonic() + timeout
    while (found := loop_devices(workdir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def describe(platform: Platform) -> str:
    return f"{platform.name} (ostree {platform.ostree})"


def run_cycle(
    narrator: Narrator, workdir: Path, systems: list[System], platform: Platform = DEBIAN_12
) -> None:
    say = narrator.say
    say(
        f"Getting the test system's {describe(platform)} root file system",
        "(the first run builds it with debootstrap: a minute or two; later runs reuse it).",
    )
    rootfs = cached_rootfs(platform)
    say(f"Root file system ready: {rootfs}")

    prebuilt = os.environ.get("OSTREE_AUTOCLEANUP_E2E_WHEEL")
    if prebuilt:
        wheel = Path(prebuilt)
        say(f"Using the wheel OSTREE_AUTOCLEANUP_E2E_WHEEL names: {wheel}")
    else:
        wheel = build_wheel(workdir / "wheel")
        say(f"Built a wheel of this checkout: {wheel.name}")

    say(
        "Making the OSTree system: a sparse 4 GiB ext4 image, loop-mounted, with an OSTree sysroot."
    )
    system = DemoSystem.create(workdir / "system", rootfs, wheel, platform=platform)
    systems.append(system)
    say(
        f"OSTree system ready: {describe(platform)} with this project installed as a package would install it",
        "(`ostree-autocleanup install --root` wrote and enabled the units in the image);",
        "releases 1 and 2 are deployed: 2 boots by default, 1 is its rollback.",
    )
    # Published before the boot, as an update server would have it when the updater asks.
    system.release(3)

    say("Booting release 2 (systemd as PID 1 under systemd-nspawn)...")
    with system.boot() as container:
        booted(container, say)
        skipped = container.show(SERVICE, "ConditionResult")["ConditionResult"] == "no"
        say(
            "Booted release 2. "
            + (
                f"{SERVICE} was skipped: no stamp, nothing to clean."
                if skipped
                else f"{SERVICE} ran, although nothing was pending."
            )
        )
        stage(container, platform)
        say(
            f"Staged release 3 ({PAYLOAD_FILES} new files of "
            f"{mib(DemoSystem.payload_file_bytes)}) with `ostree admin deploy --stage`;",
            f"{FINALIZE} is waiting to finalize it at shutdown.",
        )
        say(
            "Shutting down: ostree finalizes release 3 and deletes release 1's deployment, "
            "then our drop-in",
            "writes the stamp (its ExecStop= line runs only when finalization succeeded).",
        )
        container.poweroff()

    stamp = system.stamp(STAMP[len("/sysroot") :])
    if not stamp.exists():
        raise DemoError(f"no stamp {STAMP} after the shutdown:\n{shutdown_journal(system)}")
    fields = dict(line.split("=", 1) for line in stamp.read_text().splitlines() if "=" in line)
    say(
        f"Stamp written: {STAMP} (marked={fields.get('marked', '?')}).",
        f"Release 1's deployment is gone, but {unreachable(system)} still in the repository:",
        "without a cleanup they would stay there until the next update.",
    )
    objects_before = system.image.objects()

    say("Booting release 3...")
    with system.boot() as container:
        booted(container, say)
        service = container.show(SERVICE, "ConditionResult", "Result")
        target, cleanup_end = boot_clock(container)
        # Nothing waits for the cleanup; on a fast machine it may still end before the target.
        after = " (after the boot was complete)" if cleanup_end > target else ""
        say(
            f"Booted release 3: multi-user.target was reached {target:.1f}s into the boot.",
            f"{SERVICE} ran in the background at low priority, with nothing waiting for it,",
            f"and ended at {cleanup_end:.1f}s{after}.",
        )
        if service != {"ConditionResult": "yes", "Result": "success"}:
            raise DemoError(f"the cleanup did not succeed: {service}\n{container.journal()}")
        report = status_json(container)
        last = report["cleanup"]["last"] or {}
        freed = int(last.get("objects_freed", 0))
        freed_bytes = int(last.get("bytes_freed", 0))
        say(
            f"Cleanup freed {freed} objects ({mib(freed_bytes)}), says `ostree-autocleanup "
            "status`; in the journal:",
            *journal_lines(container, "freed"),
        )
        still_there = container.run(["test", "-e", STAMP], check=False).returncode == 0
        if still_there or report["cleanup"]["pending"]:
            raise DemoError(f"the stamp {STAMP} is still there after the cleanup")
        say(f"Stamp removed: {STAMP} is gone, so the next boot has nothing to do.")
        container.poweroff()

    gone = objects_before - system.image.objects()
    if len(gone) != freed:
        raise DemoError(
            f"the helper reported {freed} objects freed, the repository lost {len(gone)}"
        )
    say(f"Seen from outside: the repository holds exactly {len(gone)} objects fewer.")

    say("Booting release 3 again...")
    with system.boot() as container:
        booted(container, say)
        service = container.show(SERVICE, "ConditionResult", "ExecMainStartTimestampMonotonic")
        if service != {"ConditionResult": "no", "ExecMainStartTimestampMonotonic": "0"}:
            raise DemoError(f"{SERVICE} was not skipped at the boot after the cleanup: {service}")
        say(
            f"Next boot skipped: {SERVICE} did not start",
            f"(ConditionPathExists={STAMP} is false: no stamp).",
        )
        container.poweroff()


def booted(container: Container, say: Callable[..., None]) -> None:
    """Wait for every start job; say so when the system came up degraded, and with what."""
    state = container.wait_until_booted()
    if state != "running":
        failed = container.run(
            ["systemctl", "--failed", "--plain", "--no-legend", "--no-pager"], check=False
        ).stdout
        units = [line.split()[0] for line in failed.splitlines() if line.strip()]
        say(f"(the system is {state}; failed units: {', '.join(units) or 'none'})")


def stage(container: Container, platform: Platform) -> None:
    """Stage the newest release and wait until its finalize unit is armed for shutdown.

    ostree before 2025.2 starts the finalize unit through a path unit; a poweroff issued before
    that unit reacted would skip finalization (the race for which ostree 2025.2 dropped it).
    2025.2 starts it before `deploy --stage` returns, so there the wait ends at once.
    """
    container.run(["ostree", "admin", "deploy", "--stage", f"--os={OS_NAME}", BRANCH])
    if not platform.finalize_path_unit:
        state = container.show(FINALIZE, "ActiveState")["ActiveState"]
        if state != "active":
            raise DemoError(f"{FINALIZE} is {state} right after staging, not active")
        return
    deadline = time.monotonic() + STAGE_TIMEOUT
    while container.show(FINALIZE, "ActiveState")["ActiveState"] != "active":
        if time.monotonic() > deadline:
            raise DemoError(f"{FINALIZE} did not start within {STAGE_TIMEOUT:.0f}s of staging")
        time.sleep(0.05)


def unreachable(system: System) -> str:
    """How many objects a prune would delete from the repository now, as ostree counts them.

    Depth 0 as `ostree admin cleanup` prunes: a release's parent commit is history, not a
    deployment, and stays only while a ref or a deployment needs it.
    """
    output = system.image.ostree(
        f"--repo={system.image.repo}", "prune", "--refs-only", "--depth=0", "--no-prune"
    )
    match = re.search(r"Would delete: (\d+) objects?", output)
    if match is None:
        raise DemoError(f"cannot read what a prune would delete from: {output!r}")
    return f"{match.group(1)} of its objects are"


def boot_clock(container: Container) -> tuple[float, float]:
    """Seconds from the container's systemd start to multi-user.target and to the cleanup's end."""
    start = container.run(
        ["systemctl", "show", "--value", "-p", "UserspaceTimestampMonotonic"]
    ).stdout.strip()
    target = container.monotonic("multi-user.target", "ActiveEnterTimestampMonotonic")
    cleanup_end = container.monotonic(SERVICE, "ExecMainExitTimestampMonotonic")
    return (target - int(start)) / 1e6, (cleanup_end - int(start)) / 1e6


def status_json(container: Container) -> dict[str, Any]:
    """``ostree-autocleanup status --json`` on the system itself."""
    result = container.run(["ostree-autocleanup", "status", "--json"])
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def journal_lines(container: Container, word: str) -> list[str]:
    out = container.run(
        ["journalctl", "-b", "-u", SERVICE, "-o", "short", "--no-pager", "--no-hostname"],
        check=False,
    ).stdout
    lines = [f"  {line.strip()}" for line in out.splitlines() if word in line]
    return lines or ["  (no line of the helper mentions it)"]


def shutdown_journal(system: System) -> str:
    return system.image.journal("-b", "-1", "-u", FINALIZE, "-u", SERVICE, "-o", "short")[-4000:]
