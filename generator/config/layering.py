"""Which config files apply, in the order they are applied.

Imported on the generator's boot path, so it uses nothing but ``os`` there: every extra module
costs milliseconds at every boot (annotations are quoted so that ``typing`` is not needed at run
time). Under an image root (``--root``) paths resolve through ``rootfs``, the one rule for roots,
imported only then.

The rules are systemd's for its own configuration (systemd.unit(5), "drop-in"):
``config.yaml`` is taken from the first of /etc, /run, /usr/lib that has it; drop-ins
``config.d/*.yaml`` are collected from all three, a name in a higher directory masking the same
name in a lower one, and applied after the main file in lexical order of their names.
"""

import os

CONFIG_DIRS = ("/etc/ostree-autocleanup", "/run/ostree-autocleanup", "/usr/lib/ostree-autocleanup")
MAIN_NAME = "config.yaml"
DROPIN_DIR = "config.d"
DROPIN_SUFFIX = ".yaml"


def host_path(path: str, root: "str | None" = None) -> str:
    """Where ``path`` of the target system is on this machine: resolved inside ``root``."""
    if not root or root == "/":
        return path
    from ..rootfs import resolve

    return resolve(root, path)


def _lexists(path: str, root: "str | None") -> bool:
    """Whether ``path`` (of the target system) exists, without following a final symlink."""
    if not root or root == "/":
        return os.path.lexists(path)
    directory, name = os.path.split(path)
    return os.path.lexists(os.path.join(host_path(directory, root), name))


def _applies(path: str, root: "str | None") -> bool:
    """A regular, non-empty file: an empty file or a link to /dev/null masks instead."""
    host = host_path(path, root)
    return os.path.isfile(host) and os.path.getsize(host) > 0


def find_config_files(root: "str | None" = None) -> "list[str]":
    """The config files, as the target system names them, in application order.

    Read them through ``host_path(path, root)``.
    """
    main = None
    main_found = False
    dropins: dict[str, str] = {}
    for directory in CONFIG_DIRS:
        candidate = directory + "/" + MAIN_NAME
        if not main_found and _lexists(candidate, root):
            # The highest one wins; an empty one or a link to /dev/null masks those below.
            main_found = True
            if _applies(candidate, root):
                main = candidate
        dropin_dir = directory + "/" + DROPIN_DIR
        try:
            names = os.listdir(host_path(dropin_dir, root))
        except OSError:
            continue
        for name in names:
            if name.endswith(DROPIN_SUFFIX) and not name.startswith(".") and name not in dropins:
                # An empty file or a link to /dev/null masks a drop-in of the same name below.
                dropins[name] = dropin_dir + "/" + name
    files = [main] if main else []
    for name in sorted(dropins):
        if _applies(dropins[name], root):
            files.append(dropins[name])
    return files
