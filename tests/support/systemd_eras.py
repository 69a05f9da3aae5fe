"""The real ``systemd-analyze`` of both OSTree eras, for differential tests.

- Debian 12: this machine's own systemd 252, with the upstream ostree units of Debian 12's
  ostree-boot (support.upstream);
- Debian 13: systemd 257 in a cached ``debootstrap --variant=minbase`` Debian 13 root, with
  that root's own ostree-boot units, run through ``chroot`` (root only).

Each era's verify root holds the era's standard units and its upstream ostree units, the way a
real image has them around ours. Batched helpers keep the process count low: one
``systemd-analyze verify`` call checks many unit files, and ``timespan`` is rerun only after a
string it refuses (it stops at the first).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from support import upstream

UNIT_DIR = "usr/lib/systemd/system"
DEBIAN_13_SUITE = "trixie"
DEBIAN_13_PACKAGES = ("systemd", "ostree-boot")


class Era:
    """One systemd-analyze: ``prefix`` runs it (chroot for Debian 13), ``base`` is the
    filesystem it sees as /, so that scratch files are made where it can read them."""

    def __init__(
        self, name: str, base: Path, prefix: Sequence[str], units: Path, upstream: Path | None
    ) -> None:
        self.name = name
        self.base = base
        self.prefix = list(prefix)
        self.units = units  # the era's standard units
        self.upstream = upstream  # the upstream ostree units, when they are not among them

    def __repr__(self) -> str:
        return self.name

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, "systemd-analyze", *args], capture_output=True, text=True, check=False
        )

    def inside(self, path: Path) -> str:
        """``path`` (under ``base``) as systemd-analyze sees it."""
        return "/" + str(path.relative_to(self.base)).lstrip("/") if self.prefix else str(path)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        parent = self.base / "tmp" if self.prefix else None
        with tempfile.TemporaryDirectory(dir=parent, prefix="oac-era-") as directory:
            yield Path(directory)

    def put_on_path(self, bin_dir: Path, program: str, log: Path | None = None) -> None:
        """A ``program`` script in ``bin_dir`` that runs this era's own (through ``prefix``),
        rewriting ``--root=`` paths under ``base`` to what it sees, so that code calling the
        program by name (the installer, verify) uses this era's; ``log`` records each call."""
        record = f'echo "$*" >> {shlex.quote(str(log))}\n' if log else ""
        base = shlex.quote(str(self.base))
        script = bin_dir / program
        script.write_text(
            "#!/bin/sh\n"
            f"{record}base={base}\n"
            "for arg do\n"
            "    shift\n"
            '    case $arg in --root="$base"/*) arg="--root=${arg#--root=$base}" ;; esac\n'
            '    set -- "$@" "$arg"\n'
            "done\n"
            f'exec {shlex.join([*self.prefix, program])} "$@"\n'
        )
        script.chmod(0o755)

    # --- time spans -----------------------------------------------------------------------

    def timespans(self, texts: Sequence[str]) -> list[int | None]:
        """What systemd makes of each string: microseconds, or None where it refuses it."""
        out: list[int | None] = []
        rest = list(texts)
        while rest:
            result = self.run("timespan", "--", *rest)
            values = [int(v) for v in re.findall(r"^\s+μs: (\d+)$", result.stdout, re.M)]
            out += values
            rest = rest[len(values) :]
            if result.returncode != 0 and rest:
                out.append(None)  # it stops at the first string it refuses
                rest = rest[1:]
            elif result.returncode == 0 and rest:
                raise AssertionError(f"systemd-analyze timespan skipped input: {result.stdout}")
        return out

    # --- verify ---------------------------------------------------------------------------

    def verify_files(self, units: Mapping[str, str]) -> dict[str, list[str]]:
        """``systemd-analyze verify`` of many standalone unit files in one call: the stderr
        lines about each, keyed by file name (an empty list: no warning); lines that name no
        unit ("Accepting user/group name ...") under ""."""
        with self.scratch() as scratch:
            for name, text in units.items():
                (scratch / name).write_text(text)
            result = self.run("verify", "--man=no", *(self.inside(scratch / n) for n in units))
        found: dict[str, list[str]] = {name: [] for name in units}
        found[""] = []
        for line in result.stderr.splitlines():
            match = re.match(r"(?:\S*/)?([^/\s:]+\.service)(?::\d+)?: (.*)", line)
            name = match[1] if match else None
            if name in found:
                found[name].append(line)
            else:
                for unit in units:  # "Unit NAME has a bad unit file setting." and the like
                    if unit in line:
                        found[unit].append(line)
                        break
                else:
                    found[""].append(line)
        return found

    @contextlib.contextmanager
    def root(self) -> Iterator[Path]:
        """A root holding this era's standard and upstream ostree units, to put ours into."""
        with self.scratch() as scratch:
            root = scratch / "root"
            shutil.copytree(self.units, root / UNIT_DIR, symlinks=True)
            if self.upstream is not None:
                for unit in self.upstream.iterdir():
                    if unit.is_file():
                        shutil.copy2(unit, root / UNIT_DIR / unit.name)
            yield root

    def verify_root(self, root: Path, *units: str) -> subprocess.CompletedProcess[str]:
        return self.run("verify", "--man=no", f"--root={self.inside(root)}", *units)


def _debian_12() -> Era | None:
    if shutil.which("systemd-analyze") is None:
        return None
    tree = upstream.ostree_boot_tree()
    if tree is None:
        return None
    standard = Path("/usr/lib/systemd/system")
    return Era("Debian 12 (systemd 252)", Path("/"), [], standard, tree / "lib/systemd/system")


def _debian_13() -> Era | None:
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        return None
    root = _debian_13_root()
    # Debian 13 keeps units in /usr/lib only; ostree-boot's are among them.
    units = root / UNIT_DIR
    if not (units / "ostree-finalize-staged.service").is_file():
        return None
    # A private mount namespace with /proc mounted in the root: without it systemd 257 cannot
    # resolve %b (the boot ID) and warns about every unit that uses it.
    prefix = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"',
        str(root),
    ]
    return Era("Debian 13 (systemd 257)", root, prefix, units, None)


def _debian_13_root() -> Path:
    from support.container import cached_tree, debootstrap

    key = hashlib.sha256(f"{DEBIAN_13_SUITE} {sorted(DEBIAN_13_PACKAGES)}".encode()).hexdigest()
    return cached_tree(
        f"analyze-{DEBIAN_13_SUITE}-{key[:16]}",
        lambda target: debootstrap(target, DEBIAN_13_SUITE, DEBIAN_13_PACKAGES),
    )


@functools.cache
def eras() -> tuple[tuple[str, Era | None, str], ...]:
    """(id, era or None, why it is missing) for Debian 12 and Debian 13."""
    out: list[tuple[str, Era | None, str]] = []
    twelve = _debian_12()
    out.append(
        (
            "debian-12",
            twelve,
            "systemd-analyze is not installed"
            if shutil.which("systemd-analyze") is None
            else upstream.MISSING,
        )
    )
    try:
        thirteen = _debian_13()
        why = "needs root and debootstrap to build a Debian 13 root"
    except RuntimeError as error:
        thirteen, why = None, str(error)
    out.append(("debian-13", thirteen, why))
    return tuple(out)
