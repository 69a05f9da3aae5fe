"""``ostree-autocleanup status``: what the cleanup did and will do on a live system.

systemd's own view of the units comes over D-Bus through pystemd (an optional dependency: the
``live`` extra); the stamp, the helper's last result and ostree's finalize-failure stamp are
files. ``--bus-address`` and ``--root`` point both at another system, such as a container.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any

from ..config.model import Config
from ..errors import Failure
from ..options import add_config_options, add_root_option, warning
from ..rootfs import EscapeError, RootError, resolve, resolve_entry

DEFAULT_STATE_DIR = "/var/lib/ostree-autocleanup"
# Where ostree records why finalizing a staged deployment failed (ostree >= 2022.4).
FINALIZE_FAILURE_STAMP = "/boot/ostree/finalize-failure.stamp"
FINALIZE_PATH_UNIT = "ostree-finalize-staged.path"

SYSTEMD = b"org.freedesktop.systemd1"
SYSTEMD_PATH = b"/org/freedesktop/systemd1"
MANAGER_IFACE = b"org.freedesktop.systemd1.Manager"
UNIT_IFACE = b"org.freedesktop.systemd1.Unit"
SERVICE_IFACE = b"org.freedesktop.systemd1.Service"
PROPERTIES_IFACE = b"org.freedesktop.DBus.Properties"

UNIT_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "ConditionResult",
)
UNIT_TIMESTAMPS = (
    "ConditionTimestamp",
    "ActiveEnterTimestamp",
    "InactiveEnterTimestamp",
)
SERVICE_PROPERTIES = ("Result", "ExecMainStatus", "ExecMainCode")
SERVICE_TIMESTAMPS = ("ExecMainStartTimestamp", "ExecMainExitTimestamp")
ENABLED_STATES = ("enabled", "enabled-runtime", "generated", "alias", "indirect")
# Units that cannot be enabled at all: something else pulls them in (ostree's path unit starts
# the finalize service), so "enabled" does not apply.
NOT_APPLICABLE_STATES = ("static", "transient")


def configure_status_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Show the state and last result of the cleanup service and of the finalize unit, "
        "whether they are enabled, whether a cleanup is pending, what the last cleanup freed, "
        "and whether ostree failed to finalize at the last shutdown. systemd is asked over "
        "D-Bus, which needs pystemd."
    )
    add_config_options(parser)
    add_root_option(
        parser,
        "read the config, the stamp and the helper's state under DIR "
        "(for a container: /proc/PID/root)",
    )
    parser.add_argument(
        "--bus-address",
        metavar="ADDRESS",
        help="D-Bus address of the system bus to ask, e.g. "
        "unix:path=/proc/PID/root/run/dbus/system_bus_socket (default: this system's bus)",
    )
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help=f"the helper's state directory (default: {DEFAULT_STATE_DIR})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


PYSTEMD_HINT = (
    "status asks systemd over D-Bus through pystemd, which is not installed: on Debian, "
    "apt-get install python3-pystemd (a venv made with --system-site-packages sees it), or "
    "pip install 'ostree-autocleanup[live]' ('.[live]' from a checkout), which builds it and "
    "needs apt-get install pkg-config libsystemd-dev gcc python3-dev first"
)


def require_pystemd() -> None:
    """Fail with what to install before anything else is done, instead of half-way."""
    try:
        import pystemd.dbuslib  # noqa: F401
    except ImportError:
        raise Failure(PYSTEMD_HINT) from None


def run_status(args: argparse.Namespace) -> int:
    config = _load_config(args.config, args.root)
    require_pystemd()
    report = collect(config, args.root, args.bus_address, args.state_dir)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(format_text(report))
    return 0


def _load_config(files: list[str], root: str | None) -> Config:
    from ..config.load import load_config

    # A container's /proc/PID/root is a symlink: the layered files are resolved inside it,
    # absolute links included, as in any other root.
    return load_config(files, root, warning)


def watched_units(config: Config) -> list[str]:
    units = [config.unit_name, config.finalize.unit]
    if config.scheduling.delayed:
        units.insert(1, config.timer_name)  # it, not the static service, is what is enabled
    if config.finalize.path_unit != "no":
        units.append(FINALIZE_PATH_UNIT)
    return units


def collect(
    config: Config, root: str | None, bus_address: str | None, state_dir: str
) -> dict[str, Any]:
    """Everything ``status`` reports, as plain JSON-able data."""
    units = query_units(watched_units(config), bus_address)
    return {
        "service": config.unit_name,
        "finalize_unit": config.finalize.unit,
        "units": units,
        "cleanup": cleanup_state(config.stamp, root, state_dir),
        "finalize_failure": finalize_failure(root),
    }


def _under(root: str | None, path: str, *, final_link: bool = True) -> str:
    """Where ``path`` of the system at ``root`` is here, resolved inside it (rootfs).

    ``final_link=False`` leaves a last component that is a symlink unfollowed: the stamp may
    be one, and the helper must see that rather than what it points to.
    """
    if not root:
        return path
    try:
        return resolve(root, path) if final_link else resolve_entry(root, path)
    except (RootError, EscapeError) as error:
        raise Failure(str(error)) from None


def _connect(bus_address: str | None) -> Any:
    try:
        from pystemd.dbuslib import DBus, DBusAddress
    except ImportError:
        raise Failure(PYSTEMD_HINT) from None
    bus = DBus() if bus_address is None else DBusAddress(bus_address.encode(), peer_to_peer=False)
    where = bus_address or "the system bus"
    try:
        bus.open()
    except Exception as error:
        raise Failure(f"cannot connect to {where}: {error}") from None
    return bus


def query_units(names: list[str], bus_address: str | None) -> dict[str, dict[str, Any]]:
    from pystemd.dbuslib import apply_signature

    bus = _connect(bus_address)
    try:
        found = {}
        for name in names:
            try:
                path = bus.call_method(
                    SYSTEMD,
                    SYSTEMD_PATH,
                    MANAGER_IFACE,
                    b"LoadUnit",
                    apply_signature(b"s", [name.encode()]),
                ).body
                unit = _get_all(bus, path, UNIT_IFACE)
                service = _get_all(bus, path, SERVICE_IFACE) if name.endswith(".service") else {}
            except Exception as error:
                raise Failure(f"cannot read {name} from systemd: {error}") from None
            found[name] = _describe(unit, service)
        return found
    finally:
        bus.close()


def _get_all(bus: Any, path: bytes, interface: bytes) -> dict[str, Any]:
    from pystemd.dbuslib import apply_signature

    body = bus.call_method(
        SYSTEMD, path, PROPERTIES_IFACE, b"GetAll", apply_signature(b"s", [interface])
    ).body
    return {_text(key): value for key, value in dict(body).items()}


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _timestamp(usec: Any) -> str | None:
    """systemd's realtime microseconds as ISO 8601 UTC; 0 means "never"."""
    if not usec:
        return None
    moment = datetime.datetime.fromtimestamp(int(usec) / 1e6, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _describe(unit: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for prop in UNIT_PROPERTIES:
        info[_snake(prop)] = _text(unit.get(prop))
    for prop in UNIT_TIMESTAMPS:
        info[_snake(prop)] = _timestamp(unit.get(prop))
    for prop in SERVICE_PROPERTIES:
        if prop in service:
            info[_snake(prop)] = _text(service[prop])
    for prop in SERVICE_TIMESTAMPS:
        if prop in service:
            info[_snake(prop)] = _timestamp(service[prop])
    if info["unit_file_state"] in NOT_APPLICABLE_STATES:
        info["enabled"] = None
    else:
        info["enabled"] = info["unit_file_state"] in ENABLED_STATES
    # A condition that was never checked reads as false; only a checked one says "skipped".
    info["condition_result"] = (
        bool(info["condition_result"]) if info["condition_timestamp"] else None
    )
    return info


def _snake(name: str) -> str:
    out = []
    for index, char in enumerate(name):
        if char.isupper() and index:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def cleanup_state(stamp: str, root: str | None, state_dir: str) -> dict[str, Any]:
    """Whether a cleanup is pending and how the last one ended, as the helper reads its files.

    Paths in the report are the system's own, also when they were read under --root.
    """
    from ...helper.errors import HelperError
    from ...helper.status import collect

    try:
        info = collect(_under(root, stamp, final_link=False), _under(root, state_dir))
    except HelperError as error:
        raise Failure(str(error)) from None
    info["stamp"] = stamp
    return info


def finalize_failure(root: str | None) -> dict[str, Any] | None:
    try:
        with open(_under(root, FINALIZE_FAILURE_STAMP), "rb") as stamp_file:
            message = stamp_file.read(64 * 1024).decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        message = f"(unreadable: {error.strerror})"
    return {"path": FINALIZE_FAILURE_STAMP, "message": message}


def format_text(report: dict[str, Any]) -> str:
    lines = []
    for name, unit in report["units"].items():
        if unit["load_state"] != "loaded":
            lines.append(f"{name}: {unit['load_state']}")
            continue
        state = f"{unit['active_state']} ({unit['sub_state']})"
        line = f"{name}: {state}, {unit['unit_file_state'] or 'no unit file'}"
        if unit.get("exec_main_start_timestamp"):
            line += f", last result {unit['result']}"
            if unit.get("exec_main_exit_timestamp"):
                line += (
                    f" (status {unit['exec_main_status']} at {unit['exec_main_exit_timestamp']})"
                )
        if unit["condition_result"] is False:
            line += ", skipped by its condition"
        lines.append(line)
    cleanup = report["cleanup"]
    if cleanup["pending"]:
        lines.append(
            f"cleanup: pending ({cleanup['stamp']}, {cleanup['attempts']} attempts so far)"
        )
    else:
        lines.append("cleanup: nothing pending")
    last = cleanup["last"]
    if last is None:
        lines.append("last cleanup: none recorded")
    else:
        # A "started" record has no end yet (running, or killed before it could record one).
        when = last.get("finished") or last.get("started", "?")
        summary = f"{last.get('result', '?')} at {when}"
        if "objects_freed" in last:
            summary += (
                f", freed {last['objects_freed']} objects ({last.get('bytes_freed', 0)} bytes)"
            )
        if last.get("error"):
            summary += f": {last['error']}"
        lines.append(f"last cleanup: {summary}")
    failure = report["finalize_failure"]
    if failure is not None:
        lines.append(f"finalize FAILED at the last shutdown: {failure['message']}")
    return "\n".join(lines) + "\n"
