"""The sandbox of the cleanup service, per cleanup mode.

Kept as data rather than template text so that tests, ``verify`` and the docs can reason about
it. Every choice was measured under a real systemd manager against a real sysroot; the sandbox
tests (tests/sandbox/) repeat those measurements, so a change that breaks the cleanup or widens
the sandbox without need fails there.
"""

from __future__ import annotations

import os

from ..config import directives as overrides
from ..config import unitsafe
from ..config.model import Config

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
    # ostree reads the boot ID from /proc/sys, which this hides: the unit passes it in
    # OSTREE_BOOTID instead.
    ("ProcSubset", "pid"),
    ("RestrictAddressFamilies", "none"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    # PyGObject still works: libffi falls back to memfd mappings for its closures.
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

# Full mode deletes what the finalization left: deployment roots are chattr +i
# (CAP_LINUX_IMMUTABLE, which only counts in the host's user namespace, so no PrivateUsers=).
# On a booted system ostree must know the booted and the staged deployment, or it deletes a
# deployment staged during this boot as an orphan; it only looks for them when it works on the
# booted root, and then it reads /proc/1/ns/mnt, which takes CAP_SYS_PTRACE against PID 1.
# Not granted: CAP_DAC_OVERRIDE, needed only to delete an orphaned deployment holding a
# directory that root does not own (sandbox.directives can add it; it costs 0.2).
FULL_CAPABILITIES = "CAP_SYS_PTRACE CAP_LINUX_IMMUTABLE"


def read_only_paths(config: Config) -> list[str]:
    """Prune mode: what stays read-only below the writable paths.

    The stamp lies in the sysroot, so its directory (often the sysroot itself) must be
    writable, and the helper needs ostree/ for the sysroot lock; the deployments (with every
    deployment's /etc and /var) and the boot loader files below them need not be, only the
    repo inside them. systemd applies the most specific
    of nested ReadWritePaths=/ReadOnlyPaths=, so the repo stays writable inside them.
    """
    if config.cleanup.mode != "prune" or config.repo_path not in config.sandbox.read_write_paths:
        return []
    writable = config.sandbox.read_write_paths
    candidates = [
        os.path.join(config.sysroot, "ostree"),
        os.path.join(config.sysroot, "ostree", "deploy"),
        os.path.join(config.sysroot, "boot"),
    ]
    read_only: list[str] = []
    for path in candidates:
        if path in writable or any(unitsafe.is_within(path, r) for r in read_only):
            continue
        if any(unitsafe.is_within(path, w) for w in writable):
            read_only.append(path)
    # '-': a sysroot without one of these is not an error.
    return ["-" + path for path in read_only]


# What the helper needs to remount a read-only sysroot in a mount namespace of its own
# (sysroot-readonly: yes): unshare(CLONE_NEWNS), then mount(2) to make that namespace private
# and to clear the read-only flag of the sysroot's mount there; both take CAP_SYS_ADMIN.
# Only mount(2) is allowed back from @mount (no umount, pivot_root, open_tree, move_mount...).
REMOUNT_CAPABILITY = "CAP_SYS_ADMIN"
REMOUNT_NAMESPACES = "mnt"
REMOUNT_SYSCALLS = "mount"

# The ostree-cli backend in full mode: since ostree 2025.1 (ostreedev/ostree#3364) an admin
# command on a booted sysroot refuses to run ("You must be root to perform this command")
# unless geteuid() is 0 *and* CAP_SYS_ADMIN is in the process's bounding set; it only reads
# the bounding set (prctl PR_CAPBSET_READ), never uses the capability for a cleanup. So the
# bounding set holds CAP_SYS_ADMIN, and the process never gets it: with the securebit noroot
# an exec by root gains no capability for being root, only the ambient ones, which are
# exactly what full mode needs; -locked and NoNewPrivileges= keep it that way (no file
# capabilities, no setuid, no way to clear the bit).
CLI_PRIVILEGE_CHECK = "CAP_SYS_ADMIN"
CLI_SECURE_BITS = "noroot noroot-locked"


def _common(config: Config) -> list[Directive]:
    if not config.sysroot_readonly:
        return list(_COMMON)
    out: list[Directive] = []
    for name, value in _COMMON:
        if name == "RestrictNamespaces":
            value = REMOUNT_NAMESPACES
        out.append((name, value))
        if (name, value) == ("SystemCallFilter", "~@privileged @resources @mount"):
            # A later allow line adds back to the allow list the earlier lines narrowed.
            out.append(("SystemCallFilter", REMOUNT_SYSCALLS))
    return out


def defaults(config: Config) -> list[Directive]:
    """The hardened directives of the cleanup mode, before the config's overrides."""
    out: list[Directive] = _common(config)
    out.append(("ReadWritePaths", " ".join(config.sandbox.read_write_paths)))
    read_only = read_only_paths(config)
    if read_only:
        out.append(("ReadOnlyPaths", " ".join(read_only)))
    if config.cleanup.mode == "prune" and config.sysroot_readonly:
        # No PrivateUsers=: in a user namespace of its own, the mounts the service inherits
        # keep their read-only flag locked, and no capability there can clear it.
        out.append(("CapabilityBoundingSet", REMOUNT_CAPABILITY))
    elif config.cleanup.mode == "prune":
        # A prune opens the repo directly and needs no privilege beyond file access as root,
        # which root keeps inside a user namespace of its own.
        out.append(("CapabilityBoundingSet", ""))
        out.append(("PrivateUsers", "yes"))
    elif config.sysroot_readonly:
        out.append(("CapabilityBoundingSet", f"{FULL_CAPABILITIES} {REMOUNT_CAPABILITY}"))
    elif config.cleanup.backend == "ostree-cli":
        out.append(("CapabilityBoundingSet", f"{FULL_CAPABILITIES} {CLI_PRIVILEGE_CHECK}"))
        out.append(("AmbientCapabilities", FULL_CAPABILITIES))
        out.append(("SecureBits", CLI_SECURE_BITS))
    else:
        out.append(("CapabilityBoundingSet", FULL_CAPABILITIES))
    return out


def _ambient(bounding: list[str]) -> str | None:
    """The capabilities of the bounding set lines ``bounding``, CAP_SYS_ADMIN left out; None
    for an inverted (~) set, whose members are not listed."""
    caps: list[str] = []
    for value in bounding:
        if not value:
            caps = []  # an empty line resets the set
        elif value.startswith("~"):
            return None
        else:
            caps += [cap for cap in value.split() if cap not in caps]
    return " ".join(cap for cap in caps if cap != CLI_PRIVILEGE_CHECK)


def directives(config: Config) -> list[Directive]:
    """The [Service] sandbox directives for ``config``, in a stable order."""
    out = overrides.apply(defaults(config), config.sandbox.directives)
    overridden = {name for name, _values in config.sandbox.directives}
    if "AmbientCapabilities" in overridden or not any(n == "AmbientCapabilities" for n, _ in out):
        return out
    # Under noroot the commands hold only their ambient capabilities: an override of the
    # bounding set (adding CAP_DAC_OVERRIDE, say) must reach them as it would without it.
    ambient = _ambient([value for name, value in out if name == "CapabilityBoundingSet"])
    if ambient is None:
        return out
    return [(n, ambient if n == "AmbientCapabilities" else v) for n, v in out]
