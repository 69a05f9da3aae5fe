"""Enabling our units in an image the way image builds do it: ``systemctl --root=DIR preset``.

systemctl applies the preset file we install, so the image and a later ``preset-all`` agree.
The symlinks it makes are found by comparing snapshots of ``etc/systemd/system`` before and
after, which records exactly what to remove at uninstall, including the ``.wants`` directories
systemctl had to create.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence

from ..config.model import Config
from ..errors import Failure
from ..rootfs import EscapeError, Root

LINK_DIR = "etc/systemd/system"
PATH_UNIT = "ostree-finalize-staged.path"
# Where a unit file can be; the /lib ones matter for roots without merged /usr.
UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system")


def ships_unit(root: Root, name: str) -> bool:
    for directory in UNIT_DIRS:
        try:
            if root.entry(f"{directory}/{name}").kind in ("file", "symlink"):
                return True
        except EscapeError:
            continue
    return False


def resolve_path_unit(config: Config, root: Root) -> Config:
    """``path-unit: auto`` read off an image root that has ostree's units: ``no`` where its
    ostree ships the finalize unit without the path unit (2025.2 and later), so that nothing
    in that image names a unit that does not exist. A root without ostree's finalize unit (a
    package's DESTDIR) keeps the preset line for whichever ostree the package lands on."""
    if (
        config.finalize.path_unit == "auto"
        and ships_unit(root, config.finalize.unit)
        and not ships_unit(root, PATH_UNIT)
    ):
        return config._replace(finalize=config.finalize._replace(path_unit="no"))
    return config


def units_to_enable(config: Config, root: Root, static_units: bool) -> list[str]:
    """Our unit, or its timer with scheduling.delay (unless the generator makes them at boot),
    and the finalize path unit if needed.

    ostree-finalize-staged.path was removed in ostree 2025.2: with ``path-unit: auto`` it is
    enabled only where the root still ships it; ``yes`` insists and fails where it is missing.
    """
    units = [config.enabled_unit] if static_units else []
    mode = config.finalize.path_unit
    if mode == "no":
        return units
    if ships_unit(root, PATH_UNIT):
        units.append(PATH_UNIT)
    elif mode == "yes":
        raise Failure(
            f"{root.show('usr/lib/systemd/system/' + PATH_UNIT)}: finalize.path-unit is yes but "
            f"the root does not ship {PATH_UNIT} (ostree 2025.2 removed it; use auto)"
        )
    return units


def systemctl() -> str:
    found = shutil.which("systemctl")
    if found is None:
        raise Failure(
            "systemctl not found: cannot enable the units in the image (install systemd on "
            "the build host, or pass --no-enable and enable them another way)"
        )
    return found


def command(root: Root, units: Sequence[str]) -> list[str]:
    # Without --root, systemctl acts on the running system: through D-Bus when systemd runs.
    base = [systemctl()] if root.is_host else [systemctl(), f"--root={root.path}"]
    return [*base, "preset", *units]


def install_links(root: Root, unit: str, text: str | None = None) -> list[str] | None:
    """The links enabling ``unit`` makes, from its [Install] section (``text``, else the unit
    file in the root); None when the unit file cannot be read."""
    if text is None:
        for directory in UNIT_DIRS:
            try:
                data = root.entry(root.resolve(f"{directory}/{unit}")).data
            except EscapeError:
                continue
            if data is not None:
                text = data.decode("utf-8", "replace")
                break
        else:
            return None
    links = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Install]" and "=" in line:
            key, _, value = line.partition("=")
            for name in value.split():
                if key.strip() == "WantedBy":
                    links.append(f"{LINK_DIR}/{name}.wants/{unit}")
                elif key.strip() == "RequiredBy":
                    links.append(f"{LINK_DIR}/{name}.requires/{unit}")
                elif key.strip() == "Alias":
                    links.append(f"{LINK_DIR}/{name}")
    return links


def describe(root: Root, units: Sequence[str], texts: Mapping[str, str]) -> list[str]:
    """For --dry-run: what enabling ``units`` would do, also where systemctl is missing.

    ``texts``: unit files not in the root yet (ours), by name.
    """
    lines = []
    try:
        lines.append("would run " + " ".join(command(root, units)))
    except Failure:
        lines.append(
            f"would run systemctl preset {' '.join(units)}, but systemctl is not installed "
            "here: the install itself needs it (or --no-enable, or --no-apply-preset for a "
            "package)"
        )
    for unit in units:
        links = install_links(root, unit, texts.get(unit))
        if links is None:
            lines.append(f"  which enables {unit} as its [Install] section says")
        for link in links or ():
            lines.append(f"  which links {root.show(link)} -> {unit}")
    return lines


def preset(root: Root, units: Sequence[str]) -> None:
    argv = command(root, units)
    result = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].rstrip(".") if lines else f"exit status {result.returncode}"
        raise Failure(f"systemctl preset {' '.join(units)} failed: {reason}")


def added(
    before: Iterable[tuple[str, str]], after: Mapping[str, str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Symlinks (path, target) and directories present in ``after`` but not in ``before``."""
    known = dict(before)
    links = []
    directories = []
    for path, what in sorted(after.items()):
        if known.get(path) == what:
            continue
        if what.startswith("-> "):
            links.append((path, what[3:]))
        elif what == "dir":
            directories.append(path)
    return links, directories


def points_at(target: str, units: Iterable[str]) -> bool:
    # Debian's links point into /lib/systemd/system, others into /usr/lib: compare basenames.
    return os.path.basename(target) in set(units)
