"""Which paths a service's own sandbox hides from it, from its directives (systemd.exec(5)).

``verify`` asks this of every program the units run: a helper under /root passes a check on
the host and then fails at boot, because ``ProtectHome=yes`` makes /root inaccessible to the
service that runs it. The answer comes from the directives as rendered, overrides included,
not from a list kept next to them.

The model is systemd's namespace setup (namespace.c), reduced to what decides whether a
program can be executed: each directive contributes mounts at paths, and systemd sorts them by
path before applying them, so the most specific one covering a path decides, with one
exception: a path made inaccessible (ProtectHome=yes, InaccessiblePaths=) hides everything
below it, and systemd drops the mounts below it, binds included. An empty tmpfs
(ProtectHome=tmpfs, TemporaryFileSystem=, PrivateTmp=) hides what was there, but a bind mount
below it shows through. What cannot hide a program (read-only mounts, ProtectSystem=, which
only makes things read-only) is left out. A test runs every case under a real manager.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

TRUE = ("1", "yes", "true", "on")

# Made inaccessible, replaced by an empty file system, shown by a bind mount, not
# executable, executable again.
INACCESSIBLE = "inaccessible"
EMPTY = "empty"
VISIBLE = "visible"
NOEXEC = "noexec"
EXEC = "exec"


class Mount(NamedTuple):
    path: str
    effect: str
    why: str  # the directive line, for the message


def _boolean(value: str) -> bool:
    return value.strip().lower() in TRUE


def _paths(value: str) -> list[str]:
    """The paths of a space-separated list, with systemd's '-' and '+' prefixes taken off."""
    return [word.lstrip("-+") for word in value.split() if word.lstrip("-+").startswith("/")]


def mounts(directives: Iterable[tuple[str, str]]) -> list[Mount]:
    """The mounts that the directives make, in the order systemd would consider them."""
    single: dict[str, str] = {}  # single-valued directives: the last line wins
    lists: dict[str, list[str]] = {}  # list directives: an empty line resets the list
    for name, value in directives:
        if name in ("ProtectHome", "PrivateTmp", "PrivateDevices", "DynamicUser", "RootDirectory"):
            single[name] = value.strip()
        elif name in (
            "InaccessiblePaths",
            "TemporaryFileSystem",
            "NoExecPaths",
            "ExecPaths",
            "BindPaths",
            "BindReadOnlyPaths",
        ):
            if not value.strip():
                lists[name] = []
            else:
                lists.setdefault(name, []).append(value)
    found: list[Mount] = []
    home = single.get("ProtectHome", "no").lower()
    if home == "tmpfs" or _boolean(home):
        effect = EMPTY if home == "tmpfs" else INACCESSIBLE
        for path in ("/home", "/root", "/run/user"):
            found.append(Mount(path, effect, f"ProtectHome={single['ProtectHome']}"))
    if _boolean(single.get("PrivateTmp", "no")) or _boolean(single.get("DynamicUser", "no")):
        why = "PrivateTmp=yes" if _boolean(single.get("PrivateTmp", "no")) else "DynamicUser=yes"
        for path in ("/tmp", "/var/tmp"):
            found.append(Mount(path, EMPTY, why))
    if _boolean(single.get("PrivateDevices", "no")):
        found.append(Mount("/dev", EMPTY, "PrivateDevices=yes"))
    for value in lists.get("InaccessiblePaths", []):
        found += [Mount(p, INACCESSIBLE, f"InaccessiblePaths={value}") for p in _paths(value)]
    for value in lists.get("TemporaryFileSystem", []):
        for word in value.split():
            path = word.split(":", 1)[0]
            if path.startswith("/"):
                found.append(Mount(path, EMPTY, f"TemporaryFileSystem={value}"))
    for key in ("BindPaths", "BindReadOnlyPaths"):
        for value in lists.get(key, []):
            for word in value.split():
                source, _, rest = word.lstrip("-").partition(":")
                destination = rest.split(":", 1)[0] or source
                if destination.startswith("/"):
                    found.append(Mount(destination, VISIBLE, f"{key}={value}"))
    for value in lists.get("NoExecPaths", []):
        found += [Mount(p, NOEXEC, f"NoExecPaths={value}") for p in _paths(value)]
    for value in lists.get("ExecPaths", []):
        found += [Mount(p, EXEC, f"ExecPaths={value}") for p in _paths(value)]
    return found


def _covers(mount: str, path: str) -> bool:
    mount = mount.rstrip("/") or "/"
    return mount == "/" or path == mount or path.startswith(mount + "/")


def _decide(path: str, found: list[Mount], effects: tuple[str, str]) -> Mount | None:
    """The most specific mount with one of ``effects`` (bad, good) covering ``path``."""
    best: Mount | None = None
    for mount in found:
        if mount.effect not in effects or not _covers(mount.path, path):
            continue
        # The deeper mount wins; at the same depth, the later line.
        if best is None or len(mount.path.rstrip("/")) >= len(best.path.rstrip("/")):
            best = mount
    return best if best is not None and best.effect == effects[0] else None


def hidden_by(path: str, directives: Iterable[tuple[str, str]]) -> str | None:
    """Why a service with ``directives`` cannot execute ``path``; None when nothing stops it."""
    found = mounts(directives)
    for mount in found:
        if mount.effect == INACCESSIBLE and _covers(mount.path, path):
            return f"{mount.why} makes {mount.path} inaccessible to the service"
    blocked = _decide(path, found, (EMPTY, VISIBLE))
    if blocked is not None:
        return f"{blocked.why} hides what is under {blocked.path} from the service"
    blocked = _decide(path, found, (NOEXEC, EXEC))
    if blocked is not None:
        return f"{blocked.why} forbids executing programs under {blocked.path}"
    return None


def root_directory(directives: Iterable[tuple[str, str]]) -> str | None:
    """RootDirectory= of the service, under which its programs are looked up."""
    value = None
    for name, line in directives:
        if name == "RootDirectory":
            value = line.strip() or None
    return value


def service_directives(unit_text: str) -> list[tuple[str, str]]:
    """The ``[Service]`` lines of a unit file as (directive, value), continuation lines joined."""
    out: list[tuple[str, str]] = []
    section = ""
    pending = ""
    for raw in unit_text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Service]" and "=" in line:
            key, _, value = line.partition("=")
            out.append((key.strip(), value.strip()))
    return out
