"""``finalize.path-unit: auto`` on each platform, read off the image and the booted system.

ostree before 2025.2 starts its finalize unit through ostree-finalize-staged.path, so auto
enables it there; 2025.2 removed it, and there nothing the project installs or generates may
name or enable it, its own preset included (a link to a missing unit is a boot-time warning,
a preset line a promise nothing keeps). Debian 12's own package already enables the path
unit: the project's part is read from its install manifest, which lists what its preset
enabled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.platforms import Platform

from .conftest import MakeSystem
from .observe import (
    FINALIZE_PATH,
    check_path_unit,
    check_path_unit_report,
    diagnose,
    status_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

MANIFEST = "usr/lib/ostree-autocleanup/install-manifest.json"
# Where units, presets, enablement links and generated units live, in a deployment or at boot.
UNIT_TREES = ("usr/lib/systemd", "etc/systemd", "usr/lib/ostree-autocleanup")
GENERATED_TREES = ("/run/systemd/generator", "/run/systemd/generator.early")
GENERATED_TREES += ("/run/systemd/generator.late",)


# The generator's compiled templates: one source for every platform, what they render is checked.
TEMPLATES = "usr/lib/ostree-autocleanup/generator/templates"


def naming_path_unit(root: Path, trees: tuple[str, ...]) -> list[str]:
    """Every entry under root's trees named after, linking to or mentioning the path unit."""
    found = []
    for tree in trees:
        for directory, _, files in os.walk(root / tree.lstrip("/")):
            if Path(directory) == root / TEMPLATES:
                continue
            for name in files:
                path = Path(directory, name)
                where = str(path.relative_to(root))
                if name == FINALIZE_PATH:
                    found.append(where)
                elif path.is_symlink():
                    if os.readlink(path).endswith(FINALIZE_PATH):
                        found.append(f"{where} -> {os.readlink(path)}")
                elif path.is_file() and FINALIZE_PATH.encode() in path.read_bytes():
                    found.append(f"{where} (mentions it)")
    return sorted(found)


@pytest.mark.parametrize("generator", [False, True], ids=["units", "generator"])
def test_auto_enables_the_path_unit_exactly_where_ostree_ships_it(
    make_system: MakeSystem, platform: Platform, generator: bool
) -> None:
    system = make_system(None, generator)
    deployment = system.image.next_boot()
    installed = naming_path_unit(deployment, UNIT_TREES)
    manifest = json.loads((deployment / MANIFEST).read_text())

    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        check_path_unit(container, platform)
        enabled = container.run(["systemctl", "is-enabled", FINALIZE_PATH], check=False)
        generated = naming_path_unit(container.root, GENERATED_TREES)
        report_units = container.run(["ostree-autocleanup", "status", "--json"]).stdout
        report = json.loads(report_units)
        text = status_text(container)
        assert container.poweroff() == 0

    check_path_unit_report(report, platform)
    assert generated == [], generated
    if platform.finalize_path_unit:
        assert enabled.stdout.strip() == "enabled", enabled
        assert f"{FINALIZE_PATH}: active (waiting), enabled" in text, text
        link = f"etc/systemd/system/multi-user.target.wants/{FINALIZE_PATH}"
        assert any(entry.startswith(link) for entry in installed), installed
        if not generator:
            assert FINALIZE_PATH in manifest["units"], manifest
    else:
        assert enabled.returncode != 0, enabled
        assert f"{FINALIZE_PATH}: not-found" in text, text
        assert FINALIZE_PATH not in manifest.get("units", []), manifest
        assert installed == [], installed
