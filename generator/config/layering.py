"""Which config files apply, in the order they are applied.

Imported on the generator's boot path, so it uses nothing but ``os`` there: every extra module
costs milliseconds at every boot (annotations are quoted so that ``typing`` is not needed at run
time). Under an image root (``--root``) paths resolve through ``rootfs``, the one rule for roots,
imported only then.

The rules are systemd's for its own configuration (systemd.unit(5), "drop-in"):
``config.yaml`` is taken from the first of /etc, /run, /usr/lib that has it; drop-ins
``config.d/*.yaml`` are collected from all three, a name in a higher directory masking the same
name in a lower one, and applied after the main file in lexical order of their names.

A name masks on purpose when it is an empty file or a symlink to /dev/null. Anything else that
is not a regular file (a directory, a dangling symlink, a FIFO) masks as well, because it sits
where a file would, but nobody means that: it is reported through ``warn``.
"""

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Warn = Callable[[str], None]

CONFIG_DIRS = ("/etc/ostree-autocleanup", "/run/ostree-autocleanup", "/usr/lib/ostree-autocleanup")
MAIN_NAME = "config.yaml"
DROPIN_DIR = "config.d"
DROPIN_SUFFIX = ".yaml"
DEV_NULL = "/dev/null"

# File types of st_mode (stat(2)): the stat module is not imported on the boot path.
_S_IFMT, _S_IFLNK, _S_IFREG, _S_IFDIR, _S_IFCHR = 0o170000, 0o120000, 0o100000, 0o040000, 0o020000

# What is found at one candidate path (see _classify).
_MISSING = "missing"
_CONFIG = "config"  # a regular, non-empty file
_MASK = "mask"  # an empty file or a link to /dev/null: masks, on purpose


def host_path(path: str, root: "str | None" = None) -> str:
    """Where ``path`` of the target system is on this machine: resolved inside ``root``."""
    if not root or root == "/":
        return path
    from ..rootfs import resolve

    return resolve(root, path)


def _entry_path(path: str, root: "str | None") -> str:
    """Where the entry ``path`` itself is on this machine, a final symlink not followed."""
    if not root or root == "/":
        return path
    from ..rootfs import resolve_entry

    return resolve_entry(root, path)


def _shown(path: str, root: "str | None") -> str:
    """How messages name ``path``: as the file on this machine, so that it can be opened."""
    if not root or root == "/":
        return path
    return root.rstrip("/") + path


def _is_dev_null(info: "os.stat_result") -> bool:
    return (
        info.st_mode & _S_IFMT == _S_IFCHR
        and os.major(info.st_rdev) == 1
        and os.minor(info.st_rdev) == 3
    )


def _classify(path: str, root: "str | None") -> str:
    """_MISSING, _CONFIG, _MASK, or a sentence saying why this entry is neither.

    The sentence is what a warning says about a name that masks by accident.
    """
    entry = _entry_path(path, root)
    try:
        info = os.lstat(entry)
    except FileNotFoundError:
        return _MISSING
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if info.st_mode & _S_IFMT == _S_IFLNK:
        target = os.readlink(entry)
        # By name: an image root need not have a /dev of its own, and systemd masks by name too.
        if os.path.normpath(target) == DEV_NULL:
            return _MASK
        resolved = host_path(path, root)
        if root and resolved == host_path(DEV_NULL, root):
            return _MASK  # a relative link to the image's /dev/null, which need not exist
        try:
            info = os.stat(resolved)
        except FileNotFoundError:
            return f"is a symlink to {target}, which does not exist"
        except OSError as error:
            return f"is a symlink to {target}, which cannot be read ({error.strerror})"
    if info.st_mode & _S_IFMT == _S_IFREG:
        return _CONFIG if info.st_size > 0 else _MASK
    if _is_dev_null(info):
        return _MASK
    if info.st_mode & _S_IFMT == _S_IFDIR:
        return "is a directory, not a file"
    return "is not a regular file"


def _report(
    warn: "Warn | None",
    path: str,
    why: str,
    lower: "list[str]",
    root: "str | None",
    what: str,
) -> None:
    if warn is None:
        return
    masked = ", ".join(_shown(p, root) for p in lower) or f"nothing (no {what} below it)"
    warn(
        f"{_shown(path, root)} {why}: it masks {masked}; make it an empty file or a link to "
        f"{DEV_NULL} to mask on purpose, or remove it"
    )


def _unreadable_directory(path: str, root: "str | None", error: OSError) -> "str | None":
    """Why drop-in directory ``path`` cannot be listed; None when it simply is not there."""
    if isinstance(error, NotADirectoryError):
        return "is not a directory"
    if not isinstance(error, FileNotFoundError):
        return f"cannot be read ({error.strerror})"
    entry = _entry_path(path, root)
    if os.path.islink(entry):
        return f"is a symlink to {os.readlink(entry)}, which does not exist"
    return None


def find_config_files(root: "str | None" = None, warn: "Warn | None" = None) -> "list[str]":
    """The config files, as the target system names them, in application order.

    Read them through ``host_path(path, root)``. ``warn``, a callable taking one message, hears
    of every name that masks the files below it without being a deliberate mask.
    """
    main = None
    main_found = False
    found: dict[str, list[str]] = {}  # drop-in name -> its paths, highest directory first
    for directory in CONFIG_DIRS:
        candidate = directory + "/" + MAIN_NAME
        if not main_found:
            kind = _classify(candidate, root)
            if kind != _MISSING:
                # The highest one wins; an empty one or a link to /dev/null masks those below.
                main_found = True
                if kind == _CONFIG:
                    main = candidate
                elif kind != _MASK:
                    below = CONFIG_DIRS[CONFIG_DIRS.index(directory) + 1 :]
                    lower = [d + "/" + MAIN_NAME for d in below]
                    lower = [p for p in lower if _classify(p, root) == _CONFIG]
                    _report(warn, candidate, kind, lower, root, MAIN_NAME)
        dropin_dir = directory + "/" + DROPIN_DIR
        try:
            names = os.listdir(host_path(dropin_dir, root))
        except OSError as error:
            if warn is not None:
                why = _unreadable_directory(dropin_dir, root, error)
                if why:
                    warn(f"{_shown(dropin_dir, root)} {why}: the drop-ins in it are ignored")
            continue
        for name in names:
            if name.endswith(DROPIN_SUFFIX) and not name.startswith("."):
                found.setdefault(name, []).append(dropin_dir + "/" + name)
    files = [main] if main else []
    for name in sorted(found):
        top, *lower = found[name]
        kind = _classify(top, root)
        if kind == _CONFIG:
            files.append(top)
        elif kind not in (_MASK, _MISSING):
            # An empty file or a link to /dev/null masks a drop-in of the same name below.
            lower = [p for p in lower if _classify(p, root) == _CONFIG]
            _report(warn, top, kind, lower, root, name)
    return files
