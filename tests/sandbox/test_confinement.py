"""What the sandbox forbids, and that each privilege it keeps is needed.

Writes are probed from inside the rendered service's own sandbox (a drop-in swaps only its
command). Each capability and setting the service keeps is taken away through the config's
own override (`sandbox.directives`), and the cleanup must then fail the way ostree fails
without it, while it succeeds with the rendered defaults.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from ostree_autocleanup import generator as generator_package
from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.config.model import Config
from support import sysroot as sr
from support.manager import UserManager
from support.service_case import (
    HELPER,
    Case,
    Reference,
    make_config,
    replace_command,
    run_service,
    skip_unless_helper,
)

pytestmark = [pytest.mark.root, pytest.mark.manager]

PROBE = textwrap.dedent(
    """\
    for path in "$@"; do
        if err=$(touch "$path" 2>&1); then echo "$path: written"; rm -f "$path"
        else echo "$path: ${err##*: }"; fi
    done
    """
)


def probe_writes(
    manager: UserManager, case: Case, tmp_path: Path, mode: str, backend: str, paths: list[str]
) -> dict[str, str]:
    config = make_config(tmp_path, case, mode, backend)
    # A file, not `sh -c`: systemd would expand the script's $ and % itself.
    (case.host / "probe.sh").write_text(PROBE)
    outcome = run_service(
        manager, config, [replace_command("/bin/sh", f"{case.seen}/probe.sh", *paths)]
    )
    assert outcome.result == "success", outcome
    results = dict(line.split(": ", 1) for line in outcome.log.splitlines() if ": " in line)
    assert set(results) == set(paths), outcome.log
    return results


@pytest.mark.parametrize(
    ("mode", "backend"),
    [("full", "ostree-cli"), ("full", "helper"), ("prune", "ostree-cli"), ("prune", "helper")],
)
def test_writes_outside_the_allowed_paths_fail(
    manager: UserManager, case: Case, tmp_path: Path, mode: str, backend: str
) -> None:
    (case.host / "outside").mkdir()
    sysroot = case.sysroot_seen
    forbidden = ["/etc/oa-probe", "/usr/oa-probe", "/var/oa-probe", f"{case.seen}/outside/probe"]
    allowed = [f"{sysroot}/oa-probe", f"{sysroot}/ostree/repo/tmp/oa-probe"]
    if mode == "prune":
        # The deployments (every /etc and /var of the OS) and the boot files stay read-only.
        deployment = next(p.name for p in case.sysroot.deploy_dir.iterdir() if p.is_dir())
        forbidden += [
            f"{sysroot}/boot/oa-probe",
            f"{sysroot}/ostree/deploy/testos/var/oa-probe",
            f"{sysroot}/ostree/deploy/testos/deploy/{deployment}.origin",
        ]
        if backend == "ostree-cli":
            forbidden.append(f"{sysroot}/ostree/oa-probe")
        else:
            allowed.append(f"{sysroot}/ostree/lock")
    else:
        allowed += [f"{sysroot}/boot/oa-probe", f"{sysroot}/ostree/deploy/testos/var/oa-probe"]

    if backend == "helper":
        skip_unless_helper()
    results = probe_writes(manager, case, tmp_path, mode, backend, forbidden + allowed)

    for path in forbidden:
        assert results[path] == "Read-only file system", (path, results)
    for path in allowed:
        assert results[path] == "written", (path, results)


def orphan_deployment(case: Case, foreign_dir: bool = False) -> Path:
    """A deployment directory that no deployment uses, as a crash before its deletion leaves.

    foreign_dir adds what real /etc trees hold: a directory owned by another user with mode
    0700, which root without CAP_DAC_OVERRIDE can neither read nor empty.
    """
    live = sorted(p for p in case.sysroot.deploy_dir.iterdir() if p.is_dir())[0]
    orphan = live.with_name(live.name.split(".")[0] + ".7")
    subprocess.run(["cp", "-a", str(live), str(orphan)], check=True)
    if foreign_dir:
        private = orphan / "usr/etc/private"
        private.mkdir()
        (private / "key").write_text("secret\n")
        for path in (private / "key", private):
            os.chown(path, 1000, 1000)
        private.chmod(0o700)
    subprocess.run(["chattr", "+i", str(orphan)], check=True)
    return orphan


def capabilities(value: str) -> str:
    return f"sandbox:\n  directives:\n    CapabilityBoundingSet: '{value}'\n"


@pytest.mark.parametrize("backend", ["ostree-cli", "helper"])
def test_full_mode_deletes_an_immutable_orphan_deployment(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path, backend: str
) -> None:
    if backend == "helper":
        skip_unless_helper()
    orphan = orphan_deployment(case)
    outcome = run_service(manager, make_config(tmp_path, case, "full", backend))
    assert outcome.succeeded, outcome
    assert not orphan.exists()
    assert case.objects() == reference.after
    assert not case.stamp.exists()


def test_cap_linux_immutable_is_needed_to_delete_a_deployment_root(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path
) -> None:
    orphan = orphan_deployment(case)
    config = make_config(tmp_path, case, "full", "ostree-cli", capabilities("CAP_SYS_PTRACE"))
    outcome = run_service(manager, config)
    assert outcome.result == "exit-code"
    assert "Operation not permitted" in outcome.log, outcome.log
    assert orphan.exists()
    assert case.stamp.exists()
    assert case.objects() == reference.before


def test_an_orphan_holding_a_directory_root_does_not_own_needs_cap_dac_override(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path
) -> None:
    """Not granted by default (it costs 0.2 of exposure and only matters for deployments that
    a crash left behind); the config can add it, and then the cleanup gets through."""
    orphan = orphan_deployment(case, foreign_dir=True)
    outcome = run_service(manager, make_config(tmp_path, case, "full", "ostree-cli"))
    assert outcome.result == "exit-code"
    assert "Permission denied" in outcome.log, outcome.log
    assert orphan.exists()
    assert case.stamp.exists()

    widened = capabilities("CAP_SYS_PTRACE CAP_LINUX_IMMUTABLE CAP_DAC_OVERRIDE")
    outcome = run_service(manager, make_config(tmp_path, case, "full", "ostree-cli", widened))
    assert outcome.succeeded, outcome
    assert not orphan.exists()
    assert case.objects() == reference.after


def test_private_users_rules_out_cap_linux_immutable(
    manager: UserManager, case: Case, tmp_path: Path
) -> None:
    """Why full mode cannot have PrivateUsers=: capabilities inside a user namespace of its
    own do not reach the host's immutable flag."""
    orphan = orphan_deployment(case)
    config = make_config(
        tmp_path, case, "full", "ostree-cli", "sandbox:\n  directives:\n    PrivateUsers: yes\n"
    )
    outcome = run_service(manager, config)
    assert outcome.result == "exit-code"
    assert "Operation not permitted" in outcome.log, outcome.log
    assert orphan.exists()


def test_boot_id_comes_from_the_environment_under_procsubset_pid(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path
) -> None:
    config = make_config(tmp_path, case, "full", "ostree-cli")
    # An empty Environment= drops OSTREE_BOOTID=%b; ProcSubset=pid hides /proc/sys.
    outcome = run_service(manager, config, ["[Service]\nEnvironment=\n"])
    assert outcome.result == "exit-code"
    assert "boot_id" in outcome.log, outcome.log
    assert case.objects() == reference.before


ASYNC_GIO = textwrap.dedent(
    """\
    import sys
    from gi.repository import Gio, GLib
    loop = GLib.MainLoop()
    def done(source, result):
        print("async:", source.query_info_finish(result).get_name())
        loop.quit()
    Gio.File.new_for_path(sys.argv[1]).query_info_async("standard::name", 0, 0, None, done)
    loop.run()
    """
)


@pytest.mark.parametrize("mode", ["full", "prune"])
def test_glib_worker_threads_need_the_soft_syscall_errors(
    manager: UserManager, case: Case, tmp_path: Path, mode: str
) -> None:
    """GLib's worker threads call sched_setattr(), which ~@resources denies: with
    SystemCallErrorNumber=EPERM that fails softly, without it SIGSYS kills the process."""
    script = case.host / "async_gio.py"
    script.write_text(ASYNC_GIO)
    python = os.path.realpath(HELPER.parent / "python")
    command = replace_command(python, f"{case.seen}/async_gio.py", case.sysroot_seen)

    ok = run_service(manager, make_config(tmp_path, case, mode, "ostree-cli"), [command])
    assert ok.succeeded, ok
    assert "async: sysroot" in ok.log

    config = make_config(
        tmp_path,
        case,
        mode,
        "ostree-cli",
        "sandbox:\n  directives:\n    SystemCallErrorNumber: null\n",
    )
    killed = run_service(manager, config, [command])
    assert killed.result == "signal"
    assert killed.exec_main_status == 31  # SIGSYS


def test_prune_mode_needs_no_capability_at_all(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path
) -> None:
    config = make_config(tmp_path, case, "prune", "ostree-cli")
    outcome = run_service(
        manager, config, [replace_command("/bin/grep", "^Cap", "/proc/self/status")]
    )
    assert outcome.succeeded, outcome
    caps = dict(line.split(":\t") for line in outcome.log.splitlines())
    assert caps["CapBnd"] == caps["CapEff"] == caps["CapPrm"] == "0000000000000000"
    assert sr.repo_usage(case.sysroot.repo).objects == reference.before


def fake_boot(case: Case) -> str:
    """A drop-in that boots a unit into the newest deployment, as ostree-prepare-root would:
    that deployment as /, the physical root on /sysroot, its boot on /boot, the host's /usr
    for the programs, and a /run (shared by every unit of the case) with /run/ostree-booted."""
    run = case.host / "run"
    if not run.exists():
        run.mkdir()
        (run / "ostree-booted").write_text("")
        newest = max(
            (p for p in case.sysroot.deploy_dir.iterdir() if p.is_dir()),
            key=lambda p: p.stat().st_mtime,
        )
        # Chosen once: a deployment staged later is newer but not booted.
        (case.host / "booted-deployment").write_text(newest.name)
    booted = (case.host / "booted-deployment").read_text()
    root = f"{case.sysroot_seen}/ostree/deploy/testos/deploy/{booted}"
    return (
        # The manager checks conditions outside the unit's root, where /sysroot is elsewhere.
        f"[Unit]\nConditionPathExists=\nConditionPathExists={case.sysroot_seen}/.cleanup\n"
        f"[Service]\nRootDirectory={root}\nBindReadOnlyPaths=/usr\n"
        f"BindPaths={case.sysroot_seen}:/sysroot {case.sysroot_seen}/boot:/boot "
        f"{case.sysroot_seen}/ostree/deploy/testos/var:/var {case.seen}/run:/run\n"
    )


def stage_deployment(manager: UserManager, case: Case) -> Path:
    """Stage a new deployment on the fake-booted system, as an updater does during a boot."""
    before = {p.name for p in case.sysroot.deploy_dir.iterdir() if p.is_dir()}
    manager.install_unit(
        "stage.service",
        "[Service]\nType=oneshot\n"
        "ExecStart=/usr/bin/ostree admin deploy --stage --os=testos testos/stable\n",
    )
    manager.install_unit("stage.service.d/boot.conf", fake_boot(case))
    outcome = manager.start("stage.service")
    assert outcome.succeeded, outcome
    assert (case.host / "run/ostree/staged-deployment").exists()
    (staged,) = [
        p for p in case.sysroot.deploy_dir.iterdir() if p.is_dir() and p.name not in before
    ]
    return staged


def booted_config(tmp_path: Path, extra: str = "", backend: str = "ostree-cli") -> Config:
    path = tmp_path / "booted.yaml"
    path.write_text(
        f"version: 1\ncleanup:\n  mode: full\n  backend: {backend}\n  helper-path: {HELPER}\n"
        + extra
    )
    return load_config([str(path)])


def helper_visible_in_the_deployment() -> str:
    """Bind the checkout and the venv (an editable install runs from the checkout) into the
    fake-booted root, whose own /usr and /var are not this machine's."""
    checkout = Path(generator_package.__file__).resolve().parents[1]
    venv = HELPER.parent.parent.resolve()
    paths = dict.fromkeys([str(checkout), str(venv)])
    return "".join(f"BindReadOnlyPaths={p}\n" for p in paths)


@pytest.mark.parametrize("backend", ["ostree-cli", "helper"])
def test_booted_cleanup_keeps_a_deployment_staged_during_this_boot(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path, backend: str
) -> None:
    if backend == "helper":
        skip_unless_helper()
    staged = stage_deployment(manager, case)
    dropin = fake_boot(case) + (helper_visible_in_the_deployment() if backend == "helper" else "")
    outcome = run_service(manager, booted_config(tmp_path, backend=backend), [dropin])
    assert outcome.succeeded, outcome
    assert staged.is_dir()
    assert case.objects() == reference.after
    assert not case.stamp.exists()


def test_naming_the_sysroot_would_delete_the_staged_deployment(
    manager: UserManager, case: Case, tmp_path: Path
) -> None:
    """Why the booted unit does not pass --sysroot=/sysroot: given a path, ostree does not look
    for the booted system, takes the staged deployment for an orphan and deletes it."""
    staged = stage_deployment(manager, case)
    command = replace_command("/usr/bin/ostree", "admin", "cleanup", "--sysroot=/sysroot")
    outcome = run_service(manager, booted_config(tmp_path), [fake_boot(case), command])
    assert outcome.succeeded, outcome
    assert not staged.exists()


def test_cap_sys_ptrace_is_needed_on_the_booted_root(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path
) -> None:
    config = booted_config(tmp_path, capabilities("CAP_LINUX_IMMUTABLE"))
    outcome = run_service(manager, config, [fake_boot(case)])
    assert outcome.result == "exit-code"
    assert "/proc/1/ns/mnt" in outcome.log, outcome.log
    assert case.objects() == reference.before
    assert case.stamp.exists()
