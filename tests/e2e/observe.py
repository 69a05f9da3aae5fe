"""What the end-to-end tests read off a running system: its units and ``status``."""

from __future__ import annotations

import json
from typing import Any

from support.container import Container
from support.platforms import Platform

from .project import run_cli

SERVICE = "ostree-autocleanup.service"
FINALIZE = "ostree-finalize-staged.service"
FINALIZE_PATH = "ostree-finalize-staged.path"


def diagnose(container: Container) -> str:
    status = container.run(
        ["systemctl", "status", "--no-pager", "-l", SERVICE, FINALIZE], check=False
    )
    failed = container.run(["systemctl", "--failed", "--plain", "--no-pager"], check=False)
    return f"\n{failed.stdout}\n{status.stdout}\n--- journal ---\n{container.journal()[-6000:]}"


def check_path_unit(container: Container, platform: Platform) -> None:
    """ostree's path unit as `finalize.path-unit: auto` leaves it: enabled where ostree ships it."""
    unit = container.show(FINALIZE_PATH, "LoadState", "UnitFileState", "ActiveState")
    if platform.finalize_path_unit:
        assert unit == {"LoadState": "loaded", "UnitFileState": "enabled", "ActiveState": "active"}
    else:
        assert unit["LoadState"] == "not-found", unit


def check_path_unit_report(report: dict[str, Any], platform: Platform) -> None:
    """What `status` says about ostree's path unit."""
    unit = report["units"][FINALIZE_PATH]
    if platform.finalize_path_unit:
        assert (unit["load_state"], unit["enabled"], unit["active_state"]) == (
            "loaded",
            True,
            "active",
        ), unit
    else:
        assert (unit["load_state"], unit["enabled"]) == ("not-found", False), unit


def check_sysroot_read_only(container: Container) -> None:
    """/sysroot and /boot are read-only mounts for the system: a root shell cannot write them."""
    for path in ("/sysroot", "/boot"):
        options = container.run(["findmnt", "-n", "-o", "OPTIONS", path]).stdout.strip()
        assert "ro" in options.split(","), f"{path}: {options}"
        probe = container.run(["touch", f"{path}/.e2e-write-probe"], check=False)
        assert probe.returncode != 0 and "Read-only file system" in probe.stderr, probe


def status_report(container: Container) -> dict[str, Any]:
    """``ostree-autocleanup status --json`` asked from the host over the container's bus."""
    result = run_cli(
        [
            "status",
            "--json",
            "--bus-address",
            container.bus_address,
            "--root",
            str(container.root),
        ]
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def status_text(container: Container) -> str:
    result = run_cli(
        ["status", "--bus-address", container.bus_address, "--root", str(container.root)]
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
