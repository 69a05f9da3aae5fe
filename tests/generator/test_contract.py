"""The generator contract of systemd.generator(7) and DESIGN.md: argv, environment, failures,
logging. Every entry point (boot script, Python module, console script) keeps it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from support.generator_image import ENTRY_POINTS, Image

UNIT = "ostree-autocleanup.service"
USAGE = "usage: ostree-autocleanup-generator NORMAL_DIR [EARLY_DIR LATE_DIR]"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("count", [0, 1, 2, 3, 4])
def test_one_or_three_directories_else_usage_error(image: Image, entry: str, count: int) -> None:
    image.install()
    dirs = [image.tmp / f"d{i}" for i in range(count)]
    for d in dirs:
        d.mkdir()
    result = image.run(*map(str, dirs), entry=entry)
    written = {d.name: sorted(os.listdir(d)) for d in dirs if os.listdir(d)}
    if count in (1, 3):
        assert (result.returncode, result.stderr) == (0, "")
        # Only the first (normal) directory is written to.
        assert list(written) == ["d0"] and UNIT in written["d0"]
    else:
        assert result.returncode == 2
        assert f"expected 1 or 3 output directories, got {count}" in result.stderr
        assert USAGE in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert written == {}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_help_prints_usage(image: Image, entry: str) -> None:
    image.install()
    result = image.run("--help", entry=entry)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(USAGE)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_unknown_option_is_a_usage_error(image: Image, entry: str) -> None:
    image.install()
    result = image.run("--frobnicate", str(image.tmp), entry=entry)
    assert result.returncode == 2
    assert "unknown option --frobnicate" in result.stderr


BAD_CONFIG = "version: 1\nname: acme\ncleanup:\n  mode: sideways\n"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_bad_config_writes_nothing_and_logs_file_and_line(image: Image, entry: str) -> None:
    image.install()
    bad = image.write("etc/ostree-autocleanup/config.yaml", BAD_CONFIG)
    result = image.generate(entry)
    assert result.returncode == 1
    assert result.tree == {}
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert re.fullmatch(
        rf"ostree-autocleanup-generator\[\d+\]: {re.escape(str(bad))}:4:9: error: cleanup\.mode: .*",
        lines[0],
    ), lines
    assert lines[-1].endswith("invalid configuration; no units generated")


def test_bad_dropin_among_good_files_still_writes_nothing(image: Image) -> None:
    image.install()
    image.write("run/ostree-autocleanup/config.d/10-good.yaml", "version: 1\nname: acme\n")
    image.write("run/ostree-autocleanup/config.d/20-bad.yaml", "version: 1\nnice: [\n")
    result = image.generate()
    assert result.returncode == 1
    assert result.tree == {}
    assert "/run/ostree-autocleanup/config.d/20-bad.yaml:" in result.stderr


@pytest.mark.parametrize("entry", ["script", "python"])
def test_write_failure_leaves_no_partial_output(image: Image, entry: str) -> None:
    image.install()
    out = image.tmp / "out"
    out.mkdir()
    # The unit's name is taken by a directory that is not empty: the wants link comes first
    # in order, the drop-in after, and both must be taken back.
    (out / "ostree-autocleanup.service").mkdir()
    (out / "ostree-autocleanup.service" / "keep").write_text("in the way\n")
    result = image.run(str(out), entry=entry, out=out)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "cannot write units into" in result.stderr
    assert result.tree == {"ostree-autocleanup.service/keep": ("file", b"in the way\n")}
    assert sorted(os.listdir(out)) == ["ostree-autocleanup.service"]


@pytest.mark.parametrize("entry", ["script", "python"])
@pytest.mark.parametrize("how", ["env", "initrd-release"])
def test_initrd_does_nothing(image: Image, entry: str, how: str) -> None:
    image.install()
    image.write("etc/ostree-autocleanup/config.yaml", BAD_CONFIG)
    if how == "env":
        result = image.generate(entry, SYSTEMD_IN_INITRD="1")
    else:
        image.write("etc/initrd-release", "NAME=initrd\n")
        result = image.generate(entry)
    # Not even the bad config is looked at.
    assert (result.returncode, result.stderr, result.tree) == (0, "", {})


def test_in_initrd_0_overrides_initrd_release(image: Image) -> None:
    image.install()
    image.write("etc/initrd-release", "NAME=initrd\n")
    result = image.generate(SYSTEMD_IN_INITRD="0")
    assert result.returncode == 0 and UNIT in result.tree


@pytest.mark.parametrize("level", ["info", "6", "debug", "7"])
def test_log_level_is_honoured(image: Image, level: str) -> None:
    image.install()
    (image.root / "etc/ostree-autocleanup").mkdir(parents=True)
    result = image.generate("script", SYSTEMD_LOG_LEVEL=level)
    assert result.returncode == 0
    debug = "using the precomputed units" in result.stderr
    assert debug == (level in ("debug", "7"))


def test_log_level_err_hides_nothing_that_matters(image: Image) -> None:
    image.install()
    image.write("etc/ostree-autocleanup/config.yaml", BAD_CONFIG)
    quiet = image.generate("script", SYSTEMD_LOG_LEVEL="crit")
    assert quiet.returncode == 1 and quiet.stderr == ""
    loud = image.generate("script", SYSTEMD_LOG_LEVEL="err")
    assert "error: cleanup.mode" in loud.stderr


def _kmsg_reader() -> int:
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        pytest.skip(f"/dev/kmsg cannot be read here ({e.strerror})")
    os.lseek(fd, 0, os.SEEK_END)
    return fd


def _kmsg_records(fd: int) -> list[str]:
    records = []
    while True:
        try:
            records.append(os.read(fd, 8192).decode("utf-8", "replace"))
        except BlockingIOError:
            return records


@pytest.mark.parametrize("entry", ["script", "python"])
def test_logs_go_to_the_kernel_log_with_a_priority(image: Image, entry: str) -> None:
    image.install()
    image.write("etc/ostree-autocleanup/config.yaml", BAD_CONFIG)
    out = image.tmp / "out"
    out.mkdir()
    fd = _kmsg_reader()
    try:
        # The boot script execs Python, so the PID in every record is the one started here.
        proc = subprocess.Popen(
            [*image.command(entry), str(out)],
            stderr=subprocess.PIPE,
            text=True,
            env=image.env(SYSTEMD_LOG_TARGET="auto"),
        )
        _, stderr = proc.communicate()
        records = _kmsg_records(fd)
    finally:
        os.close(fd)
    assert proc.returncode == 1
    assert stderr == ""
    ours = [r for r in records if f"ostree-autocleanup-generator[{proc.pid}]: " in r]
    # /dev/kmsg reads back as "PRIORITY,SEQ,TIME,FLAGS;MESSAGE": daemon facility (3), err (3).
    assert ours, records
    for record in ours:
        assert re.match(rf"27,\d+,\d+,[-c];ostree-autocleanup-generator\[{proc.pid}\]: ", record)
    assert any("error: cleanup.mode" in r for r in ours)
    assert os.listdir(out) == []


def test_an_interpreter_without_the_package_says_so_in_the_kernel_log(tmp_path: Path) -> None:
    from ostree_autocleanup.generator.boot.image import _PY_ENTRY

    # Debian's python3 isolated (-I -S) as the boot script runs it: it cannot see the venv's
    # package, as on a system where the package was installed for another interpreter.
    fd = _kmsg_reader()
    try:
        proc = subprocess.Popen(
            ["/usr/bin/python3", "-I", "-S", "-c", _PY_ENTRY, str(tmp_path)],
            stderr=subprocess.PIPE,
            text=True,
        )
        _, stderr = proc.communicate()
        records = _kmsg_records(fd)
    finally:
        os.close(fd)
    assert proc.returncode == 1
    ours = [r for r in records if f"ostree-autocleanup-generator[{proc.pid}]: " in r]
    assert len(ours) == 1, (records, stderr)
    assert re.match(
        rf"27,\d+,\d+,[-c];ostree-autocleanup-generator\[{proc.pid}\]: cannot start ", ours[0]
    )
    assert "no units generated" in ours[0] and stderr == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.root
@pytest.mark.parametrize("entry", ["script", "python"])
def test_no_kmsg_falls_back_to_stderr(image: Image, entry: str) -> None:
    image.install()
    image.write("etc/ostree-autocleanup/config.yaml", BAD_CONFIG)
    out = image.tmp / "out"
    out.mkdir()
    # Whether this machine can make a private /dev at all is asked apart from the generator, so
    # that whatever the generator then does (an exit status of 2, a crash) fails the test.
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /dev"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private /dev here: {probe.stderr.strip()}")
    # A private mount namespace whose /dev lacks kmsg, as in some containers.
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount -t tmpfs none /dev && exec "$@"',
            "-",
            *image.command(entry),
            str(out),
        ],
        capture_output=True,
        text=True,
        env=image.env(SYSTEMD_LOG_TARGET="auto"),
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert re.search(
        r"^ostree-autocleanup-generator\[\d+\]: .*error: cleanup\.mode", proc.stderr, re.M
    )
    assert os.listdir(out) == []


def test_internal_error_is_one_line_not_a_traceback(image: Image, tmp_path: Path) -> None:
    image.install()
    # A directory where the precomputed-data file should be: reading it fails unexpectedly.
    data = image.root / "usr/lib/ostree-autocleanup/generator/precomputed"
    data.unlink()
    data.mkdir()
    (image.root / "etc/ostree-autocleanup").mkdir(parents=True)
    result = image.generate("python")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "precomputed: Is a directory; no units generated" in result.stderr


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_version_flag(image: Image, entry: str) -> None:
    image.install()
    result = image.run("--version", entry=entry)
    assert (result.returncode, result.stderr) == (0, "")
    assert re.fullmatch(r"ostree-autocleanup-generator \d+\.\d+\.\d+\S*\n", result.stdout)
