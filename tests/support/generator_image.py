"""For the generator tests: an image root with the generator installed the way `install --generator` installs it.

The installed generator is run as systemd runs it: a process with the output directories as
argv. OSTREE_AUTOCLEANUP_ROOT points it at the image root instead of /.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ostree_autocleanup.generator.boot.entries import DATA_PATH
from ostree_autocleanup.generator.boot.image import (
    GENERATOR_PATH,
    generator_files,
    write_generator_files,
)
from ostree_autocleanup.generator.config.load import load_config

Tree = dict[str, tuple[str, bytes]]

# How each entry point is started: the boot script `install --generator` writes, the Python
# module directly (what the script execs), and the console script pip installs.
ENTRY_POINTS = ("script", "python", "console")


def snapshot(directory: Path) -> Tree:
    """Every file and symlink under DIRECTORY, as (kind, bytes or link target)."""
    tree: Tree = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in filenames + dirnames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(directory))
            if path.is_symlink():
                tree[rel] = ("link", os.readlink(path).encode())
            elif path.is_file():
                tree[rel] = ("file", path.read_bytes())
    return tree


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    tree: Tree = field(default_factory=dict)


@dataclass
class Image:
    root: Path
    tmp: Path
    stub_helper: Path

    @property
    def script(self) -> Path:
        return self.root / GENERATOR_PATH.lstrip("/")

    def install(self, *configs: str, python: str = sys.executable) -> None:
        """Install the generator for config texts CONFIGS (-c files, in order) into the root."""
        paths = []
        for index, text in enumerate(configs):
            path = self.tmp / f"input-{index}.yaml"
            path.write_text(text)
            paths.append(str(path))
        config = load_config(paths) if paths else load_config([self.default_config()])
        write_generator_files(str(self.root), generator_files(config, python=python))

    def default_config(self) -> str:
        path = self.tmp / "default.yaml"
        path.write_text(self.config_text())
        return str(path)

    def config_text(self, extra: str = "") -> str:
        # systemd-analyze verify checks that ExecStart= names an executable file.
        return f"version: 1\ncleanup:\n  helper-path: {self.stub_helper}\n{extra}"

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def command(self, entry: str) -> list[str]:
        if entry == "script":
            return [str(self.script)]
        if entry == "python":
            return [sys.executable, "-m", "ostree_autocleanup.generator.boot.main"]
        console = Path(sys.executable).parent / "ostree-autocleanup-generator"
        # A missing console script is a packaging bug (pip install -e . makes it), not a reason
        # to skip: the tests through it would otherwise pass with it broken.
        assert console.exists(), (
            f"the ostree-autocleanup-generator console script is not at {console}"
        )
        return [str(console)]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}
        env.update(OSTREE_AUTOCLEANUP_ROOT=str(self.root), SYSTEMD_LOG_TARGET="console")
        env.update(extra)
        return env

    def run(self, *args: str, entry: str = "script", out: Path | None = None, **env: str) -> Result:
        """Run the generator with ARGS; the result's tree is OUT's content afterwards."""
        proc = subprocess.run(
            [*self.command(entry), *args],
            capture_output=True,
            text=True,
            env=self.env(**env),
            check=False,
        )
        tree = snapshot(out) if out is not None else {}
        return Result(proc.returncode, proc.stdout, proc.stderr, tree)

    def generate(self, entry: str = "script", **env: str) -> Result:
        """Run the generator as systemd does, into fresh output directories."""
        base = self.tmp / f"out-{len(list(self.tmp.glob('out-*')))}"
        normal, early, late = base / "normal", base / "early", base / "late"
        for d in (normal, early, late):
            d.mkdir(parents=True)
        result = self.run(str(normal), str(early), str(late), entry=entry, out=normal, **env)
        assert not any(early.iterdir()) and not any(late.iterdir()), "wrote outside NORMAL_DIR"
        return result

    def drop_precomputed(self) -> None:
        (self.root / DATA_PATH.lstrip("/")).unlink()


def make_image(tmp_path: Path) -> Image:
    stub = tmp_path / "bin" / "ostree-autocleanup-helper"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    root = tmp_path / "root"
    root.mkdir()
    return Image(root=root, tmp=tmp_path, stub_helper=stub)
