"""systemd runs the installed generator (`systemd-analyze verify --generators=yes`) and loads its
output next to the real upstream ostree units from Debian's ostree-boot package.

systemd-analyze exits 0 on unknown keys and bad values and only reports them on stderr, so any
stderr line is a failure. It only logs a failing generator: the exit status is checked by
calling the generator directly in test_contract.py.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from ostree_autocleanup.generator.boot.entries import UNITS_ARCHIVE
from ostree_autocleanup.generator.boot.image import units_archive
from support.generator_image import Image
from support.upstream import require_tree

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@pytest.fixture(scope="module")
def upstream() -> Path:
    return require_tree() / "lib/systemd/system"


def verify(image: Image, upstream: Path, *units: str) -> subprocess.CompletedProcess[str]:
    generators = image.tmp / "generators"
    generators.mkdir(exist_ok=True)
    link = generators / image.script.name
    if not link.is_symlink():
        link.symlink_to(image.script)
    env = image.env(
        SYSTEMD_GENERATOR_PATH=str(generators),
        # The upstream units first, then the default search path (the trailing colon).
        SYSTEMD_UNIT_PATH=f"{upstream}:",
        SYSTEMD_LOG_TARGET="console",
    )
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "--generators=yes", *units],
        capture_output=True,
        text=True,
        env=env,
        cwd=image.tmp,
        check=False,
    )


def _entries(archive: Path) -> dict[str, tuple[str, bytes]]:
    out: dict[str, tuple[str, bytes]] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.issym():
                out[member.name] = ("link", member.linkname.encode())
            elif member.isfile():
                stream = tar.extractfile(member)
                assert stream is not None
                out[member.name] = ("file", stream.read())
    return out


CASES = {
    "shipped": ("", None, "ostree"),
    "etc-override": ("", ("etc/ostree-autocleanup/config.yaml", "name: acme\n"), "acme"),
    "run-dropin": (
        "",
        ("run/ostree-autocleanup/config.d/10-prune.yaml", "version: 1\ncleanup:\n  mode: prune\n"),
        "ostree",
    ),
    "etc-dropin-over-shipped-name": (
        "name: vendor\n",
        (
            "etc/ostree-autocleanup/config.d/10-mode.yaml",
            "version: 1\ncleanup:\n  backend: ostree-cli\n",
        ),
        "vendor",
    ),
    "etc-delay": (
        "",
        ("etc/ostree-autocleanup/config.d/10-delay.yaml", "version: 1\nscheduling:\n  delay: 5s\n"),
        "ostree",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_systemd_loads_the_generated_units_cleanly(image: Image, upstream: Path, case: str) -> None:
    shipped_extra, override, name = CASES[case]
    image.install(image.config_text(shipped_extra))
    if override is not None:
        rel, text = override
        if rel.endswith("/config.yaml"):
            text = image.config_text(text)
        image.write(rel, text)
    units = [f"{name}-autocleanup.service", "ostree-finalize-staged.service"]
    if "delay" in case:
        units.append(f"{name}-autocleanup.timer")
    result = verify(image, upstream, *units)
    assert (result.returncode, result.stderr) == (0, "")


def test_systemd_reads_the_generated_dropin(image: Image, upstream: Path) -> None:
    # Prove the clean result above is not vacuous: a bad key in the drop-in the generator
    # writes is reported against the upstream finalize unit.
    image.install()
    archive = image.root / UNITS_ARCHIVE.lstrip("/")
    rel = "ostree-finalize-staged.service.d/50-ostree-autocleanup.conf"
    entries = {rel: (kind, data) for rel, (kind, data) in _entries(archive).items()}
    entries[rel] = ("file", entries[rel][1] + b"NotARealKey=1\n")
    archive.write_bytes(units_archive(entries))
    result = verify(image, upstream, "ostree-finalize-staged.service")
    assert "NotARealKey" in result.stderr
    assert "/generator/ostree-finalize-staged.service.d/50-ostree-autocleanup.conf" in result.stderr


def test_systemd_finds_no_unit_when_the_config_is_bad(image: Image, upstream: Path) -> None:
    image.install()
    image.write("etc/ostree-autocleanup/config.yaml", "version: 1\ncleanup:\n  mode: sideways\n")
    result = verify(image, upstream, "ostree-autocleanup.service")
    assert result.returncode != 0
    # The generator wrote nothing, so systemd has no such unit (rather than half of one).
    assert "Unit ostree-autocleanup.service not found." in result.stderr
