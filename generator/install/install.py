"""``install``: put the rendered files into an image root.

Order of an install, chosen so that a kill at any point can be finished by running it again:
1. decide everything (plan, conflicts, writability, systemctl present) before touching the root;
2. write a *pending* manifest that covers the old and the new state (see manifest.py);
3. replace the files one by one, atomically;
4. ``systemctl preset`` our units, and record the links it made;
5. replace the pending manifest with the complete one.
A failure that is reported rather than killed rolls back what this run changed.
"""

from __future__ import annotations

import argparse
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from ..config.model import Config
from ..errors import Failure
from ..options import add_config_options, warning
from ..rootfs import EscapeError, Root
from . import enablement
from .common import (
    FILE_MODE,
    MANIFEST_DIR,
    add_root_options,
    link_intact,
    lock,
    one_line,
    open_root,
    read_manifest,
    reload_if_live,
    sweep,
)
from .manifest import MANIFEST_PATH, Manifest, merged_records
from .plan import Plan, Step, Wanted, describe, make_plan


def configure_install_parser(parser: argparse.ArgumentParser) -> None:
    add_config_options(parser)
    add_root_options(parser, "install into")
    parser.add_argument(
        "--generator",
        action="store_true",
        help="install the systemd generator and the config instead of static units",
    )
    enabling = parser.add_mutually_exclusive_group()
    enabling.add_argument(
        "--no-enable",
        action="store_true",
        help="leave out the preset file and do not run systemctl preset: the units stay disabled",
    )
    enabling.add_argument(
        "--no-apply-preset",
        action="store_true",
        help="write the preset file but do not run systemctl: for packages, whose install "
        "scripts apply the preset on the target system",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite files that exist but were not installed by us (they are ours after)",
    )
    parser.add_argument(
        "--list-files",
        action="store_true",
        help="print the paths install writes, as absolute paths in the image, and exit",
    )


# -- what to install ------------------------------------------------------------------------


def _generator_files(
    config: Config, inputs: Sequence[tuple[str, bytes | None]]
) -> dict[str, tuple[bytes, int]]:
    from ..boot.image import generator_files

    # The mode may carry the file type bits (S_IFREG): only the permissions are ours to set.
    files = generator_files(config, inputs=inputs)
    return {path: (data, stat.S_IMODE(mode)) for path, (data, mode) in files.items()}


def wanted_files(
    config: Config,
    root: Root,
    generator: bool,
    enable: bool,
    inputs: Sequence[tuple[str, bytes | None]] = (),
) -> dict[str, Wanted]:
    """Every file install puts into the root. INPUTS: the config files CONFIG was validated
    from, (name, bytes), which ``--generator`` ships as they are."""
    from ..units.render import PRESET_DIR, render

    rendered = render(config)
    files: dict[str, Wanted] = {}
    if generator:
        for path, (data, mode) in _generator_files(config, inputs).items():
            files[path] = Wanted(path, data, mode)
    else:
        for path, text in rendered.items():
            if not path.startswith(PRESET_DIR + "/"):
                files[path] = Wanted(path, text.encode(), FILE_MODE)
    if enable:
        # Also with --generator: the preset enables ostree-finalize-staged.path where needed.
        # Only the preset reads path-unit: auto off the root; the config files --generator
        # ships stay as validated.
        preset = f"{PRESET_DIR}/{config.preset_name}"
        preset_config = enablement.resolve_path_unit(config, root)
        text = (rendered if preset_config is config else render(preset_config))[preset]
        files[preset] = Wanted(preset, text.encode(), FILE_MODE)
    return files


# -- install --------------------------------------------------------------------------------


def run_install(args: argparse.Namespace) -> int:
    from ..config.load import config_from_inputs, read_config_inputs

    root = open_root(args.root)
    with root:
        # Read once: the bytes validated are the bytes shipped (-c - is standard input).
        inputs = read_config_inputs(args.config, None if root.is_host else root.path, warning)
        config = config_from_inputs(inputs)
        wanted = wanted_files(
            config,
            root,
            args.generator,
            not args.no_enable,
            [(i.name, i.data) for i in inputs],
        )
        if args.list_files:
            for path in sorted([*wanted, MANIFEST_PATH]):
                print("/" + path)
            return 0
        if root.is_host:
            for message in live_system_warnings(root, config):
                warning(message)
        lock(root)
        try:
            return _install(root, config, wanted, args, sys.stdout)
        except EscapeError as error:
            raise Failure(str(error)) from None


def live_system_warnings(root: Root, config: Config) -> list[str]:
    """What makes an install on the running system pointless, said before doing it anyway
    (a container image build runs with --root / on a system that is not booted from OSTree)."""
    problems = []
    try:
        booted = root.entry(config.repo_path.lstrip("/")).kind != "missing"
        booted = booted or root.entry("run/ostree-booted").kind != "missing"
    except EscapeError:  # a sysroot path that runs into a file: no OSTree there either
        booted = False
    if not booted:
        problems.append(
            f"{config.sysroot} holds no OSTree repository and /run/ostree-booted does not exist: "
            "this system is not booted from OSTree, so the cleanup will not run here (fine in "
            "a container image build: it runs once the image is deployed)"
        )
    if not enablement.ships_unit(root, config.finalize.unit):
        problems.append(
            f"{config.finalize.unit} is not installed (looked in "
            f"{', '.join('/' + d for d in enablement.UNIT_DIRS)}): the stamp drop-in extends "
            "a unit that does not exist, so no stamp is ever written (install ostree's boot "
            "units, Debian's ostree-boot package, or set finalize.unit)"
        )
    return problems


def _install(
    root: Root,
    config: Config,
    wanted: Mapping[str, Wanted],
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    kind = "generator" if args.generator else "units"
    if args.no_enable or args.no_apply_preset:
        units = []
    else:
        units = enablement.units_to_enable(config, root, not args.generator)
    old = read_manifest(root)
    plan = make_plan(root, wanted, old, args.force)
    if plan.refusals:
        raise Failure(one_line(plan.refusals, "nothing was changed"))
    if plan.conflicts:
        raise Failure(one_line(plan.conflicts, "nothing was changed (use --force to overwrite)"))

    links_ok = old is not None and all(link_intact(root, p, t) for p, t in old.links)
    enable_needed = bool(units) and not (
        old is not None and old.complete and list(old.units) == units and links_ok
    )
    stale_links = [
        (p, t) for p, t in (old.links if old else ()) if not enablement.points_at(t, units)
    ]
    up_to_date = (
        old is not None
        and old.complete
        and not plan.changes
        and not enable_needed
        and not stale_links
        and old.kind == kind
        and set(old.files) == set(plan.records())
        and list(old.units) == units
        and old.sources == config.sources
    )
    if up_to_date:
        print(f"nothing to do: {root.path} is up to date", file=out)
        return 0
    if args.dry_run:
        for line in describe(plan, root):
            print(line, file=out)
        for path, target in stale_links:
            print(f"would remove {root.show(path)} -> {target}", file=out)
        if enable_needed:
            texts = {
                path.rpartition("/")[2]: want.data.decode("utf-8", "replace")
                for path, want in wanted.items()
                if path.startswith(f"{enablement.UNIT_DIRS[1]}/")
            }
            for line in enablement.describe(root, units, texts):
                print(line, file=out)
        verb = "replace" if old else "create"
        print(f"would {verb} {root.show(MANIFEST_PATH)}", file=out)
        return 0
    if units:
        enablement.command(root, units)  # fails before any write when systemctl is missing

    _check_writable(root, plan, units)
    sweep(root, [*wanted, *(r.path for r in old.files)] if old else list(wanted))
    run = _InstallRun(root, old, out)
    try:
        run.carry_out(plan, kind, config, units, enable_needed, stale_links)
    except (OSError, Failure, EscapeError) as error:
        message = error.strerror if isinstance(error, OSError) else str(error)
        where = getattr(error, "filename", None)
        prefix = f"{where}: " if where else ""
        if not run.changed:
            tail = "nothing was changed"
        elif run.roll_back():
            tail = "rolled back"
        else:
            tail = "could not roll back everything: run install or uninstall again"
        raise Failure(f"{prefix}{message}; {tail}") from None
    reload_if_live(root, out)
    return 0


def _check_writable(root: Root, plan: Plan, units: Sequence[str]) -> None:
    directories = {MANIFEST_DIR}
    directories.update(step.path.rpartition("/")[0] for step in plan.changes)
    if units:
        directories.add(enablement.LINK_DIR)
    for directory in sorted(directories):
        if not root.writable(directory):
            raise Failure(
                f"{root.show(directory)}: not writable (a read-only root?); nothing was changed"
            )


class _InstallRun:
    """One install's changes, remembered so that a reported failure can undo them."""

    def __init__(self, root: Root, old: Manifest | None, out: TextIO) -> None:
        self.root = root
        self.old = old
        self.old_manifest = root.entry(MANIFEST_PATH).data
        self.out = out
        self.created: list[str] = []
        self.done: list[Step] = []
        self.removed_links: list[tuple[str, str]] = []
        self.baseline: tuple[tuple[str, str], ...] = ()
        self.preset_ran = False
        self.manifest_written = False  # nothing in the root changed before this is set
        self.units: list[str] = []

    def carry_out(
        self,
        plan: Plan,
        kind: str,
        config: Config,
        units: list[str],
        enable_needed: bool,
        stale_links: list[tuple[str, str]],
    ) -> None:
        root, old = self.root, self.old
        self.units = units
        if old is not None and not old.complete and old.baseline is not None:
            self.baseline = old.baseline
        else:
            self.baseline = tuple(sorted(root.snapshot(enablement.LINK_DIR).items()))
        manifest_dirs = root.missing_directories(MANIFEST_DIR)
        directories = tuple(
            dict.fromkeys(
                [*(old.directories if old else ()), *manifest_dirs, *plan.missing_directories]
            )
        )
        pending = Manifest(
            complete=False,
            kind=kind,
            sources=config.sources,
            files=merged_records(old.files if old else (), plan.records()),
            directories=directories,
            links=old.links if old else (),
            units=tuple(dict.fromkeys([*(old.units if old else ()), *units])),
            baseline=self.baseline,
        )
        root.write_with_parents_atomically(
            MANIFEST_PATH, pending.to_bytes(), FILE_MODE, self.created
        )
        self.manifest_written = True
        for step in plan.changes:
            if step.kind == "remove":
                root.remove(step.path)
                print(f"removed {root.show(step.path)}", file=self.out)
            else:
                assert step.new is not None
                root.write(step.path, step.new.data, step.new.mode, self.created)
                verb = "created" if step.kind == "create" else "replaced"
                print(f"{verb} {root.show(step.path)}", file=self.out)
            self.done.append(step)
        for path, target in stale_links:
            if link_intact(root, path, target) and root.remove(path):
                self.removed_links.append((path, target))
                print(f"removed {root.show(path)} -> {target}", file=self.out)
        new_dirs: list[str] = []
        links = [(p, t) for p, t in (old.links if old else ()) if (p, t) not in stale_links]
        if enable_needed:
            self.preset_ran = True
            enablement.preset(root, units)
            made_links, new_dirs = enablement.added(
                self.baseline, root.snapshot(enablement.LINK_DIR)
            )
            for path, target in made_links:
                if enablement.points_at(target, units) and (path, target) not in links:
                    links.append((path, target))
                    print(f"enabled {root.show(path)} -> {target}", file=self.out)
        links = [(p, t) for p, t in links if link_intact(root, p, t)]
        final = Manifest(
            complete=True,
            kind=kind,
            sources=config.sources,
            files=plan.records(),
            directories=tuple(
                d
                for d in dict.fromkeys([*directories, *self.created, *new_dirs])
                if root.entry(d).kind == "directory"
            ),
            links=tuple(sorted(links)),
            units=tuple(units),
        )
        root.write(MANIFEST_PATH, final.to_bytes(), FILE_MODE, self.created)
        print(f"wrote {root.show(MANIFEST_PATH)}", file=self.out)

    @property
    def changed(self) -> bool:
        return self.manifest_written

    def roll_back(self) -> bool:
        """Undo this run's changes; True when everything was put back.

        Every step is tried even when one fails, so that as much as possible is undone; the
        pending manifest stays behind whenever something could not be, so that a rerun (or an
        uninstall) finishes the job.
        """
        root = self.root
        complete = True

        def attempt(step: Callable[..., object], *args: Any) -> None:
            nonlocal complete
            try:
                step(*args)
            except (OSError, EscapeError):
                complete = False

        if not self.manifest_written:
            return True  # the first write failed: nothing was changed
        scratch: list[str] = []
        if self.preset_ran:
            # What systemctl preset made for our units, and the directories it made for them
            # (multi-user.target.wants/ in a fresh image), deepest first once they are empty.
            try:
                snapshot = root.snapshot(enablement.LINK_DIR)
            except (OSError, EscapeError):
                snapshot, complete = {}, False
            links, directories = enablement.added(self.baseline, snapshot)
            for path, target in links:
                if enablement.points_at(target, self.units):
                    attempt(root.remove, path)
            for directory in sorted(directories, key=lambda d: d.count("/"), reverse=True):
                attempt(root.remove_directory, directory)
        for step in reversed(self.done):
            if step.old.kind == "file" and step.old.data is not None:
                attempt(root.write, step.path, step.old.data, step.old.mode, scratch)
            elif step.old.kind == "missing":
                attempt(root.remove, step.path)
            elif step.old.kind == "symlink" and step.old.target is not None:
                attempt(root.symlink, step.path, step.old.target)
            else:
                complete = False
        for path, target in self.removed_links:
            attempt(root.symlink, path, target)
        if complete:
            if self.old_manifest is not None:
                attempt(root.write, MANIFEST_PATH, self.old_manifest, FILE_MODE, scratch)
            else:
                attempt(root.remove, MANIFEST_PATH)
        for directory in reversed([*self.created, *scratch]):
            attempt(root.remove_directory, directory)
        return complete
