"""The rendered units, checked by the real ``systemd-analyze verify`` of both eras (Debian 12's
systemd 252 and Debian 13's 257) in a root that holds that era's standard units and its real
upstream ostree units from the ostree-boot package.

systemd-analyze exits 0 on unknown keys and bad values and only reports them on stderr, and it
checks only the first command of each Exec list: any stderr line fails the test, and every Exec
binary is checked here too.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.rootfs import write_tree
from ostree_autocleanup.generator.units.render import UNIT_DIR, render
from support.systemd_eras import Era, eras
from support.unitfile import parse_unit
from support.verify_config import verifier

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
GOOD = Path(__file__).parent / "cases" / "good"
ERAS = eras()
ERA_IDS = [e[0] for e in ERAS]

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _era(era: Era | None, why: str) -> Era:
    if era is None:
        pytest.skip(why)
    return era


def exec_binaries(text: str) -> list[str]:
    out = []
    for _section, key, value in parse_unit(text):
        if key.startswith("Exec") and value:
            out.append(value.split()[0].lstrip("-@:+!"))
    return out


def configs() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = [("default", [])]
    out += [(p.stem, [str(p)]) for p in EXAMPLES]
    out += [
        (f"good/{p.relative_to(GOOD).with_suffix('')}", [str(p)])
        for p in sorted(GOOD.rglob("*.yaml"))
    ]
    return out


CONFIGS = configs()


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_rendered_units_verify_cleanly(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    failures = []
    with verifier(era) as check:
        for label, files in CONFIGS:
            result = check.verify(load_config(files))
            if result.returncode != 0 or result.stderr:
                failures.append((label, result.stderr))
    assert not failures, failures
    assert len(CONFIGS) > 20


@pytest.mark.parametrize(("label", "files"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_every_exec_binary_is_expected(label: str, files: list[str]) -> None:
    config = load_config(files)
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


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
@pytest.mark.parametrize(
    ("mode", "backend"), list(itertools.product(("full", "prune"), ("helper", "ostree-cli")))
)
def test_every_mode_and_backend_verifies(
    mode: str, backend: str, era_id: str, era: Era | None, why: str, tmp_path: Path
) -> None:
    era = _era(era, why)
    config_file = tmp_path / "c.yaml"
    config_file.write_text(f"version: 1\ncleanup:\n  mode: {mode}\n  backend: {backend}\n")
    with verifier(era) as check:
        result = check.verify(load_config([str(config_file)]))
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_drop_in_extends_the_upstream_finalize_unit(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    config = load_config()
    with era.root() as root:
        write_tree(str(root), render(config))
        shown = era.run(
            f"--root={era.inside(root)}", "cat-config", f"systemd/system/{config.finalize.unit}"
        ).stdout
    stops = [v for _s, k, v in parse_unit(shown) if k == "ExecStop"]
    # Our mark runs after ostree's own finalize command, and only then.
    assert stops == [
        "/usr/bin/ostree admin finalize-staged",
        "-/usr/bin/ostree-autocleanup-helper mark --sysroot /sysroot --stamp /sysroot/.cleanup",
    ]


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_verify_catches_a_broken_unit(era_id: str, era: Era | None, why: str) -> None:
    # The harness must be able to fail: a bad key in our drop-in shows up on stderr.
    era = _era(era, why)
    config = load_config()
    with verifier(era) as check:
        dropin = check.root / UNIT_DIR / f"{config.finalize.unit}.d" / "99-broken.conf"
        dropin.parent.mkdir(parents=True)
        dropin.write_text("[Service]\nExecStopp=/bin/true\n")
        result = check.verify(config)
    assert (
        "Unknown key 'ExecStopp'" in result.stderr
        or "Unknown key name 'ExecStopp'" in result.stderr
    )
