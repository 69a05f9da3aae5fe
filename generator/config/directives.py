"""The sandboxing directives a config may override in the cleanup service, and their checks.

``sandbox.directives`` maps a directive to a value (replacing every line the service has for
it), a list of values (one line each, for directives systemd accumulates), or null (drops the
directive). Only directives of systemd.exec(5) and systemd.resource-control(5) that confine a
service are accepted: the rest of the unit is the project's contract, not a tuning knob.
"""

from __future__ import annotations

from . import unitsafe
from .scalars import Number

# systemd 252 spellings. A test loads each one into a unit and has the real systemd-analyze
# confirm it knows them, so a typo here cannot hide.
KNOWN: frozenset[str] = frozenset(
    {
        # systemd.exec(5): users, capabilities, security
        "User",
        "Group",
        "DynamicUser",
        "SupplementaryGroups",
        "CapabilityBoundingSet",
        "AmbientCapabilities",
        "NoNewPrivileges",
        "SecureBits",
        "UMask",
        "KeyringMode",
        # systemd.exec(5): sandboxing
        "ProtectSystem",
        "ProtectHome",
        "ReadOnlyPaths",
        "InaccessiblePaths",
        "ExecPaths",
        "NoExecPaths",
        "TemporaryFileSystem",
        "BindPaths",
        "BindReadOnlyPaths",
        "RootDirectory",
        "PrivateTmp",
        "PrivateDevices",
        "PrivateNetwork",
        "PrivateIPC",
        "PrivateUsers",
        "PrivateMounts",
        "MountFlags",
        "ProtectHostname",
        "ProtectClock",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectProc",
        "ProcSubset",
        "RestrictAddressFamilies",
        "RestrictFileSystems",
        "RestrictNamespaces",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "LockPersonality",
        "MemoryDenyWriteExecute",
        "RemoveIPC",
        "SystemCallFilter",
        "SystemCallErrorNumber",
        "SystemCallArchitectures",
        "SystemCallLog",
        # systemd.resource-control(5): devices and network access, resource ceilings
        "DevicePolicy",
        "DeviceAllow",
        "IPAddressAllow",
        "IPAddressDeny",
        "SocketBindAllow",
        "SocketBindDeny",
        "RestrictNetworkInterfaces",
        "MemoryMax",
        "MemoryHigh",
        "TasksMax",
        "CPUQuota",
        "IOWeight",
    }
)

# Settings that have their own config key: one source of truth for each.
OWN_KEYS: dict[str, str] = {"ReadWritePaths": "sandbox.read-write-paths"}

Override = tuple[str, "tuple[str, ...] | None"]


def name_problem(name: str) -> tuple[str, str | None] | None:
    """(message, hint) when ``name`` is not a directive that may be overridden, else None."""
    if name in OWN_KEYS:
        return f"{name} is not set here", f"use {OWN_KEYS[name]}"
    if name in KNOWN:
        return None
    import difflib

    lower = {k.lower(): k for k in KNOWN}
    match = lower.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, sorted(KNOWN), n=1, cutoff=0.6)), None
    )
    hint = (
        f"did you mean {match!r}?" if match else "see systemd.exec(5) for the sandboxing directives"
    )
    return (
        f"{name!r} is not a sandboxing directive of systemd.exec(5) or systemd.resource-control(5)",
        hint,
    )


def value_text(value: object) -> str:
    """One directive value as unit-file text; raises ValueError with the reason it cannot be."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Number):
        return value.text
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string, a boolean, a number, a list or null, got {value!r}")
    problem = unitsafe.line_problem(value)
    if problem:
        raise ValueError(f"{value!r} {problem}")
    return value


def apply(
    defaults: list[tuple[str, str]], overrides: tuple[Override, ...]
) -> list[tuple[str, str]]:
    """``defaults`` with each overridden directive replaced in place (or dropped, for None);
    directives the defaults lack are appended in the order given."""
    by_name = dict(overrides)
    out: list[tuple[str, str]] = []
    done: set[str] = set()
    for name, value in defaults:
        if name not in by_name:
            out.append((name, value))
            continue
        if name in done:
            continue
        done.add(name)
        out += [(name, v) for v in by_name[name] or ()]
    for name, values in overrides:
        if name not in done:
            out += [(name, v) for v in values or ()]
    return out
