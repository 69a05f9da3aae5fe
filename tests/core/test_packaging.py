"""A non-editable install gives the three commands, with templates inside the package and
nothing installed as a top-level ``generator`` or ``helper`` module; the wheel carries the man
pages and completions as data files; the sdist builds; the build warns about nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from ostree_autocleanup.generator.docs import distfiles
from support.source_tree import copy_for_build

TOP = Path(__file__).parents[2]
DATA = "ostree_autocleanup-{version}.data/data/share/"


def _build(what: str, source: Path, out: Path) -> tuple[Path, str]:
    """``python -m build --WHAT`` without isolation (the test extra has setuptools>=77);
    the built file and everything the build printed."""
    # PYTHONDONTWRITEBYTECODE makes setuptools print "byte-compiling is disabled" warnings that
    # say something about this environment, not about the project.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            f"--{what}",
            "--no-isolation",
            "--outdir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    suffix = ".whl" if what == "wheel" else ".tar.gz"
    (found,) = out.glob(f"ostree_autocleanup-*{suffix}")
    return found, result.stdout + result.stderr


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    source = copy_for_build(tmp_path_factory.mktemp("source") / "tree")
    return _build("wheel", source, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def wheel(built_wheel: tuple[Path, str]) -> Path:
    return built_wheel[0]


def _share_files(wheel: Path) -> dict[str, str]:
    archive = zipfile.ZipFile(wheel)
    version = wheel.name.split("-")[1]
    prefix = DATA.format(version=version)
    return {
        name[len(prefix) :]: archive.read(name).decode()
        for name in archive.namelist()
        if name.startswith(prefix)
    }


def test_the_build_prints_no_warning(built_wheel: tuple[Path, str]) -> None:
    _, output = built_wheel
    noisy = [
        line for line in output.splitlines() if "warn" in line.lower() or "deprecat" in line.lower()
    ]
    assert noisy == []


def test_wheel_carries_the_man_pages_and_completions_as_data(wheel: Path) -> None:
    # Exactly what distfiles renders for a package, under the installation prefix's share/.
    assert _share_files(wheel) == distfiles.share_files()
    assert "man/man8/ostree-autocleanup.8" in _share_files(wheel)


def test_the_sdist_is_complete_and_builds_the_same_wheel(wheel: Path, tmp_path: Path) -> None:
    sdist, _ = _build("sdist", copy_for_build(tmp_path / "tree"), tmp_path / "sdist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked")  # built just above: nothing untrusted in it
    (source,) = (tmp_path / "unpacked").iterdir()
    assert not (source / "tests").exists()  # the tests stay in the repository
    rebuilt, output = _build("wheel", source, tmp_path / "from-sdist")
    assert "warn" not in output.lower()
    ours = sorted(n for n in zipfile.ZipFile(wheel).namelist() if not n.endswith("RECORD"))
    theirs = sorted(n for n in zipfile.ZipFile(rebuilt).namelist() if not n.endswith("RECORD"))
    assert theirs == ours
    assert _share_files(rebuilt) == _share_files(wheel)


def test_wheel_holds_one_namespace_with_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if ".dist-info/" not in n and ".data/" not in n]
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
    # man-db derives share/man from each bin/ on PATH: the unit's man: link works from a venv.
    if shutil.which("man") is None:
        pytest.skip("man-db is not installed")
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for page, section in (("ostree-autocleanup", "8"), ("ostree-autocleanup.yaml", "5")):
        found = subprocess.run(
            ["man", "-w", section, page], capture_output=True, text=True, env=env, check=False
        )
        assert found.stdout.strip() == str(venv / f"share/man/man{section}/{page}.{section}")
