"""Telling the running systemd about new or removed unit files, after a live install.

pystemd is optional (the ``live`` extra): image builds never need it, so its absence is reported,
not fatal. The reload is skipped where systemd is not PID 1 (a container build, a chroot): there is
no manager to tell, and trying would only produce a D-Bus error.
"""

from __future__ import annotations

import os

# sd_booted(3): systemd creates this directory early at boot, and nothing else does.
_BOOTED_MARKER = "/run/systemd/system"


def systemd_is_running() -> bool:
    return os.path.isdir(_BOOTED_MARKER)


def reload_systemd() -> tuple[bool, str]:
    """Reload the manager's unit files: (done, message for the user)."""
    if not systemd_is_running():
        return False, "PID 1 is not systemd: skipping the daemon reload"
    try:
        from pystemd.systemd1 import Manager
    except ImportError:
        return False, (
            "pystemd is not installed, so systemd was not reloaded: run 'systemctl daemon-reload' "
            "(or install the 'live' extra: pip install 'ostree-autocleanup[live]')"
        )
    try:
        with Manager() as manager:
            manager.Manager.Reload()
    except Exception as error:  # pystemd raises its own D-Bus error types
        return False, f"reloading systemd failed: {error}: run 'systemctl daemon-reload'"
    return True, "reloaded systemd"
