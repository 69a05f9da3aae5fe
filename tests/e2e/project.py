"""Put this project into an OS tree the way a distribution package would.

The wheel is built from the working tree, unpacked for the image's own /usr/bin/python3
(Debian's dist-packages, console scripts with a ``#!/usr/bin/python3`` shebang), and then the
project's own ``ostree-autocleanup install --root`` writes and enables the units.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from support.source_tree import copy_for_build

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_PACKAGES = "usr/lib/python3/dist-packages"


def _can_build_offline() -> bool:
    """The running environment's setuptools and wheel can build the project by themselves.

    Both must be importable and setuptools as new as pyproject's build-system asks: a venv that
    Debian's python3-venv seeded has setuptools 66, which cannot read the SPDX license field.
    """
    if not all(importlib.util.find_spec(name) for name in ("setuptools", "wheel")):
        return False
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    wanted = re.search(r'^requires = \[.*"setuptools>=([0-9.]+)"', pyproject, re.MULTILINE)
    if wanted is None:
        return False
    return _version_tuple(importlib.metadata.version("setuptools")) >= _version_tuple(
        wanted.group(1)
    )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def build_wheel(outdir: Path) -> Path:
    """A wheel of the working tree.

    Built from a private copy of the tree (support.source_tree says why).
    Offline with the test environment's setuptools and wheel when they can build it (the test
    extra brings both); otherwise pip fetches them into an isolated build.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(outdir)]
    if _can_build_offline():
        args += ["--no-build-isolation", "--no-index"]
    with tempfile.TemporaryDirectory(prefix="ostree-autocleanup-wheel-") as scratch:
        source = copy_for_build(Path(scratch) / "source")
        result = subprocess.run([*args, str(source)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building the wheel failed:\n{result.stdout}{result.stderr}")
    wheels = sorted(outdir.glob("ostree_autocleanup-*.whl"))
    if not wheels:
        raise RuntimeError(f"no wheel in {outdir}")
    return wheels[-1]


def install_wheel(wheel: Path, root: Path) -> list[str]:
    """Unpack the wheel under root for /usr/bin/python3; the console scripts it declares."""
    site = root / SITE_PACKAGES
    site.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            target = (site / member).resolve()
            if site.resolve() not in target.parents:
                raise RuntimeError(f"wheel member {member} leaves the site directory")
        archive.extractall(site)
        dist_info = next(
            name.split("/", 1)[0] for name in archive.namelist() if ".dist-info/" in name
        )
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    scripts = []
    bindir = root / "usr" / "bin"
    for name, spec in parser.items("console_scripts"):
        module, _, function = spec.partition(":")
        script = bindir / name
        # A new file, never a write through an existing hardlink into the repo's objects.
        if script.exists() or script.is_symlink():
            script.unlink()
        script.write_text(
            "#!/usr/bin/python3\n"
            "import sys\n"
            f"from {module.strip()} import {function.strip()}\n"
            f"sys.exit({function.strip()}())\n"
        )
        os.chmod(script, 0o755)
        scripts.append(name)
    return sorted(scripts)


def cli_command() -> list[str]:
    """The project's CLI from the test environment (the code under test, not an image copy)."""
    script = Path(sys.executable).parent / "ostree-autocleanup"
    if script.exists():
        return [str(script)]
    found = shutil.which("ostree-autocleanup")
    if found is None:
        raise RuntimeError("ostree-autocleanup is not installed in the test environment")
    return [found]


def run_cli(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_command(), *args], capture_output=True, text=True, check=False)


def install_units(root: Path, config: Path | None, generator: bool) -> str:
    """``ostree-autocleanup install --root`` into an OSTree-shaped tree; its output.

    The tree keeps /etc in usr/etc, as a commit does; install runs before that move in a real
    image build, so whatever it writes to etc/ (enablement links) is merged into usr/etc after.
    """
    args = ["install", "--root", str(root)]
    if config is not None:
        args += ["-c", str(config)]
    if generator:
        args.append("--generator")
    result = run_cli(args)
    if result.returncode != 0:
        raise RuntimeError(
            f"ostree-autocleanup {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    etc = root / "etc"
    if etc.is_dir() and not etc.is_symlink():
        merge_tree(etc, root / "usr" / "etc")
        shutil.rmtree(etc)
    return result.stdout + result.stderr


def merge_tree(source: Path, dest: Path) -> None:
    """Move source's entries into dest; entries of source win."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(source):
        target = dest / entry.name
        if entry.is_dir(follow_symlinks=False) and target.is_dir() and not target.is_symlink():
            merge_tree(Path(entry.path), target)
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry.path, target)
