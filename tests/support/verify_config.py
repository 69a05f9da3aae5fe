"""Rendered units of a config, verified by an era's systemd-analyze among real Debian units.

One root per era holds that era's standard units and its upstream ostree units; each config's
files are written into it, verified, and removed again, so that many configs cost one copy of
the standard units. The Exec binaries systemd-analyze looks for inside the root are stubs, and
a finalize unit other than ostree's is the upstream one under that name.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ostree_autocleanup.generator.config.model import Config
from ostree_autocleanup.generator.units.render import UNIT_DIR, render
from support.systemd_eras import Era

UPSTREAM_FINALIZE = "ostree-finalize-staged.service"


class ConfigVerifier:
    def __init__(self, era: Era, root: Path) -> None:
        self.era = era
        self.root = root

    def verify(self, config: Config) -> subprocess.CompletedProcess[str]:
        """systemd-analyze verify of the cleanup unit (and its timer, with scheduling.delay)
        and the finalize unit with our drop-in."""
        made: list[Path] = []
        try:
            for rel, text in render(config).items():
                path = self.root / rel
                made += [p for p in (path, *path.parents) if not p.exists()]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            finalize = self.root / UNIT_DIR / config.finalize.unit
            if not finalize.exists():
                made.append(finalize)
                shutil.copy2(self.root / UNIT_DIR / UPSTREAM_FINALIZE, finalize)
            for binary in (config.cleanup.helper_path, config.cleanup.ostree_path, "/usr/bin/rm"):
                stub = self.root / binary.lstrip("/")
                if not stub.exists():
                    made += [p for p in (stub, *stub.parents) if not p.exists()]
                    stub.parent.mkdir(parents=True, exist_ok=True)
                    stub.write_text("#!/bin/sh\nexit 0\n")
                    stub.chmod(0o755)
            for binary in ("/usr/bin/touch", "/usr/bin/ostree"):
                stub = self.root / binary.lstrip("/")
                if not stub.exists():
                    stub.parent.mkdir(parents=True, exist_ok=True)
                    stub.write_text("#!/bin/sh\nexit 0\n")
                    stub.chmod(0o755)
            units = [config.unit_name, config.finalize.unit]
            if config.scheduling.delayed:
                units.append(config.timer_name)
            return self.era.verify_root(self.root, *units)
        finally:
            for path in sorted(set(made), key=lambda p: len(p.parts), reverse=True):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


@contextlib.contextmanager
def verifier(era: Era) -> Iterator[ConfigVerifier]:
    with era.root() as root:
        yield ConfigVerifier(era, root)
