"""The rendered units, checked by the real ``systemd-analyze verify`` in a root that holds the
host's standard units and the real upstream ostree units from Debian's ostree-boot package.

systemd-analyze exits 0 on unknown keys and bad values and only reports them on stderr, and it
checks only the first command of each Exec list: any stderr line fails the test, and every Exec
binary is checked here too.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.config.model import Config
from ostree_autocleanup.generator.rootfs import write_tree
from ostree_autocleanup.generator.units.render import UNIT_DIR, render
from support.unitfile import parse_unit
from support.upstream import ostree_boot_tree

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
HOST_UNITS = Path("/usr/lib/systemd/system")

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@pytest.fixture(scope="module")
def upstream() -> Path:
    tree = ostree_boot_tree()
    if tree is None:
        pytest.skip("Debian's ostree-boot package could not be downloaded (apt-get download)")
    return tree / "lib/systemd/system"


def exec_binaries(text: str) -> list[str]:
    out = []
    for _section, key, value in parse_unit(text):
        if key.startswith("Exec") and value:
            out.append(value.split()[0].lstrip("-@:+!"))
    return out


def build_root(tmp: Path, config: Config, upstream: Path) -> Path:
    root = tmp / "root"
    shutil.copytree(HOST_UNITS, root / UNIT_DIR, symlinks=True)
    for unit in upstream.iterdir():
        shutil.copy2(unit, root / UNIT_DIR / unit.name)
    write_tree(str(root), render(config))
    # systemd-analyze checks that the first command of each Exec list exists in the root.
    for binary in {
        config.cleanup.helper_path,
        config.cleanup.ostree_path,
        "/usr/bin/rm",
        "/usr/bin/touch",
    }:
        stub = root / binary.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return root


def verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", *units],
        capture_output=True,
        text=True,
        check=False,
    )


def configs() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = [("default", [])]
    out += [(p.stem, [str(p)]) for p in EXAMPLES]
    return out


@pytest.mark.parametrize(("label", "files"), configs(), ids=[c[0] for c in configs()])
def test_rendered_units_verify_cleanly(
    label: str, files: list[str], tmp_path: Path, upstream: Path
) -> None:
    config = load_config(files)
    root = build_root(tmp_path, config, upstream)
    result = verify(root, config.unit_name, config.finalize.unit)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    expected = {
        config.cleanup.helper_path,
        config.cleanup.ostree_path,
        "/usr/bin/rm",
        "/usr/bin/touch",
    }
    for path, text in render(config).items():
        if not path.startswith(UNIT_DIR + "/"):
            continue
        for binary in exec_binaries(text):
            assert binary in expected, f"{path} runs an unexpected {binary}"
            if binary in ("/usr/bin/rm", "/usr/bin/touch"):
                assert os.access(binary, os.X_OK), f"{binary} is not on this system"


@pytest.mark.parametrize(
    ("mode", "backend"), list(itertools.product(("full", "prune"), ("helper", "ostree-cli")))
)
def test_every_mode_and_backend_verifies(
    mode: str, backend: str, tmp_path: Path, upstream: Path
) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(f"version: 1\ncleanup:\n  mode: {mode}\n  backend: {backend}\n")
    config = load_config([str(config_file)])
    root = build_root(tmp_path, config, upstream)
    result = verify(root, config.unit_name, config.finalize.unit)
    assert (result.returncode, result.stderr) == (0, "")


def test_drop_in_extends_the_upstream_finalize_unit(tmp_path: Path, upstream: Path) -> None:
    config = load_config()
    root = build_root(tmp_path, config, upstream)
    shown = subprocess.run(
        [
            "systemd-analyze",
            f"--root={root}",
            "cat-config",
            f"systemd/system/{config.finalize.unit}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stops = [v for _s, k, v in parse_unit(shown) if k == "ExecStop"]
    # Our mark runs after ostree's own finalize command, and only then.
    assert stops == [
        "/usr/bin/ostree admin finalize-staged",
        "-/usr/bin/ostree-autocleanup-helper mark --sysroot /sysroot --stamp /sysroot/.cleanup",
    ]


def test_verify_catches_a_broken_unit(tmp_path: Path, upstream: Path) -> None:
    # The harness must be able to fail: a bad key in our drop-in shows up on stderr.
    config = load_config()
    root = build_root(tmp_path, config, upstream)
    dropin = root / UNIT_DIR / f"{config.finalize.unit}.d" / config.dropin_name
    dropin.write_text(dropin.read_text() + "ExecStopp=/bin/true\n")
    result = verify(root, config.finalize.unit)
    assert "Unknown key 'ExecStopp'" in result.stderr
