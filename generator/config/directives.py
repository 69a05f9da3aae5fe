"""The sandboxing directives a config may override in the cleanup service, and their checks.

``sandbox.directives`` maps a directive to a value (replacing every line the service has for
it), a list of values (one line each, for directives systemd accumulates), or null (drops the
directive). Only directives of systemd.exec(5) and systemd.resource-control(5) that confine a
service are accepted: the rest of the unit is the project's contract, not a tuning knob.
"""

from __future__ import annotations

from . import directivevalues as v
from . import unitsafe
from .scalars import Number


class Directive:
    """How one overridable directive's value is checked and written.

    ``check``: the values it takes (directivevalues.py). ``specifiers``: systemd expands ``%``
    specifiers in it, so a ``%`` is refused; where it does not (``CPUQuota=50%``), the value is
    written as given. Which is which is systemd's own table (config_parse_* with or without
    unit_full_printf/unit_path_printf, load-fragment-gperf.gperf.in), and a test writes every
    directive with a ``%`` value and has systemd-analyze confirm it. ``many``: systemd
    accumulates several lines of it, so a list of values is one line each; for the others a
    list would leave only its last line in effect.
    """

    # A plain class: creating a typing.NamedTuple class costs about a millisecond at boot.
    __slots__ = ("booleans", "check", "many", "specifiers")

    def __init__(
        self, check: v.Check, specifiers: bool = False, many: bool = False, booleans: bool = False
    ) -> None:
        self.check = check
        self.specifiers = specifiers
        self.many = many
        self.booleans = booleans  # takes yes/no, so a YAML boolean is written as one


_BOOL = Directive(v.boolean(), booleans=True)
_PATHS = Directive(v.paths, specifiers=True, many=True)

# systemd 252 spellings; a test loads each one into a unit and has the real systemd-analyze
# of Debian 12 and 13 confirm it knows them, so a typo here cannot hide.
DIRECTIVES: dict[str, Directive] = {
    # systemd.exec(5): users, capabilities, security
    "User": Directive(v.user, specifiers=True),
    "Group": Directive(v.group, specifiers=True),
    "DynamicUser": _BOOL,
    "SupplementaryGroups": Directive(v.supplementary_groups, specifiers=True, many=True),
    "CapabilityBoundingSet": Directive(v.capabilities, many=True),
    "AmbientCapabilities": Directive(v.capabilities, many=True),
    "NoNewPrivileges": _BOOL,
    "SecureBits": Directive(v.secure_bits, many=True),
    "UMask": Directive(v.umask),
    "KeyringMode": Directive(v.choice("inherit", "private", "shared")),
    # systemd.exec(5): sandboxing
    "ProtectSystem": Directive(v.choice("full", "strict", booleans=True), booleans=True),
    "ProtectHome": Directive(v.choice("read-only", "tmpfs", booleans=True), booleans=True),
    "ReadOnlyPaths": _PATHS,
    "InaccessiblePaths": _PATHS,
    "ExecPaths": _PATHS,
    "NoExecPaths": _PATHS,
    "TemporaryFileSystem": Directive(v.temporary_filesystems, specifiers=True, many=True),
    "BindPaths": Directive(v.bind_paths, specifiers=True, many=True),
    "BindReadOnlyPaths": Directive(v.bind_paths, specifiers=True, many=True),
    "RootDirectory": Directive(v.root_directory, specifiers=True),
    "PrivateTmp": Directive(v.boolean(newer=("disconnected",)), booleans=True),
    "PrivateDevices": _BOOL,
    "PrivateNetwork": _BOOL,
    "PrivateIPC": _BOOL,
    "PrivateUsers": Directive(v.boolean(newer=("self", "identity")), booleans=True),
    "PrivateMounts": Directive(v.boolean(newer=("",)), booleans=True),
    "MountFlags": Directive(v.choice("shared", "slave", "private", empty=True)),
    "ProtectHostname": _BOOL,
    "ProtectClock": _BOOL,
    "ProtectKernelTunables": _BOOL,
    "ProtectKernelModules": _BOOL,
    "ProtectKernelLogs": _BOOL,
    "ProtectControlGroups": Directive(v.boolean(newer=("private", "strict")), booleans=True),
    "ProtectProc": Directive(v.choice("noaccess", "invisible", "ptraceable", "default")),
    "ProcSubset": Directive(v.choice("all", "pid")),
    "RestrictAddressFamilies": Directive(v.address_families, many=True),
    "RestrictFileSystems": Directive(v.filesystems, many=True),
    "RestrictNamespaces": Directive(v.namespaces, many=True, booleans=True),
    "RestrictRealtime": _BOOL,
    "RestrictSUIDSGID": _BOOL,
    "LockPersonality": _BOOL,
    "MemoryDenyWriteExecute": _BOOL,
    "RemoveIPC": _BOOL,
    "SystemCallFilter": Directive(v.system_call_filter, many=True),
    "SystemCallErrorNumber": Directive(v.error_number),
    "SystemCallArchitectures": Directive(v.architectures, many=True),
    "SystemCallLog": Directive(v.system_call_log, many=True),
    # systemd.resource-control(5): devices and network access, resource ceilings
    "DevicePolicy": Directive(v.choice("auto", "closed", "strict")),
    "DeviceAllow": Directive(v.device_allow, specifiers=True, many=True),
    "IPAddressAllow": Directive(v.ip_addresses, many=True),
    "IPAddressDeny": Directive(v.ip_addresses, many=True),
    "SocketBindAllow": Directive(v.socket_bind, many=True),
    "SocketBindDeny": Directive(v.socket_bind, many=True),
    "RestrictNetworkInterfaces": Directive(v.interfaces, many=True),
    "MemoryMax": Directive(v.memory),
    "MemoryHigh": Directive(v.memory),
    "TasksMax": Directive(v.tasks),
    "CPUQuota": Directive(v.cpu_quota),
    "IOWeight": Directive(v.io_weight),
}
KNOWN: frozenset[str] = frozenset(DIRECTIVES)

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


def value_text(name: str, value: object) -> str:
    """One value of directive ``name`` as unit-file text; raises ValueError saying why it
    cannot be written, or why systemd would not read it as written."""
    directive = DIRECTIVES[name]
    if isinstance(value, bool):
        text = "yes" if value else "no"
        if not directive.booleans:
            raise ValueError(
                f"expected {name}'s value, got the boolean {str(value).lower()}: YAML 1.1 reads "
                "yes, no, on, off, true and false as booleans; quote it for the text"
            )
        return text
    if isinstance(value, Number):
        text = value.text  # as written: systemd reads UMask=0077 as a person does, not YAML
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"expected a string, a boolean, a number, a list or null, got {value!r}")
    problem = unitsafe.line_problem(text, specifiers=directive.specifiers)
    if problem is None:
        problem = directive.check(text)
    if problem:
        # A check names the word of a list that is wrong; when that word is the whole value,
        # the message need not repeat it.
        for lead in ("has ", "has the path ", "has the device path "):
            if problem.startswith(f"{lead}{text!r}, which "):
                problem = problem[len(f"{lead}{text!r}, which ") :]
        raise ValueError(f"{text!r} {problem}")
    return text


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
