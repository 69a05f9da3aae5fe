"""What a sysroot holds on disk, read from its files without libostree.

Used at shutdown (which deployment was just finalized) and before a prune (which commits the
deployments need), where loading the sysroot through libostree is too costly or not allowed.
"""

from __future__ import annotations

import os

from .numbers import parse_count

_HEX = frozenset("0123456789abcdef")
_DIGITS = frozenset("0123456789")


def _is_checksum(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


def _is_serial(text: str) -> bool:
    return bool(text) and set(text) <= _DIGITS


def deployment_dirs(sysroot: str) -> list[tuple[str, str]]:
    """(osname, CHECKSUM.SERIAL) of every deployment directory under ostree/deploy/."""
    found: list[tuple[str, str]] = []
    deploy_root = os.path.join(sysroot, "ostree", "deploy")
    try:
        osnames = sorted(os.listdir(deploy_root))
    except FileNotFoundError:
        return found
    for osname in osnames:
        try:
            entries = sorted(os.listdir(os.path.join(deploy_root, osname, "deploy")))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            checksum, dot, serial = entry.partition(".")
            if dot and _is_serial(serial) and _is_checksum(checksum):
                found.append((osname, entry))
    return found


def ref_commits(repo: str) -> set[str]:
    """Every commit a ref of the repo points at (refs/heads, refs/remotes, refs/mirrors).

    ostree stores refs as loose files holding a checksum; no packed refs exist.
    """
    commits: set[str] = set()
    for top, _dirs, files in os.walk(os.path.join(repo, "refs")):
        for name in files:
            try:
                with open(os.path.join(top, name), encoding="ascii", errors="replace") as f:
                    value = f.read(200).strip()
            except OSError:
                continue
            if _is_checksum(value):
                commits.add(value)
    return commits


def unreferenced_deployments(sysroot: str, repo: str) -> list[str]:
    """Deployments (`OS/CHECKSUM.SERIAL`) whose commit no ref holds.

    A refs-only prune would delete their objects; ostree keeps each deployment's commit alive
    with a ref `ostree/B/S/N`, so this list is empty on a consistent sysroot.
    """
    held = ref_commits(repo)
    return [
        f"{osname}/{entry}"
        for osname, entry in deployment_dirs(sysroot)
        if entry.partition(".")[0] not in held
    ]


def default_deployment(sysroot: str, boot: str) -> str | None:
    """`OS/CHECKSUM.SERIAL` of the deployment the bootloader boots next, or None.

    That is the loader entry with the highest `version` (ostree numbers the default entry
    highest); its `ostree=` argument is a symlink, relative to the sysroot, to the deployment.
    Never raises: any surprise just means "unknown".
    """
    entries_dir = os.path.join(boot, "loader", "entries")
    best: tuple[int, str] | None = None
    try:
        names = os.listdir(entries_dir)
    except OSError:
        return None
    for name in names:
        if not name.endswith(".conf"):
            continue
        version = -1
        target = ""
        try:
            with open(os.path.join(entries_dir, name), encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, _, value = line.strip().partition(" ")
                    count = parse_count(value.strip()) if key == "version" else None
                    if count is not None:
                        version = count
                    elif key == "options":
                        for arg in value.split():
                            if arg.startswith("ostree="):
                                target = arg[len("ostree=") :]
        except OSError:
            continue
        if target and (best is None or version > best[0]):
            best = (version, target)
    if best is None:
        return None
    try:
        link = os.path.join(sysroot, best[1].lstrip("/"))
        resolved = os.path.realpath(link)
    except OSError:
        return None
    entry = os.path.basename(resolved)
    osname = os.path.basename(os.path.dirname(os.path.dirname(resolved)))
    checksum, dot, serial = entry.partition(".")
    if not (dot and _is_serial(serial) and _is_checksum(checksum)):
        return None
    # The name goes into the stamp as one `key=value` line.
    if not osname or not osname.isprintable() or any(c.isspace() for c in osname):
        return None
    return f"{osname}/{entry}"


def _commit_object(repo: str, checksum: str) -> str:
    return os.path.join(repo, "objects", checksum[:2], checksum[2:] + ".commit")


def missing_commits(sysroot: str, repo: str) -> list[str]:
    """Deployments and refs whose commit object is not in the repo, described for a message.

    libostree's prune treats a missing commit as nothing to keep: it would delete every object
    of that deployment from the repo (`ostree admin cleanup` does so too). Such a repo needs
    `ostree fsck` and a human, not a cleanup.
    """
    problems = [
        f"deployment {osname}/{entry}"
        for osname, entry in deployment_dirs(sysroot)
        if not os.path.exists(_commit_object(repo, entry.partition(".")[0]))
    ]
    for top, _dirs, files in os.walk(os.path.join(repo, "refs")):
        for name in files:
            path = os.path.join(top, name)
            try:
                with open(path, encoding="ascii", errors="replace") as f:
                    value = f.read(200).strip()
            except OSError:
                continue
            if _is_checksum(value) and not os.path.exists(_commit_object(repo, value)):
                ref = os.path.relpath(path, os.path.join(repo, "refs"))
                problems.append(f"ref {ref}")
    return problems


def check_before_prune(sysroot: str, repo: str, refs_only: bool) -> bool:
    """Raise HelperError when pruning could delete live data; return whether every deployment
    is held by a ref (when it is not, only a full cleanup, which rewrites the refs, may prune).

    `refs_only`: the caller prunes from refs alone, so an unheld deployment is an error.
    """
    from .errors import HelperError

    missing = missing_commits(sysroot, repo)
    if missing:
        raise HelperError(
            "refusing to clean up: the repo lacks the commit object of " + ", ".join(missing),
            f"a prune would delete live objects; check the repo with `ostree fsck --repo={repo}`",
        )
    orphans = unreferenced_deployments(sysroot, repo)
    if orphans and refs_only:
        raise HelperError(
            "refusing to prune: no ref holds the commit of deployment " + ", ".join(orphans),
            "a refs-only prune would delete it; use mode full, which regenerates the refs",
        )
    return not orphans


def is_booted_sysroot(sysroot: str) -> bool:
    """True when `sysroot` is the physical root of the running, ostree-booted system.

    Then libostree must open it as "/" (ostree_sysroot_new_default): only then does it look for
    the booted deployment and the one staged during this boot. Given the path /sysroot, it
    takes the staged deployment for an orphan and deletes it (so does
    `ostree admin cleanup --sysroot=/sysroot`). On a booted system /ostree is a symlink into
    the physical root, so the two name the same directory exactly when `sysroot` is that root.
    """
    if not os.path.exists("/run/ostree-booted"):
        return False
    try:
        mine = os.stat(os.path.join(sysroot, "ostree"))
        booted = os.stat("/ostree")
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (booted.st_dev, booted.st_ino)
