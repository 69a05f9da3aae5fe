"""The sandbox of the cleanup service, per cleanup mode.

Kept as data rather than template text so that tests, ``verify`` and the docs can reason about
it. The measured facts behind each choice are in the project's sandbox tests.
"""

from __future__ import annotations

from .config import Config

Directive = tuple[str, str]

# Applies to both modes: nothing here is needed to clean a sysroot.
_COMMON: tuple[Directive, ...] = (
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("PrivateNetwork", "yes"),
    ("PrivateIPC", "yes"),
    ("PrivateMounts", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectProc", "invisible"),
    ("RestrictAddressFamilies", "none"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("NoNewPrivileges", "yes"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallFilter", "~@privileged @resources @mount"),
    # GLib worker threads call sched_setattr(), which ~@resources denies: fail it softly
    # instead of killing the process with SIGSYS.
    ("SystemCallErrorNumber", "EPERM"),
    ("DevicePolicy", "closed"),
    ("IPAddressDeny", "any"),
    ("UMask", "0077"),
)


def directives(config: Config) -> list[Directive]:
    """The [Service] sandbox directives for ``config``, in a stable order."""
    out: list[Directive] = list(_COMMON)
    out.append(("ReadWritePaths", " ".join(config.sandbox.read_write_paths)))
    if config.cleanup.mode == "prune":
        # Opening the repo directly needs no privilege beyond file access as root.
        out.append(("CapabilityBoundingSet", ""))
        out.append(("PrivateUsers", "yes"))
    else:
        # Loading a booted sysroot reads /proc/1/ns/mnt; deployment roots are immutable.
        out.append(("CapabilityBoundingSet", "CAP_SYS_PTRACE CAP_LINUX_IMMUTABLE"))
    return out
