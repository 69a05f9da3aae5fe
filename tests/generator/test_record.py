"""An override in /etc is rendered at most once: the boot that renders it also generates a unit
that records the output (`--record`), and the next boot uses the record while the config files
are byte for byte the ones it was rendered from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ostree_autocleanup.generator.boot.entries import (
    GENERATOR_PATH,
    RECORD_PATH,
    decode_data,
    encode_data,
)
from ostree_autocleanup.generator.boot.record import RECORD_UNIT
from support.generator_image import Image
from support.systemd_eras import UNIT_DIR, Era, eras

OVERRIDE = "etc/ostree-autocleanup/config.yaml"
RECORDER = [
    f"{RECORD_UNIT}",
    f"multi-user.target.wants/{RECORD_UNIT}",
]
USING_RECORD = "config unchanged since it was recorded"
RENDERING = "rendering"


def record_file(image: Image) -> Path:
    return image.root / RECORD_PATH.lstrip("/")


def first_boot(image: Image, extra: str = "name: acme\n") -> dict[str, tuple[str, bytes]]:
    image.install()
    image.write(OVERRIDE, image.config_text(extra))
    result = image.generate(SYSTEMD_LOG_LEVEL="debug")
    assert result.returncode == 0, result.stderr
    assert USING_RECORD not in result.stderr
    return result.tree


def record(image: Image) -> None:
    result = image.run("--record")
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_the_second_boot_after_a_change_uses_the_record(image: Image) -> None:
    rendered = first_boot(image)
    # The boot that rendered pulls in the recording unit, which runs the installed script.
    for rel in RECORDER:
        assert rel in rendered, sorted(rendered)
    unit = rendered[RECORD_UNIT][1].decode()
    assert (
        "ExecStart=/usr/lib/systemd/system-generators/ostree-autocleanup-generator --record\n"
        in unit
    )
    assert not record_file(image).exists()
    record(image)
    assert record_file(image).is_file()

    second = image.generate(SYSTEMD_LOG_LEVEL="debug")
    assert second.returncode == 0, second.stderr
    assert USING_RECORD in second.stderr
    # The same units; no recording unit, there is nothing new to record.
    assert second.tree == {k: v for k, v in rendered.items() if k not in RECORDER}
    assert sorted(second.tree) == [
        "acme-autocleanup.service",
        "multi-user.target.wants/acme-autocleanup.service",
        "ostree-finalize-staged.service.d/50-acme-autocleanup.conf",
    ]
    # Recording again changes nothing.
    before = record_file(image).stat().st_ino
    record(image)
    assert record_file(image).stat().st_ino == before


@pytest.mark.parametrize("how", ["same-size-same-mtime", "new-dropin", "dropin-masked"])
def test_a_changed_config_is_rendered_again_never_taken_from_a_stale_record(
    image: Image, how: str
) -> None:
    first_boot(image, "name: acme\n")
    record(image)
    override = image.root / OVERRIDE
    stat = override.stat()
    if how == "same-size-same-mtime":
        # Content, not mtime or size: an edit that keeps both must still be seen.
        override.write_text(override.read_text().replace("acme", "acmf"))
        os.utime(override, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        expected = "acmf-autocleanup.service"
    elif how == "new-dropin":
        image.write("etc/ostree-autocleanup/config.d/10-b.yaml", "version: 1\nname: bee\n")
        expected = "bee-autocleanup.service"
    else:
        image.write("usr/lib/ostree-autocleanup/config.d/10-b.yaml", "version: 1\nname: bee\n")
        record(image)  # recorded with the shipped drop-in applied
        (image.root / "etc/ostree-autocleanup/config.d").mkdir()
        os.symlink("/dev/null", image.root / "etc/ostree-autocleanup/config.d/10-b.yaml")
        expected = "acme-autocleanup.service"
    result = image.generate(SYSTEMD_LOG_LEVEL="debug")
    assert result.returncode == 0, result.stderr
    assert USING_RECORD not in result.stderr
    assert "config differs from the one recorded" in result.stderr
    assert expected in result.tree, sorted(result.tree)
    assert RECORD_UNIT in result.tree  # and it will be recorded anew


def test_a_record_of_another_version_or_a_broken_one_is_not_used(image: Image) -> None:
    first_boot(image)
    record(image)
    path = record_file(image)
    _version, inputs, entries = decode_data(path.read_bytes())
    path.write_bytes(encode_data("0.0.0-other", inputs, entries))
    other = image.generate(SYSTEMD_LOG_LEVEL="debug")
    assert USING_RECORD not in other.stderr and "acme-autocleanup.service" in other.tree
    for broken in (path.read_bytes()[:-7], b"not a record\n"):
        path.write_bytes(broken)
        result = image.generate(SYSTEMD_LOG_LEVEL="debug")
        assert result.returncode == 0, result.stderr
        assert f"{RECORD_PATH}: " in result.stderr and "; rendering" in result.stderr
        assert "acme-autocleanup.service" in result.tree


def test_no_recording_without_an_etc_override(image: Image) -> None:
    # An override in /run is gone at the next boot, and creating /etc/ostree-autocleanup would
    # make every later boot leave the boot script's no-Python path: nothing is recorded.
    image.install()
    image.write("run/ostree-autocleanup/config.d/10-x.yaml", "version: 1\nname: acme\n")
    result = image.generate()
    assert result.returncode == 0, result.stderr
    assert "acme-autocleanup.service" in result.tree
    assert RECORD_UNIT not in result.tree
    record(image)
    assert not (image.root / "etc/ostree-autocleanup").exists()


def test_dry_run_does_not_ask_for_a_recording(image: Image) -> None:
    image.install()
    image.write(OVERRIDE, image.config_text("name: acme\n"))
    result = image.run("--dry-run")
    assert result.returncode == 0, result.stderr
    assert "==> acme-autocleanup.service <==" in result.stdout
    assert RECORD_UNIT not in result.stdout


def test_a_bad_config_records_nothing(image: Image) -> None:
    first_boot(image)
    record(image)
    good = record_file(image).read_bytes()
    image.write(OVERRIDE, "version: 1\ncleanup:\n  mode: sideways\n")
    result = image.run("--record")
    assert result.returncode == 1
    assert "cleanup.mode" in result.stderr and "nothing recorded" in result.stderr
    assert record_file(image).read_bytes() == good


# A recording killed at each step: before the rename (the new bytes only in a temporary file)
# and right after it. The record is then the old one or the new one, whole, and a later
# recording removes what the killed one left behind.
_KILLED = """\
import os, signal, sys
step = sys.argv.pop(1)
real_replace, real_fsync = os.replace, os.fsync
def replace(src, dst):
    if step == "before-rename":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
    if step == "after-rename":
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from ostree_autocleanup.generator.boot.main import main
sys.exit(main())
"""


@pytest.mark.parametrize("step", ["before-rename", "after-rename"])
def test_a_killed_recording_leaves_the_old_record_or_the_new_one(image: Image, step: str) -> None:
    first_boot(image, "name: acme\n")
    record(image)
    old = record_file(image).read_bytes()
    image.write(OVERRIDE, image.config_text("name: bee\n"))
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED, step, "--record"],
        env=image.env(),
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    directory = record_file(image).parent
    leftovers = [p.name for p in directory.iterdir() if p.name.startswith(".generator-record.tmp-")]
    now = record_file(image).read_bytes()
    result = image.generate(SYSTEMD_LOG_LEVEL="debug")
    assert "bee-autocleanup.service" in result.tree  # never the old units for the new config
    if step == "before-rename":
        assert now == old and len(leftovers) == 1
        assert USING_RECORD not in result.stderr
    else:
        assert now != old and leftovers == []
        assert USING_RECORD in result.stderr
    record(image)
    assert [p.name for p in directory.iterdir()] == [".generator-record", "config.yaml"]
    assert USING_RECORD in image.generate(SYSTEMD_LOG_LEVEL="debug").stderr


ERAS = eras()


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=[e[0] for e in ERAS])
def test_the_recording_unit_verifies_cleanly(
    image: Image, era_id: str, era: Era | None, why: str
) -> None:
    if era is None:
        pytest.skip(why)
    rendered = first_boot(image)
    with era.root() as root:
        (root / UNIT_DIR / RECORD_UNIT).write_bytes(rendered[RECORD_UNIT][1])
        script = root / GENERATOR_PATH.lstrip("/")
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
        result = era.verify_root(root, RECORD_UNIT)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("args", [["--record", "/tmp"], ["--record", "--dry-run"]])
def test_record_takes_no_directories_and_no_dry_run(image: Image, args: list[str]) -> None:
    image.install()
    result = image.run(*args)
    assert result.returncode == 2
    assert "--record takes no directories and no --dry-run" in result.stderr
