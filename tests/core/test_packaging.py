"""A non-editable install gives the three commands, with templates inside the package and
nothing installed as a top-level ``generator`` or ``helper`` module."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

TOP = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(TOP),
        ],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("ostree_autocleanup-*.whl")
    return found


def test_wheel_holds_one_namespace_with_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if ".dist-info/" not in n]
    assert code and all(n.startswith("ostree_autocleanup/") for n in code), code
    tops = {n.split("/")[1] for n in code}
    assert tops == {"generator", "helper", "templates", "presets"}
    for template in (TOP / "templates").glob("*.j2"):
        assert f"ostree_autocleanup/templates/{template.name}" in names
    for preset in (TOP / "presets").glob("*.j2"):
        assert f"ostree_autocleanup/presets/{preset.name}" in names
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
        .decode()
    )
    for script in (
        "ostree-autocleanup =",
        "ostree-autocleanup-generator =",
        "ostree-autocleanup-helper =",
    ):
        assert script in entry_points


def test_installed_wheel_renders_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0 and "No matching distribution" in install.stderr:
        pytest.skip("the package index is not reachable for jinja2/PyYAML")
    assert install.returncode == 0, install.stderr
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not (site / "generator").exists() and not (site / "helper").exists()
    assert (site / "ostree_autocleanup/templates/autocleanup.service.j2").is_file()
    result = subprocess.run(
        [str(venv / "bin/ostree-autocleanup"), "render"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "--- usr/lib/systemd/system/ostree-autocleanup.service ---" in result.stdout
    for command in (
        "ostree-autocleanup",
        "ostree-autocleanup-generator",
        "ostree-autocleanup-helper",
    ):
        assert (venv / "bin" / command).is_file(), command
