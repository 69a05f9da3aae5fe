"""A real ostree-booted Debian (12 or 13, support.platforms) with systemd as PID 1, under nspawn.

Three layers, each cheap once the first exists:
- a debootstrap rootfs, already shaped for OSTree (``/etc`` in ``usr/etc``, empty ``/var``, a
  dummy kernel), cached outside the repository and keyed by everything that went into it;
- an OSTree sysroot in a loop-mounted ext4 image (``OstreeImage``), whose base commit is that
  rootfs; every scenario gets its own image, so nothing a test does reaches the host's disk;
- a container booted from a deployment directory (``Container``), picked the way a bootloader
  picks it, so that ostree inside recognises the booted deployment and ``deploy --stage`` works.

Every container runs nspawn as PID 1 of its own PID namespace under ``setpriv --pdeathsig KILL``:
killing that namespace is a power cut (no stop jobs run), and a test process that dies for any
reason takes its containers with it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from support import cgroups
from support.platforms import DEBIAN_12, Platform

SUITE = DEBIAN_12.suite
VARIANT = "minbase"
# What the project needs at runtime inside the image: the helper (python3 + libostree through
# gi), the generator's cold path (yaml, jinja2) and `status` on the live system (pystemd).
ROOTFS_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "ostree",
    "ostree-boot",
    "python3",
    "python3-gi",
    "gir1.2-ostree-1.0",
    "python3-yaml",
    "python3-jinja2",
    "python3-pystemd",
)
# Bump when the way the rootfs is shaped for OSTree changes: the cache key includes it.
LAYOUT_VERSION = 1
DEFAULT_CACHE_DIR = "/var/cache/ostree-autocleanup-tests"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
OS_NAME = "testos"
KERNEL_VERSION = "6.1.0-e2e"
BASE_REF = f"{OS_NAME}/base"
IMAGE_SIZE = 4 * 1024 * 1024 * 1024

REQUIRED_TOOLS = (
    "debootstrap",
    "systemd-nspawn",
    "unshare",
    "setpriv",
    "nsenter",
    "mkfs.ext4",
    "mount",
    "umount",
    "ostree",
)

# The host-side environment for commands run inside a container: nothing of the test runner's
# PATH (a pyenv shim, a venv) makes sense in there.
CONTAINER_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "SYSTEMD_PAGER": "",
    "SYSTEMD_COLORS": "0",
    "TERM": "dumb",
}


class ContainerError(RuntimeError):
    """A container did not boot, did not stop, or a command in it failed."""


def unavailable_reason() -> str | None:
    """Why containers cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "booting containers and mounting images needs root"
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install systemd-container debootstrap ostree)"
    if not os.path.exists("/dev/loop-control"):
        return "no loop devices (/dev/loop-control is missing) to mount the sysroot image"
    return None


def cache_dir() -> Path:
    """Shared with the other cached test inputs (OSTREE_AUTOCLEANUP_TEST_CACHE) by default."""
    for variable in ("OSTREE_AUTOCLEANUP_E2E_CACHE", "OSTREE_AUTOCLEANUP_TEST_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    return Path(DEFAULT_CACHE_DIR)


def debian_mirror() -> str:
    """The Debian mirror the host itself uses, so that CI and offline mirrors keep working.

    Every platform's suite is fetched from the mirror the host uses for its own.
    """
    override = os.environ.get("OSTREE_AUTOCLEANUP_E2E_MIRROR")
    if override:
        return override
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.exists():
        for stanza in deb822.read_text().split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                key, sep, value = line.partition(":")
                if sep and not line.startswith((" ", "#")):
                    fields[key.strip()] = value.strip()
            if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
                return fields["URIs"].split()[0]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    return DEFAULT_MIRROR


def rootfs_key(platform: Platform = DEBIAN_12, packages: Sequence[str] = ROOTFS_PACKAGES) -> str:
    recipe = {
        "suite": platform.suite,
        "variant": VARIANT,
        "packages": sorted(packages),
        "layout": LAYOUT_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            target = line.split()[4].replace("\\040", " ")
            if target == str(path) or target.startswith(prefix):
                found.append(target)
    return found


def remove_tree(path: Path) -> None:
    """Remove a directory tree that may hold mounts (an interrupted debootstrap leaves some)."""
    for target in reversed(_mounts_under(path)):
        subprocess.run(["umount", "-l", target], check=False)
    if path.exists():
        subprocess.run(["chattr", "-R", "-i", str(path)], check=False, capture_output=True)
        shutil.rmtree(path)


def loop_devices_of(image: Path) -> list[str]:
    """The loop devices whose backing file is image."""
    wanted = os.path.realpath(image)
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        with contextlib.suppress(OSError):
            if backing.read_text().strip() == wanted:
                found.append(f"/dev/{backing.parts[3]}")
    return found


def cached_tree(name: str, build: Callable[[Path], None]) -> Path:
    """The test cache's directory NAME, made once by BUILD and then reused (every cached root).

    BUILD fills a temporary directory next to the final place, under a lock, and the result is
    renamed into place: an interrupted build never leaves something that looks complete, and
    the leftovers of one are removed by the next.
    """
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / name
    if final.is_dir():
        return final
    with _locked(cache / f"{name}.lock"):
        if final.is_dir():
            return final
        for stale in cache.glob(f"{name}.tmp-*"):
            remove_tree(stale)
        building = cache / f"{name}.tmp-{os.getpid()}"
        try:
            build(building)
            os.rename(building, final)
        finally:
            if building.exists():
                remove_tree(building)
    return final


def debootstrap(target: Path, suite: str, packages: Sequence[str] = ()) -> None:
    """``debootstrap --variant=minbase`` of SUITE (plus PACKAGES) into TARGET, from the host's
    mirror; the downloaded packages are deleted once installed."""
    log = target.with_name(target.name + ".log")
    include = ["--include=" + ",".join(packages)] if packages else []
    with open(log, "w") as out:
        result = subprocess.run(
            ["debootstrap", f"--variant={VARIANT}", *include, suite, str(target), debian_mirror()],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        tail = log.read_text().splitlines()[-15:]
        raise ContainerError(f"debootstrap of {suite} failed:\n" + "\n".join(tail))
    log.unlink()
    for deb in (target / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def cached_rootfs(
    platform: Platform = DEBIAN_12, packages: Sequence[str] = ROOTFS_PACKAGES
) -> Path:
    """The platform's OSTree-shaped Debian rootfs, built once per recipe and then reused."""

    def build(target: Path) -> None:
        debootstrap(target, platform.suite, packages)
        _shape_for_ostree(target)

    return cached_tree(f"rootfs-{platform.id}-{rootfs_key(platform, packages)}", build)


def _shape_for_ostree(root: Path) -> None:
    """Turn a plain rootfs into what an OSTree commit of an OS looks like."""
    usr_etc = root / "usr" / "etc"
    os.rename(root / "etc", usr_etc)
    # The machine is told apart by nspawn; one baked-in id would be shared by every container.
    (usr_etc / "machine-id").write_text("")
    # /var belongs to the deployment's stateful var, and ostree cannot commit device nodes.
    for name in ("var", "dev", "run", "tmp", "proc", "sys"):
        shutil.rmtree(root / name)
        (root / name).mkdir()
    os.chmod(root / "tmp", 0o1777)
    modules = root / "usr" / "lib" / "modules" / KERNEL_VERSION
    modules.mkdir(parents=True)
    # ostree only needs non-empty files to find a kernel and put it in /boot.
    (modules / "vmlinuz").write_text("not a kernel\n")
    (modules / "initramfs.img").write_text("not an initramfs\n")
    (root / "sysroot").mkdir()
    os.symlink("sysroot/ostree", root / "ostree")
    # On hardware the initramfs creates this; ostree takes it to mean "booted from a deployment".
    (root / "usr" / "lib" / "tmpfiles.d" / "ostree-booted-e2e.conf").write_text(
        "f /run/ostree-booted 0644 root root -\n"
    )


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ContainerError(
            f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()}"
        )
    return result


# Everything still running or mounted when the interpreter exits is stopped or unmounted then,
# so an interrupted test run never leaves a container or a loop mount behind.
_LIVE_CONTAINERS: set[Container] = set()
_LIVE_IMAGES: set[OstreeImage] = set()


@atexit.register
def _stop_everything() -> None:
    for container in list(_LIVE_CONTAINERS):
        container.kill()
    for image in list(_LIVE_IMAGES):
        image.close()


class OstreeImage:
    """An OSTree sysroot on a loop-mounted ext4 image file, with the base OS committed."""

    def __init__(self, image: Path, mountpoint: Path) -> None:
        self.image = image
        self.sysroot = mountpoint
        self.mounted = False

    @classmethod
    def create(cls, workdir: Path, rootfs: Path) -> OstreeImage:
        workdir.mkdir(parents=True, exist_ok=True)
        image = cls(workdir / "sysroot.img", workdir / "sysroot")
        with open(image.image, "wb") as sparse:
            sparse.truncate(IMAGE_SIZE)
        _run(["mkfs.ext4", "-q", "-F", "-L", "sysroot", str(image.image)])
        image.mount()
        try:
            image.ostree("admin", "init-fs", str(image.sysroot))
            image.ostree("admin", "os-init", f"--sysroot={image.sysroot}", OS_NAME)
            # A persistent journal outlives each boot, so a shutdown can be read afterwards.
            (image.var / "log" / "journal").mkdir(parents=True)
            image.ostree(
                f"--repo={image.repo}",
                "commit",
                f"--branch={BASE_REF}",
                f"--tree=dir={rootfs}",
                "--subject=base OS",
            )
        except BaseException:
            image.close()
            raise
        return image

    @property
    def repo(self) -> Path:
        return self.sysroot / "ostree" / "repo"

    @property
    def var(self) -> Path:
        return self.sysroot / "ostree" / "deploy" / OS_NAME / "var"

    def mount(self) -> None:
        self.sysroot.mkdir(exist_ok=True)
        _run(["mount", "-o", "loop", str(self.image), str(self.sysroot)])
        self.mounted = True
        _LIVE_IMAGES.add(self)

    def unmount(self, timeout: float = 30.0) -> None:
        """Unmount, and wait until the file system is really gone and written back.

        A container's mount namespace that outlives its processes for a moment still holds
        the file system: the umount here then only detaches this namespace's mount, and the
        image file is not complete until the last holder lets go, which is when the loop
        device (autoclear) goes away. A copy taken before then can find a torn directory.
        """
        if self.mounted:
            subprocess.run(["umount", str(self.sysroot)], check=False)
            if _mounts_under(self.sysroot):
                subprocess.run(["umount", "-l", str(self.sysroot)], check=False)
            self.mounted = False
            deadline = time.monotonic() + timeout
            while loop_devices_of(self.image) and time.monotonic() < deadline:
                time.sleep(0.05)
        _LIVE_IMAGES.discard(self)

    def close(self) -> None:
        """Unmount and delete the image (deployments are chattr +i, the image file is not)."""
        self.unmount()
        with contextlib.suppress(FileNotFoundError):
            self.image.unlink()

    def __enter__(self) -> OstreeImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def copy(self, workdir: Path) -> OstreeImage:
        """A mounted copy of this image taken while it is unmounted, so it is consistent.

        An image left unmounted (a session's base image) stays so; a mounted one is mounted
        again. Copying the few hundred MiB a fresh image holds is several times faster than
        committing the rootfs again.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        was_mounted = self.mounted
        self.unmount()
        try:
            copy = OstreeImage(workdir / "sysroot.img", workdir / "sysroot")
            _run(["cp", "--sparse=always", str(self.image), str(copy.image)])
        finally:
            if was_mounted:
                self.mount()
        copy.mount()
        return copy

    def ostree(self, *args: str) -> str:
        return _run(["ostree", *args]).stdout.strip()

    def commit(self, branch: str, trees: Sequence[str], subject: str) -> str:
        """Commit layered trees (``ref=REF`` or ``dir=DIR``), the last one winning, on branch."""
        return self.ostree(
            f"--repo={self.repo}",
            "commit",
            f"--branch={branch}",
            "--link-checkout-speedup",
            f"--subject={subject}",
            *(f"--tree={tree}" for tree in trees),
        )

    def checkout(self, ref: str, dest: Path) -> None:
        """A hardlink checkout in the image: change it only by replacing files, never in place."""
        self.ostree(f"--repo={self.repo}", "checkout", "-H", ref, str(dest))

    def deploy(self, ref: str) -> None:
        """Deploy offline, the way an image builder does; the previous default stays as rollback."""
        self.ostree("admin", "deploy", f"--sysroot={self.sysroot}", f"--os={OS_NAME}", ref)

    def objects(self) -> set[str]:
        """Every object in the repo, as CHECKSUM.TYPE."""
        found = set()
        objects = self.repo / "objects"
        for prefix in os.listdir(objects):
            for name in os.listdir(objects / prefix):
                found.add(prefix + name)
        return found

    def journal(self, *args: str) -> str:
        """The containers' persistent journal, read from the host (all boots, oldest first)."""
        result = subprocess.run(
            ["journalctl", "-D", str(self.var / "log" / "journal"), "--no-pager", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout + result.stderr

    def boot_entries(self) -> list[dict[str, str]]:
        entries = []
        for conf in sorted((self.sysroot / "boot" / "loader" / "entries").glob("*.conf")):
            fields = {}
            for line in conf.read_text().splitlines():
                key, _, value = line.partition(" ")
                fields[key] = value.strip()
            entries.append(fields)
        return entries

    def next_boot(self) -> Path:
        """The deployment a bootloader boots: the newest entry's ``ostree=`` path."""
        entries = self.boot_entries()
        if not entries:
            raise ContainerError(f"no boot loader entries in {self.sysroot}/boot/loader/entries")
        newest = max(entries, key=lambda entry: int(entry.get("version", "0")))
        match = re.search(r"(?:^|\s)ostree=(\S+)", newest.get("options", ""))
        if match is None:
            raise ContainerError(f"no ostree= in the newest boot entry: {newest}")
        deployment = Path(os.path.realpath(str(self.sysroot) + match.group(1)))
        if not deployment.is_dir() or self.sysroot not in deployment.parents:
            raise ContainerError(f"ostree={match.group(1)} is not a deployment in the sysroot")
        return deployment

    def deployments(self) -> list[str]:
        """Deployment directory names (CSUM.SERIAL) on disk, sorted."""
        deploy = self.sysroot / "ostree" / "deploy" / OS_NAME / "deploy"
        return sorted(p.name for p in deploy.iterdir() if p.is_dir())


class Container:
    """One boot of a deployment of an ``OstreeImage``; use as a context manager."""

    _started = 0  # containers this process started: each one's cgroup name

    def __init__(
        self, image: OstreeImage, log: Path, name: str = "e2e", read_only_sysroot: bool = False
    ) -> None:
        self.image = image
        self.deployment = image.next_boot()
        self.log = log
        self.name = name
        # As ostree-prepare-root leaves it with `[sysroot] readonly=true` (Fedora Atomic
        # desktops, CoreOS, bootc): /sysroot and /boot mounted read-only, /var writable. ostree
        # writes them only from a mount namespace of its own, where it remounts them.
        self.read_only_sysroot = read_only_sysroot
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0  # the container's systemd, as the host sees it
        self.cgroups: list[str] = []

    def __enter__(self) -> Container:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def start(self, timeout: float = 60.0) -> None:
        sysroot = self.image.sysroot
        bind = "--bind-ro" if self.read_only_sysroot else "--bind"
        nspawn = [
            "systemd-nspawn",
            "--register=no",
            "--keep-unit",
            "--console=passive",
            "--private-network",
            "--resolv-conf=off",
            "--timezone=off",
            "-b",
            "-M",
            self.name,
            "-D",
            str(self.deployment),
            f"{bind}={sysroot}:/sysroot:norbind",
            f"{bind}={sysroot}/boot:/boot:norbind",
            f"--bind={self.image.var}:/var:norbind",
        ]
        # nspawn wants a /run/systemd of its own when the host's PID 1 is not systemd.
        script = 'mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && exec "$@"'
        # A cgroup of its own, or two containers booting side by side share one hierarchy.
        Container._started += 1
        self.cgroups = cgroups.create(f"oa-container-{os.getpid()}-{Container._started}")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    "setpriv",
                    "--pdeathsig",
                    "KILL",
                    "--",
                    *cgroups.enter(self.cgroups),
                    "unshare",
                    "-m",
                    "-p",
                    "--fork",
                    "--kill-child",
                    "--mount-proc",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    script,
                    "sh",
                    *nspawn,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _LIVE_CONTAINERS.add(self)
        try:
            self.pid = self._wait_for_init(timeout)
            self._check_own_cgroup()
            self._wait_for_manager(timeout)
        except BaseException:
            self.kill()
            raise

    def _children(self, pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                return [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            return []

    def _wait_for_init(self, timeout: float) -> int:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ContainerError(f"nspawn exited {self.process.returncode}: {self.console()}")
            for nspawn in self._children(self.process.pid):
                for child in self._children(nspawn):
                    try:
                        other_ns = os.readlink(f"/proc/{child}/ns/pid") != os.readlink(
                            f"/proc/{nspawn}/ns/pid"
                        )
                        comm = Path(f"/proc/{child}/comm").read_text().strip()
                    except (FileNotFoundError, ProcessLookupError):
                        continue
                    if other_ns and comm == "systemd":
                        return child
            time.sleep(0.05)
        raise ContainerError(f"no systemd in the container after {timeout}s: {self.console()}")

    def _check_own_cgroup(self) -> None:
        """The container's systemd runs below the cgroup made for it, in every hierarchy."""
        lines = Path(f"/proc/{self.pid}/cgroup").read_text().splitlines()
        where = {line.split(":", 2)[1]: line.split(":", 2)[2] for line in lines}
        for cgroup in self.cgroups:
            key = cgroups.hierarchy_of(cgroup)
            own = "/" + os.path.basename(cgroup)
            path = where.get(key, "")
            if path != own and not path.startswith(own + "/"):
                raise ContainerError(
                    f"the container's systemd is in {key or 'v2'}:{path}, not {own}"
                )

    def _wait_for_manager(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.run(["systemctl", "is-system-running"], check=False)
            if result.stdout.strip() not in ("", "offline", "unknown"):
                return
            time.sleep(0.05)
        raise ContainerError(f"the container's manager did not answer: {self.console()}")

    def console(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run(
        self, args: Sequence[str], check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the container, in all its namespaces."""
        if not self.running:
            raise ContainerError("the container is not running")
        result = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-a", *args],
            capture_output=True,
            text=True,
            check=False,
            env=CONTAINER_ENV,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise ContainerError(
                f"{' '.join(args)} exited {result.returncode} in the container:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def wait_until_booted(self, timeout: float = 120.0) -> str:
        """Wait for every start job (a non-blocking cleanup included); the final state."""
        result = self.run(
            ["systemctl", "is-system-running", "--wait"], check=False, timeout=timeout
        )
        return result.stdout.strip()

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        args = ["systemctl", "show", unit]
        for prop in properties:
            args += ["-p", prop]
        out = self.run(args).stdout
        values = {}
        for line in out.splitlines():
            key, _, value = line.partition("=")
            values[key] = value
        return values

    def monotonic(self, unit: str, prop: str) -> int:
        """A unit's monotonic timestamp property in microseconds (0: never happened)."""
        return int(self.show(unit, prop)[prop] or "0")

    def critical_chain(self, unit: str = "multi-user.target") -> str:
        return self.run(["systemd-analyze", "critical-chain", "--no-pager", unit]).stdout

    def journal(self, unit: str | None = None) -> str:
        args = ["journalctl", "-b", "--no-pager", "-o", "short-monotonic"]
        if unit:
            args += ["-u", unit]
        return self.run(args, check=False).stdout

    @property
    def bus_address(self) -> str:
        """The container's system bus, reachable from the host."""
        return f"unix:path=/proc/{self.pid}/root/run/dbus/system_bus_socket"

    @property
    def root(self) -> Path:
        """The container's root file system as the host sees it."""
        return Path(f"/proc/{self.pid}/root")

    def poweroff(self, timeout: float = 120.0) -> int:
        """A clean shutdown: every stop job runs (ostree's finalize among them)."""
        # The connection may drop as the manager goes down: the exit status tells nothing.
        self.run(["systemctl", "poweroff", "--no-block"], check=False)
        return self._wait_exit(timeout)

    def _wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ContainerError(
                f"the container did not power off within {timeout}s: {self.console()}"
            ) from None
        self._remove_cgroups()
        _LIVE_CONTAINERS.discard(self)
        return code

    def kill(self) -> None:
        """A power cut: the namespace dies with its init, no stop job runs."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._remove_cgroups()
        _LIVE_CONTAINERS.discard(self)

    def _remove_cgroups(self) -> None:
        """Whatever the container left running (nothing, after a clean exit) dies here."""
        for cgroup in self.cgroups:
            cgroups.remove(cgroup)
        self.cgroups = []
