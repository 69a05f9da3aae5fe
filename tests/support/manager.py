"""A private `systemd --user` manager running as root, so that sandbox settings really apply.

PID 1 here is not systemd, so the manager runs in its own mount namespace with a tmpfs on
/run/systemd (it refuses to start without /run/systemd/system, and the Protect*= settings need
the /run/systemd/inaccessible nodes). It also runs in cgroups of its own: a user manager started
in the root cgroup would move every process of the machine into its init.scope, and two managers
sharing a cgroup would fight over the same unit cgroups. Teardown kills whatever is left in those
cgroups, so nothing outlives the `with` block.

Services see the host's file system, except for /srv, which is a tmpfs in the manager's namespace
where host directories can be bind-mounted (`expose=`): the hardened service has PrivateTmp= and
ProtectHome=, so a sysroot under /tmp or /root would be invisible to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from . import cgroups as cgroups_of_systemd

SYSTEMD = "/lib/systemd/systemd"
DBUS_DAEMON = "/usr/bin/dbus-daemon"
EXPOSE_ROOT = "/srv"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

# The only units the manager loads besides the ones a test installs: stand-ins for the system
# targets that the cleanup service orders itself against, so it loads unchanged.
_STUB_TARGETS = (
    "default.target",
    "basic.target",
    "sysinit.target",
    "multi-user.target",
    "shutdown.target",
)

_START_SCRIPT = r"""
set -eu
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir -p /run/systemd/system /run/systemd/inaccessible
cd /run/systemd/inaccessible
mkdir -m 0 dir
install -m 0 /dev/null reg
mkfifo -m 0 fifo
"$OA_PYTHON" -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")'
chmod 0 sock
mknod -m 0 chr c 0 0
mknod -m 0 blk b 0 0
cd /
mount -t tmpfs -o mode=0755 tmpfs "$OA_EXPOSE_ROOT"
while IFS= read -r line; do
    [ -n "$line" ] || continue
    src=${line%%	*}
    dst=${line#*	}
    mkdir -p "$dst"
    mount --bind "$src" "$dst"
done < "$OA_EXPOSE_LIST"
if [ "$$" = 1 ]; then
    # systemd refuses to be a user manager as PID 1: stay PID 1 of the namespace, like a real
    # init with every capability, and go down with the manager.
    "$OA_SYSTEMD" --user &
    wait $!
else
    exec "$OA_SYSTEMD" --user
fi
"""


class ManagerError(RuntimeError):
    """The private manager could not be started or driven."""


@dataclass(frozen=True)
class UnitOutcome:
    """How a unit's last run ended, as the manager reports it."""

    result: str
    active_state: str
    exec_main_code: int
    exec_main_status: int
    log: str

    @property
    def succeeded(self) -> bool:
        return self.result == "success" and self.exec_main_status == 0


@dataclass
class UserManager:
    """Handle on a running private manager; use `user_manager()` to get one."""

    workdir: str
    cgroups: list[str]
    process: subprocess.Popen[bytes] = field(repr=False)
    pid_namespace: bool = True
    # PID (in this machine's namespace) of the namespace's init, once known.
    init_pid: int = 0

    def client(self, argv: Sequence[str]) -> list[str]:
        """argv run in the manager's mount and PID namespaces.

        The manager drops bus connections of peers whose PID it cannot see now and then, so
        its clients run where it can see them.
        """
        if not self.pid_namespace:
            return list(argv)
        return ["nsenter", f"--target={self.init_pid}", "--mount", "--pid", "--", *argv]

    @property
    def runtime_dir(self) -> str:
        return os.path.join(self.workdir, "runtime")

    @property
    def unit_dir(self) -> str:
        """The one directory on the manager's unit search path; install test units here."""
        return os.path.join(self.workdir, "units")

    @property
    def state_home(self) -> str:
        """Where StateDirectory= lands for a user manager ($XDG_CONFIG_HOME)."""
        return os.path.join(self.workdir, "config")

    @property
    def log_path(self) -> str:
        return os.path.join(self.workdir, "manager.log")

    def environ(self) -> dict[str, str]:
        """Environment for clients (systemctl --user, systemd-run --user) of this manager."""
        env = dict(os.environ)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env["XDG_RUNTIME_DIR"] = self.runtime_dir
        env["SYSTEMD_PAGER"] = ""
        env["SYSTEMD_COLORS"] = "0"
        return env

    def systemctl(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.client(["systemctl", "--user", "--no-pager", *args]),
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ManagerError(
                f"systemctl --user {' '.join(args)} failed ({proc.returncode}): "
                f"{proc.stderr.strip()}"
            )
        return proc

    def run(
        self,
        argv: Sequence[str],
        properties: Sequence[str] = (),
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv as a transient service with the given KEY=VALUE properties, and wait.

        The return code is the service's exit status; stdout/stderr are the service's own.
        """
        cmd = ["systemd-run", "--user", "--wait", "--pipe", "--quiet", "--collect"]
        for prop in properties:
            cmd += ["-p", prop]
        cmd += ["--", *argv]
        return subprocess.run(
            self.client(cmd),
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def install_unit(self, name: str, text: str) -> str:
        """Write a unit (or `NAME.d/x.conf` drop-in) into the unit dir and reload."""
        path = os.path.join(self.unit_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        self.reload()
        return path

    def reload(self) -> None:
        # The reply to a reload sometimes races with the manager dropping the connection while
        # it reloads ("Transport endpoint is not connected"); the reload itself happened.
        for _ in range(3):
            proc = self.systemctl("daemon-reload", check=False)
            if proc.returncode == 0:
                return
            if "not connected" not in proc.stderr:
                break
            time.sleep(0.1)
        self.systemctl("daemon-reload")

    def start(self, unit: str, timeout: float = 300.0) -> UnitOutcome:
        """Start a unit, wait for its job, and report how it ended with its output."""
        log = os.path.join(self.workdir, f"{unit}.log")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log)
        # Output would go to a journal that does not exist here; a file keeps it for the test.
        self.install_unit(
            f"{unit}.d/zz-test-output.conf",
            f"[Service]\nStandardOutput=append:{log}\nStandardError=append:{log}\n",
        )
        self.systemctl("reset-failed", unit, check=False)
        self.systemctl("start", unit, check=False, timeout=timeout)
        show = self.systemctl(
            "show", "-p", "Result,ActiveState,ExecMainCode,ExecMainStatus", unit
        ).stdout
        props = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
        text = ""
        with contextlib.suppress(FileNotFoundError), open(log, encoding="utf-8") as f:
            text = f.read()
        return UnitOutcome(
            result=props.get("Result", ""),
            active_state=props.get("ActiveState", ""),
            exec_main_code=int(props.get("ExecMainCode", "0") or 0),
            exec_main_status=int(props.get("ExecMainStatus", "0") or 0),
            log=text,
        )

    def manager_log(self) -> str:
        with contextlib.suppress(FileNotFoundError), open(self.log_path, encoding="utf-8") as f:
            return f.read()
        return ""


def unavailable_reason() -> str | None:
    """Why a private manager cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "a private systemd manager with a real sandbox needs root"
    if not os.access(SYSTEMD, os.X_OK):
        return f"{SYSTEMD} is missing (install systemd)"
    if not os.access(DBUS_DAEMON, os.X_OK):
        return f"{DBUS_DAEMON} is missing (install dbus)"
    for tool in ("unshare", "nsenter", "systemctl", "systemd-run", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    if not os.path.isdir(EXPOSE_ROOT):
        return f"{EXPOSE_ROOT} does not exist to mount the exposed directories on"
    if not cgroups_of_systemd.roots():
        return "no writable cgroup hierarchy to give the manager a cgroup of its own"
    return None


def skip_unless_available() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


# systemd-run --user talks to the manager only through a bus, unlike systemctl, which falls back
# to the manager's private socket; a session bus on $XDG_RUNTIME_DIR/bus gives it one.
_BUS_UNITS = {
    "dbus.socket": "[Unit]\nDescription=Test session bus socket\n[Socket]\nListenStream=%t/bus\n",
    "dbus.service": (
        "[Unit]\nDescription=Test session bus\nRequires=dbus.socket\n[Service]\n"
        f"ExecStart={DBUS_DAEMON} --session --address=systemd: --nofork --nopidfile "
        "--systemd-activation --syslog-only\n"
    ),
}


def _write_stub_units(unit_dir: str) -> None:
    os.makedirs(unit_dir)
    for name in _STUB_TARGETS:
        wants = "Wants=dbus.socket\n" if name == "default.target" else ""
        with open(os.path.join(unit_dir, name), "w", encoding="utf-8") as f:
            f.write(f"[Unit]\nDescription=Test stand-in for {name}\n{wants}")
    for name, text in _BUS_UNITS.items():
        with open(os.path.join(unit_dir, name), "w", encoding="utf-8") as f:
            f.write(text)


def _first_child(pid: int) -> int:
    with (
        contextlib.suppress(OSError),
        open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f,
    ):
        children = f.read().split()
        return int(children[0]) if children else 0
    return 0


def _wait_ready(manager: UserManager) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    socket_path = os.path.join(manager.runtime_dir, "systemd", "private")
    bus_path = os.path.join(manager.runtime_dir, "bus")
    while time.monotonic() < deadline:
        if manager.pid_namespace and not manager.init_pid:
            manager.init_pid = _first_child(manager.process.pid)
            if not manager.init_pid:
                time.sleep(0.01)
                continue
        if manager.process.poll() is not None:
            raise ManagerError(
                f"systemd --user exited with {manager.process.returncode}: {manager.manager_log()}"
            )
        if os.path.exists(socket_path) and os.path.exists(bus_path):
            state = manager.systemctl("show", "-p", "SystemState", "--value", check=False)
            if state.stdout.strip() in ("running", "degraded"):
                return
        time.sleep(0.05)
    raise ManagerError(f"systemd --user not ready after {READY_TIMEOUT}s: {manager.manager_log()}")


@contextlib.contextmanager
def user_manager(
    expose: Mapping[str, str] | None = None, pid_namespace: bool = True
) -> Iterator[UserManager]:
    """Start a private manager; stop it and remove every trace of it on exit.

    expose maps paths under /srv (as services see them) to host directories bind-mounted there.
    pid_namespace runs it in a PID namespace whose PID 1 is a root shell with every capability,
    as on a booted system: a service then sees that PID 1, not this machine's init.
    """
    reason = unavailable_reason()
    if reason is not None:
        raise ManagerError(reason)
    expose = dict(expose or {})
    for target in expose:
        norm = os.path.normpath(target)
        if not norm.startswith(EXPOSE_ROOT + "/") or norm != target:
            raise ManagerError(f"exposed path {target!r} must be a normal path under {EXPOSE_ROOT}")

    # Not under /tmp: the manager's own files must not vanish behind a unit's PrivateTmp=.
    workdir = tempfile.mkdtemp(prefix="oa-manager-", dir="/run")
    cgroups: list[str] = []
    process: subprocess.Popen[bytes] | None = None
    manager: UserManager | None = None
    try:
        runtime = os.path.join(workdir, "runtime")
        os.mkdir(runtime, 0o700)
        _write_stub_units(os.path.join(workdir, "units"))
        expose_list = os.path.join(workdir, "expose.list")
        with open(expose_list, "w", encoding="utf-8") as f:
            for target, source in sorted(expose.items()):
                if "\t" in source or "\n" in source or "\t" in target or "\n" in target:
                    raise ManagerError(f"unsupported character in {source!r} -> {target!r}")
                f.write(f"{os.path.abspath(source)}\t{target}\n")
        name = os.path.basename(workdir)
        cgroups = cgroups_of_systemd.create(name)

        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": workdir,
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": runtime,
            "XDG_CONFIG_HOME": os.path.join(workdir, "config"),
            "XDG_DATA_HOME": os.path.join(workdir, "data"),
            "XDG_CACHE_HOME": os.path.join(workdir, "cache"),
            "XDG_STATE_HOME": os.path.join(workdir, "state"),
            "SYSTEMD_UNIT_PATH": os.path.join(workdir, "units"),
            "SYSTEMD_LOG_TARGET": "console",
            "OA_PYTHON": sys.executable,
            "OA_SYSTEMD": SYSTEMD,
            "OA_EXPOSE_ROOT": EXPOSE_ROOT,
            "OA_EXPOSE_LIST": expose_list,
        }
        with open(os.path.join(workdir, "manager.log"), "wb") as log:
            process = subprocess.Popen(
                [
                    *cgroups_of_systemd.enter(cgroups),
                    "unshare",
                    "--mount",
                    "--propagation=private",
                    *(["--pid", "--fork", "--kill-child", "--mount-proc"] if pid_namespace else []),
                    "sh",
                    "-c",
                    _START_SCRIPT,
                    "start-manager",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        manager = UserManager(
            workdir=workdir, cgroups=cgroups, process=process, pid_namespace=pid_namespace
        )
        _wait_ready(manager)
        yield manager
    finally:
        if process is not None:
            if manager is not None and process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    # --force: Manager.Exit() at once, without an exit.target to stand in for.
                    # Whatever runs then dies with the namespace or the cgroup below.
                    manager.systemctl("--force", "exit", check=False, timeout=STOP_TIMEOUT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for cgroup in cgroups:
            cgroups_of_systemd.remove(cgroup, STOP_TIMEOUT)
        shutil.rmtree(workdir, ignore_errors=True)
