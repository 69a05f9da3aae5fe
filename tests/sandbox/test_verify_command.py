"""`ostree-autocleanup verify`: its report and its exit status, with the real systemd-analyze."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ostree_autocleanup.generator.cli import main
from ostree_autocleanup.generator.config.model import Config
from support.upstream import require_finalize_unit

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)

# An executable that exists on this machine, standing in for the installed helper. Not the
# venv's own helper: a checkout under /root, /home or /tmp is hidden from the service by its
# sandbox, and verify says so.
HELPER = Path(os.path.realpath(shutil.which("true") or "/bin/true"))


@pytest.fixture(scope="module")
def upstream_unit() -> str:
    return str(require_finalize_unit())


def verify(
    tmp_path: Path, config: str, *extra: str, upstream: str | None = None
) -> tuple[int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(f"version: 1\ncleanup:\n  helper-path: {HELPER}\n{config}")
    args = ["verify", "-c", str(path), *extra]
    if upstream is not None:
        args += ["--finalize-unit", upstream]
    return main(args), str(path)


@pytest.mark.parametrize(
    ("mode", "backend", "score"),
    [
        ("full", "helper", "1.0"),
        # CAP_SYS_ADMIN in the bounding set for ostree 2025.1's check, and ambient capabilities.
        ("full", "ostree-cli", "1.4"),
        ("prune", "helper", "0.5"),
        ("prune", "ostree-cli", "0.5"),
    ],
)
def test_a_good_config_passes_with_its_score(
    tmp_path: Path,
    upstream_unit: str,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    backend: str,
    score: str,
) -> None:
    status, _ = verify(tmp_path, f"  mode: {mode}\n  backend: {backend}\n", upstream=upstream_unit)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert err == ""
    assert f"exposure: {score} " in out
    assert "result: ok" in out
    assert f"drop-in checked against {upstream_unit}" in out


@pytest.mark.parametrize(
    ("mode", "score", "maximum"), [("full", "1.6", "1.8"), ("prune", "1.3", "1.4")]
)
def test_a_read_only_sysroot_passes_with_its_own_default_maximum(
    tmp_path: Path,
    upstream_unit: str,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    score: str,
    maximum: str,
) -> None:
    status, _ = verify(tmp_path, f"  mode: {mode}\nsysroot-readonly: yes\n", upstream=upstream_unit)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert f"exposure: {score} " in out
    assert f"(max {maximum}: ok)" in out
    # The plain mode's maximum still applies to it when asked for.
    plain = "1.2" if mode == "full" else "0.6"
    status, _ = verify(
        tmp_path,
        f"  mode: {mode}\nsysroot-readonly: yes\n",
        "--max-exposure",
        plain,
        upstream=upstream_unit,
    )
    assert status == 1
    assert f"(max {plain}: too high)" in capsys.readouterr().out


def test_an_override_above_the_maximum_fails(
    tmp_path: Path, upstream_unit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = verify(
        tmp_path,
        "  mode: prune\nsandbox:\n  directives:\n    PrivateUsers: null\n"
        "    CapabilityBoundingSet: CAP_SYS_ADMIN\n",
        upstream=upstream_unit,
    )
    out, err = capsys.readouterr()
    assert status == 1
    assert "exposure" in out and "(max 0.6: too high)" in out
    assert "CAP_SYS_ADMIN" in out  # the finding that explains it
    assert len(err.splitlines()) == 1 and "error:" in err


def test_max_exposure_option(
    tmp_path: Path, upstream_unit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = verify(tmp_path, "", "--max-exposure", "0.5", upstream=upstream_unit)
    assert status == 1
    assert "(max 0.5: too high)" in capsys.readouterr().out
    status, _ = verify(tmp_path, "", "--max-exposure", "1.0", upstream=upstream_unit)
    assert status == 0


def test_a_value_systemd_rejects_fails(
    tmp_path: Path, upstream_unit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The config's own values are checked with systemd's grammar before anything is verified
    # (exit 2); a value systemd rejects can still come with the finalize unit that is given.
    status, _ = verify(
        tmp_path, "sandbox:\n  directives:\n    ProtectSystem: sideways\n", upstream=upstream_unit
    )
    assert status == 2
    capsys.readouterr()
    broken = tmp_path / "ostree-finalize-staged.service"
    broken.write_text(Path(upstream_unit).read_text() + "ProtectSystem=sideways\n")
    status, _ = verify(tmp_path, "", upstream=str(broken))
    out, _err = capsys.readouterr()
    assert status == 1
    assert "problem: systemd-analyze verify:" in out
    assert "sideways" in out


def test_a_missing_exec_binary_fails_even_where_systemd_analyze_does_not_look(
    tmp_path: Path, upstream_unit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The drop-in's stamp command is the finalize unit's second ExecStop=, which
    systemd-analyze never checks."""
    path = tmp_path / "config.yaml"
    path.write_text("version: 1\ncleanup:\n  helper-path: /nonexistent/helper\n")
    status = main(["verify", "-c", str(path), "--finalize-unit", upstream_unit])
    out, _err = capsys.readouterr()
    assert status == 1
    assert "50-ostree-autocleanup.conf: /nonexistent/helper is not an executable file" in out
    assert "ostree-autocleanup.service: /nonexistent/helper is not an executable file" in out


def test_exec_binaries_are_checked_in_the_target_root(
    tmp_path: Path, upstream_unit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "image"
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    helper = root / "usr/bin/ostree-autocleanup-helper"
    helper.write_text("#!/bin/sh\n")
    config = tmp_path / "config.yaml"
    config.write_text("version: 1\ncleanup:\n  helper-path: /bin/ostree-autocleanup-helper\n")
    args = ["verify", "-c", str(config), "--root", str(root), "--finalize-unit", upstream_unit]

    assert main(args) == 1  # not executable yet
    assert "is not an executable file under" in capsys.readouterr().out
    helper.chmod(0o755)
    assert main(args) == 0, capsys.readouterr()


def test_without_the_finalize_unit_it_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = verify(tmp_path, "finalize:\n  unit: vendor-finalize.service\n", "--no-download")
    out, _err = capsys.readouterr()
    assert status == 0, out
    assert "vendor-finalize.service was not found" in out


def test_a_bad_config_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, path = verify(tmp_path, "sandbox:\n  directives:\n    ProtectSytem: strict\n")
    _out, err = capsys.readouterr()
    assert status == 2
    assert err.startswith(f"{path}:6:5: error: sandbox.directives.ProtectSytem:")
    assert "did you mean 'ProtectSystem'?" in err


def test_the_delay_timer_is_verified_too(
    tmp_path: Path,
    upstream_unit: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delay = "scheduling:\n  delay: 15min\n"
    status, _ = verify(tmp_path, delay, upstream=upstream_unit)
    assert status == 0, capsys.readouterr().out
    # A timer that systemd would not read makes verify fail: it is checked, not just written.
    from ostree_autocleanup.generator.units import render as render_module

    real = render_module.render

    def broken(config: Config) -> dict[str, str]:
        files = real(config)
        timer = f"{render_module.UNIT_DIR}/{config.timer_name}"
        files[timer] = files[timer].replace("OnBootSec=", "OnBootSecs=")
        return files

    monkeypatch.setattr(render_module, "render", broken)
    capsys.readouterr()
    status, _ = verify(tmp_path, delay, upstream=upstream_unit)
    out = capsys.readouterr().out
    assert status == 1
    assert "OnBootSecs" in out
