"""Which config files apply, in the order they are applied.

Imported on the generator's boot path, so it uses nothing but ``os``: every extra module costs
milliseconds at every boot (annotations are quoted so that ``typing`` is not needed at run time).

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


def find_config_files(root: "str | None" = None) -> "list[str]":
    """Absolute paths (under ``root`` when given) of the config files, in application order."""
    prefix = "" if not root or root == "/" else os.path.abspath(root)
    main = None
    main_found = False
    dropins: dict[str, str] = {}
    for directory in CONFIG_DIRS:
        base = prefix + directory
        candidate = os.path.join(base, MAIN_NAME)
        if not main_found and os.path.lexists(candidate):
            # The highest one wins; an empty one or a link to /dev/null masks those below.
            main_found = True
            if os.path.isfile(candidate) and os.path.getsize(candidate) > 0:
                main = candidate
        try:
            names = os.listdir(os.path.join(base, DROPIN_DIR))
        except OSError:
            continue
        for name in names:
            if name.endswith(DROPIN_SUFFIX) and not name.startswith(".") and name not in dropins:
                # An empty file or a link to /dev/null masks a drop-in of the same name below.
                dropins[name] = os.path.join(base, DROPIN_DIR, name)
    files = [main] if main else []
    for name in sorted(dropins):
        path = dropins[name]
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            files.append(path)
    return files


def target_path(path: str, root: "str | None" = None) -> str:
    """``path`` as the target system sees it, i.e. with ``root`` taken off."""
    if not root or root == "/":
        return path
    prefix = os.path.abspath(root)
    if path == prefix:
        return "/"
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return path
