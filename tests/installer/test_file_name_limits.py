"""Names at their longest: every writer puts every file in place, and one more is refused.

The validator knows the longest ``name``, ``finalize.unit`` and ``install.wanted-by`` whose files
and temporary names fit (config/filenames.py). Here the real writers prove it: render --output,
install into an image root (with systemctl preset making the .wants/ link), install
--generator, and the installed generator on each of its paths (the sh script unpacking its
archive, the Python warm path, the cold path that renders). If a writer's temporary names
grew, or a new file were longer than the check knows, this fails with "File name too long".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from installer_support import run_cli

from ostree_autocleanup.generator.config import filenames
from support.generator_image import make_image

NAME = "n" * filenames.longest_prefix()
FINALIZE = "f" * (filenames.longest_unit_with(".d") - len(".service")) + ".service"
TARGET = "t" * (filenames.longest_unit_with(".wants") - len(".target")) + ".target"

CONFIGS = {
    "name": f"version: 1\nname: {NAME}\n",
    "all": (
        f"version: 1\nname: {NAME}\nfinalize:\n  unit: {FINALIZE}\n  path-unit: no\n"
        f"install:\n  wanted-by: {TARGET}\n  preset-priority: 0\n"
    ),
}


def test_the_limits_are_what_the_temporary_names_allow() -> None:
    # .ostree-autocleanup-tmp. + 99-NAME-autocleanup.preset + .xxxxxxxx is the longest.
    assert len(NAME) == 255 - len(".ostree-autocleanup-tmp.99--autocleanup.preset.12345678")
    assert len(FINALIZE) == 255 - len(".ostree-autocleanup-tmp..d.12345678")


@pytest.mark.parametrize("label", sorted(CONFIGS))
def test_every_writer_at_the_limit(
    label: str, tmp_path: Path, image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIGS[label])
    finalize = FINALIZE if label == "all" else "ostree-finalize-staged.service"
    if label == "all":
        units = image_root / "usr/lib/systemd/system"
        shutil.copy2(units / "ostree-finalize-staged.service", units / FINALIZE)
        (units / TARGET).write_text("[Unit]\nDescription=A target with a long name\n")
    unit = f"{NAME}-autocleanup.service"

    out = tmp_path / "out"
    result = run_cli(capsys, "render", "-c", str(config), "--output", str(out))
    assert result.status == 0, result.err
    assert (out / "usr/lib/systemd/system" / unit).is_file()

    result = run_cli(capsys, "install", "-c", str(config), "--root", str(image_root))
    assert result.status == 0, result.err
    units = image_root / "usr/lib/systemd/system"
    assert (units / unit).is_file()
    assert any((units / f"{finalize}.d").iterdir())
    wanted_by = TARGET if label == "all" else "multi-user.target"
    assert os.path.islink(image_root / "etc/systemd/system" / f"{wanted_by}.wants" / unit)

    generator_root = tmp_path / "generator-root"
    generator_root.mkdir()
    result = run_cli(
        capsys, "install", "--generator", "-c", str(config), "--root", str(generator_root)
    )
    assert result.status == 0, result.err


@pytest.mark.parametrize("label", sorted(CONFIGS))
@pytest.mark.parametrize("path", ["script", "warm", "cold"])
def test_the_generator_at_the_limit(label: str, path: str, tmp_path: Path) -> None:
    image = make_image(tmp_path)
    image.install(CONFIGS[label] + f"cleanup:\n  helper-path: {image.stub_helper}\n")
    if path == "cold":
        image.drop_precomputed()
    result = image.generate(entry="script" if path == "script" else "python")
    assert result.returncode == 0, result.stderr
    unit = f"{NAME}-autocleanup.service"
    assert result.tree[unit][0] == "file"
    wanted_by = TARGET if label == "all" else "multi-user.target"
    assert result.tree[f"{wanted_by}.wants/{unit}"] == ("link", f"../{unit}".encode())


def test_one_character_more_is_refused_and_nothing_written(
    tmp_path: Path, image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"version: 1\nname: {NAME}n\n")
    before = sorted(p for p in image_root.rglob("*"))
    result = run_cli(capsys, "install", "-c", str(config), "--root", str(image_root))
    assert result.status == 2
    assert f"{config}:2:7: error: name: " in result.err
    assert f"(at most {len(NAME)} characters)" in result.err
    assert sorted(p for p in image_root.rglob("*")) == before


def test_the_reference_states_the_limit() -> None:
    from ostree_autocleanup.generator.config import settings

    assert f"At most {len(NAME)} characters" in settings.BY_KEY["name"].help
