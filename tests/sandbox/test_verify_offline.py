"""``verify`` works offline: the finalize unit from the root, else this machine's, else the
drop-in is checked on its own; the network only with ``--download``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ostree_autocleanup.generator.checks.verify import find_finalize_unit
from ostree_autocleanup.generator.cli import main
from ostree_autocleanup.generator.units import render as render_module
from support.upstream import require_finalize_unit

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)

HELPER = os.path.realpath(shutil.which("true") or "/bin/true")
FINALIZE = "ostree-finalize-staged.service"


@pytest.fixture
def apt_get_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An apt-get first on PATH that records each call and fails, as it does offline."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    calls = tmp_path / "apt-get-calls"
    fake = bin_dir / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit 100\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return calls


@pytest.fixture
def upstream_unit() -> Path:
    return require_finalize_unit()


def _image(tmp_path: Path) -> Path:
    """An image root with nothing but the program the units run."""
    root = tmp_path / "image"
    program = root / HELPER.lstrip("/")
    program.parent.mkdir(parents=True)
    shutil.copy(HELPER, program)
    return root


def _config(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "config.yaml"
    path.write_text(f"version: 1\ncleanup:\n  helper-path: {HELPER}\n{extra}")
    return str(path)


def test_by_default_it_never_downloads(
    tmp_path: Path, apt_get_calls: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_root = _image(tmp_path)
    status = main(["verify", "-c", _config(tmp_path), "--root", str(empty_root)])
    out = capsys.readouterr().out
    assert not apt_get_calls.exists(), apt_get_calls.read_text()
    assert status == 0, out
    host = find_finalize_unit(FINALIZE, "/")
    if host is None:
        assert f"note: {FINALIZE} was not found under {empty_root} or on this machine" in out
        assert "the drop-in was checked on its own" in out
        assert "--finalize-unit FILE or --download" in out
    else:  # a machine with ostree-boot installed: its unit, still no download
        assert f"note: drop-in checked against {host}" in out


def test_download_only_when_asked(
    tmp_path: Path, apt_get_calls: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if find_finalize_unit(FINALIZE, "/") is not None:
        pytest.skip("this machine has the finalize unit: nothing to download")
    empty_root = _image(tmp_path)
    status = main(["verify", "-c", _config(tmp_path), "--root", str(empty_root), "--download"])
    out = capsys.readouterr().out
    assert apt_get_calls.read_text().split() == ["download", "-q", "ostree-boot"]
    assert status == 0, out
    assert "could not download ostree-boot" in out
    assert "the drop-in was checked on its own" in out


def test_the_old_no_download_option_is_still_accepted(
    tmp_path: Path, apt_get_calls: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "-c", _config(tmp_path), "--no-download"]) == 0
    assert not apt_get_calls.exists()


def test_the_finalize_unit_of_the_root_is_used_through_an_absolute_link(
    tmp_path: Path, upstream_unit: Path, apt_get_calls: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Where the image keeps it is for the image to say: /lib/systemd/system/... may be a link
    # to any absolute path of the image, resolved inside the image, not on this machine.
    root = _image(tmp_path)
    (root / "opt/ostree").mkdir(parents=True)
    shutil.copy(upstream_unit, root / "opt/ostree" / FINALIZE)
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    os.symlink(f"/opt/ostree/{FINALIZE}", root / "usr/lib/systemd/system" / FINALIZE)
    status = main(["verify", "-c", _config(tmp_path), "--root", str(root)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"note: drop-in checked against {root}/opt/ostree/{FINALIZE}" in out
    assert not apt_get_calls.exists()


def test_on_its_own_the_drop_in_is_still_checked_by_systemd_analyze(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stand-in is not a way around the check: a drop-in line systemd does not know is
    reported, as it would be against ostree's unit."""
    real_render = render_module.render

    def render_with_a_bad_dropin_line(config):  # type: ignore[no-untyped-def]
        files = real_render(config)
        dropin = next(p for p in files if ".service.d/" in p)
        files[dropin] += "NoSuchSetting=1\n"
        return files

    monkeypatch.setattr(render_module, "render", render_with_a_bad_dropin_line)
    config = _config(tmp_path, "finalize:\n  unit: vendor-finalize.service\n")
    status = main(["verify", "-c", config])
    out = capsys.readouterr().out
    assert status == 1
    assert "the drop-in was checked on its own" in out
    assert "problem: systemd-analyze verify:" in out and "NoSuchSetting" in out
