"""install / uninstall on the running system (--root /), inside a private mount namespace.

/usr/lib gets an overlay whose upper layer is a tmpfs, so the live install really writes to
/usr/lib/systemd/system of this process's view of the host, and the host itself stays untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

SCRIPT = r"""
set -e
scratch=$1; booted=$2; enable=$3; shift 3
mount -t tmpfs tmpfs "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/etc-upper" "$scratch/etc-work"
mount -t overlay overlay -o "lowerdir=/usr/lib,upperdir=$scratch/upper,workdir=$scratch/work" /usr/lib
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/etc-upper,workdir=$scratch/etc-work" /etc
if [ -n "${FINALIZE_UNIT-}" ]; then
    # An OSTree system: ostree's finalize unit, and the flag its initramfs leaves in /run
    # (a /run of this namespace's own, so that the host's stays as it is).
    cp "$FINALIZE_UNIT" /usr/lib/systemd/system/
    mount -t tmpfs tmpfs /run
    touch /run/ostree-booted
fi
if [ "$booted" = yes ]; then
    mkdir -p /run/systemd
    mount -t tmpfs tmpfs /run/systemd
    mkdir /run/systemd/system
fi
"$@" install --root / $enable
echo "== upper after install"
(cd "$scratch/upper" && find . -type f | sort)
echo "is-enabled: $(systemctl is-enabled ostree-autocleanup.service)"
"$@" uninstall --root /
echo "== upper after uninstall"
(cd "$scratch" && find upper etc-upper -type f -o -type l | sort)
echo "== end"
"""

# The same mounts with nothing run in them: whether this machine can overlay /usr/lib at all is
# asked apart from the install, so that an install that fails (whatever it prints) fails the test.
PROBE = r"""
set -e
scratch=$1
mount -t tmpfs tmpfs "$scratch"
mkdir "$scratch/upper" "$scratch/work"
mount -t overlay overlay -o "lowerdir=/usr/lib,upperdir=$scratch/upper,workdir=$scratch/work" /usr/lib
"""


def _live(
    tmp_path: Path, booted: bool, enable: bool = False, env: dict[str, str] | None = None
) -> tuple[str, str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to overlay /usr/lib in a private mount namespace")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", PROBE, "sh", str(scratch)],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount an overlay here: {probe.stderr.strip()}")
    code = "import sys; from ostree_autocleanup.generator.cli import main; sys.exit(main())"
    result = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            SCRIPT,
            "sh",
            str(scratch),
            "yes" if booted else "no",
            "" if enable else "--no-enable",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, result.stderr


def test_live_install_writes_to_slash_and_skips_reload_without_systemd(tmp_path: Path) -> None:
    out, err = _live(tmp_path, booted=False, enable=True)
    installed, uninstalled = out.split("== upper after uninstall")
    assert "created /usr/lib/systemd/system/ostree-autocleanup.service" in installed
    assert "./systemd/system/ostree-autocleanup.service" in installed
    assert "./ostree-autocleanup/install-manifest.json" in installed
    assert "is-enabled: enabled" in installed
    assert uninstalled.strip() == "== end"
    assert err.count("PID 1 is not systemd: skipping the daemon reload") == 2
    assert not os.path.exists("/usr/lib/ostree-autocleanup/install-manifest.json")


def test_live_install_without_pystemd_says_how_to_reload(tmp_path: Path) -> None:
    # A package that fails to import stands in for pystemd not being installed.
    shadow = tmp_path / "shadow" / "pystemd"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('pystemd is not here')\n")
    _, err = _live(tmp_path, booted=True, env={"PYTHONPATH": str(shadow.parent)})
    assert "pystemd is not installed, so systemd was not reloaded" in err
    assert "systemctl daemon-reload" in err


def test_live_install_reports_a_failed_reload_in_one_line(tmp_path: Path) -> None:
    # /run/systemd/system says systemd runs, but no manager answers: the reload fails, the
    # install stands, and the message says what to do.
    _, err = _live(tmp_path, booted=True)
    lines = [line for line in err.splitlines() if "reload" in line]
    assert len(lines) == 2
    assert all("reloading systemd failed" in line for line in lines)


NOT_OSTREE = "this system is not booted from OSTree"
NO_FINALIZE = "ostree-finalize-staged.service is not installed"


def test_live_install_warns_where_ostree_is_missing(tmp_path: Path) -> None:
    # This host is no OSTree system and has no ostree-boot: the install works, and says it
    # will do nothing here, once for each reason, before doing it.
    out, err = _live(tmp_path, booted=False)
    assert "created /usr/lib/systemd/system/ostree-autocleanup.service" in out
    warnings = [line for line in err.splitlines() if ": warning: " in line]
    assert len(warnings) == 2, err
    assert NOT_OSTREE in warnings[0] and "/sysroot" in warnings[0]
    assert NO_FINALIZE in warnings[1] and "ostree-boot" in warnings[1]


def test_live_install_on_an_ostree_system_does_not_warn(tmp_path: Path, ostree_units: Path) -> None:
    _, err = _live(
        tmp_path,
        booted=False,
        env={"FINALIZE_UNIT": str(ostree_units / "ostree-finalize-staged.service")},
    )
    assert ": warning: " not in err, err
