"""``install`` and ``uninstall``: put the rendered files into an image root, and take them out.

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
from collections.abc import Mapping, Sequence
from typing import TextIO

from . import enablement, live_reload
from .config import Config
from .errors import Failure, UsageError
from .install_plan import Plan, Step, Wanted, describe, make_plan
from .manifest import MANIFEST_PATH, Manifest, ManifestError, merged_records, parse
from .rootfs import EscapeError, Root, RootError

FILE_MODE = 0o644
MANIFEST_DIR = MANIFEST_PATH.rpartition("/")[0]


def _add_common(parser: argparse.ArgumentParser) -> None:
    from .cli import add_config_options

    add_config_options(parser)


def _add_root(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--root",
        metavar="DIR",
        default="/",
        help=f"{verb} the image root or DESTDIR at DIR; default: the running system (/)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be written, changed or removed (with diffs), change nothing",
    )


def configure_install_parser(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    _add_root(parser, "install into")
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


def configure_uninstall_parser(parser: argparse.ArgumentParser) -> None:
    _add_root(parser, "uninstall from")
    parser.add_argument(
        "--force",
        action="store_true",
        help="also remove files that were changed after install",
    )


# -- shared ---------------------------------------------------------------------------------


def _open_root(path: str) -> Root:
    try:
        return Root(path)
    except RootError as error:
        raise UsageError(str(error)) from None


def _lock(root: Root) -> None:
    if not root.lock():
        raise Failure(f"{root.path}: another install or uninstall is running in this root")


def _read_manifest(root: Root) -> Manifest | None:
    entry = root.entry(MANIFEST_PATH)
    if entry.kind == "missing":
        return None
    if entry.kind != "file" or entry.data is None:
        raise Failure(f"{root.show(MANIFEST_PATH)}: manifest is a {entry.kind}, not a file")
    try:
        return parse(entry.data, root.show(MANIFEST_PATH))
    except ManifestError as error:
        raise Failure(f"{error} (remove it to start over)") from None


def _sweep(root: Root, paths: Sequence[str]) -> None:
    """Delete temporaries left by a killed run, in every directory this run may write to."""
    directories = {"", MANIFEST_DIR, MANIFEST_DIR.rpartition("/")[0]}
    for path in paths:
        parts = path.split("/")
        directories.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    for directory in sorted(directories):
        root.sweep_temporaries(directory)


def _link_intact(root: Root, path: str, target: str) -> bool:
    entry = root.entry(path)
    return entry.kind == "symlink" and entry.target == target


def _reload_if_live(root: Root, out: TextIO) -> None:
    if not root.is_host:
        return
    done, message = live_reload.reload_systemd()
    if done:
        print(message, file=out)
    else:
        print(f"ostree-autocleanup: {message}", file=sys.stderr)


def _one_line(problems: Sequence[str], hint: str) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}; {hint}"


# -- what to install ------------------------------------------------------------------------


def _generator_files(
    config: Config, config_files: Sequence[str], root: str | None
) -> dict[str, tuple[bytes, int]]:
    from .generator_files import generator_files

    # The mode may carry the file type bits (S_IFREG): only the permissions are ours to set.
    files = generator_files(config, tuple(config_files), root)
    return {path: (data, stat.S_IMODE(mode)) for path, (data, mode) in files.items()}


def wanted_files(
    config: Config,
    generator: bool,
    enable: bool,
    config_files: Sequence[str] = (),
    root: str | None = None,
) -> dict[str, Wanted]:
    from .render import PRESET_DIR, render

    rendered = render(config)
    files: dict[str, Wanted] = {}
    if generator:
        for path, (data, mode) in _generator_files(config, config_files, root).items():
            files[path] = Wanted(path, data, mode)
    else:
        for path, text in rendered.items():
            if not path.startswith(PRESET_DIR + "/"):
                files[path] = Wanted(path, text.encode(), FILE_MODE)
    if enable:
        # Also with --generator: the preset enables ostree-finalize-staged.path where needed.
        preset = f"{PRESET_DIR}/{config.preset_name}"
        files[preset] = Wanted(preset, rendered[preset].encode(), FILE_MODE)
    return files


# -- install --------------------------------------------------------------------------------


def run_install(args: argparse.Namespace) -> int:
    from .load import load_config

    root = _open_root(args.root)
    with root:
        config = load_config(args.config, None if root.is_host else root.path)
        wanted = wanted_files(
            config,
            args.generator,
            not args.no_enable,
            args.config,
            None if root.is_host else root.path,
        )
        if args.list_files:
            for path in sorted([*wanted, MANIFEST_PATH]):
                print("/" + path)
            return 0
        _lock(root)
        try:
            return _install(root, config, wanted, args, sys.stdout)
        except EscapeError as error:
            raise Failure(str(error)) from None


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
    old = _read_manifest(root)
    plan = make_plan(root, wanted, old, args.force)
    if plan.refusals:
        raise Failure(_one_line(plan.refusals, "nothing was changed"))
    if plan.conflicts:
        raise Failure(_one_line(plan.conflicts, "nothing was changed (use --force to overwrite)"))

    links_ok = old is not None and all(_link_intact(root, p, t) for p, t in old.links)
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
    if units:
        preset_argv = enablement.command(root, units)  # fails early when systemctl is missing
    if args.dry_run:
        for line in describe(plan, root):
            print(line, file=out)
        for path, target in stale_links:
            print(f"would remove {root.show(path)} -> {target}", file=out)
        if enable_needed:
            print("would run " + " ".join(preset_argv), file=out)
        verb = "replace" if old else "create"
        print(f"would {verb} {root.show(MANIFEST_PATH)}", file=out)
        return 0

    _check_writable(root, plan, units)
    _sweep(root, [*wanted, *(r.path for r in old.files)] if old else list(wanted))
    run = _InstallRun(root, old, out)
    try:
        run.carry_out(plan, kind, config, units, enable_needed, stale_links)
    except (OSError, Failure, EscapeError) as error:
        message = error.strerror if isinstance(error, OSError) else str(error)
        where = getattr(error, "filename", None)
        prefix = f"{where}: " if where else ""
        undone = run.roll_back()
        tail = "rolled back" if undone else "could not roll back: run install or uninstall again"
        raise Failure(f"{prefix}{message}; {tail}") from None
    _reload_if_live(root, out)
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
            if _link_intact(root, path, target) and root.remove(path):
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
        links = [(p, t) for p, t in links if _link_intact(root, p, t)]
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

    def roll_back(self) -> bool:
        """Undo this run's changes; True when everything was put back."""
        root = self.root
        complete = True
        scratch: list[str] = []
        try:
            if self.preset_ran:
                links, _ = enablement.added(self.baseline, root.snapshot(enablement.LINK_DIR))
                for path, target in links:
                    if enablement.points_at(target, self.units):
                        root.remove(path)
            for step in reversed(self.done):
                if step.old.kind == "file" and step.old.data is not None:
                    root.write(step.path, step.old.data, step.old.mode, scratch)
                elif step.old.kind == "missing":
                    root.remove(step.path)
                else:
                    complete = False
            if self.old_manifest is not None:
                root.write(MANIFEST_PATH, self.old_manifest, FILE_MODE, scratch)
            else:
                root.remove(MANIFEST_PATH)
            for directory in reversed(self.created):
                root.remove_directory(directory)
        except (OSError, EscapeError):
            return False
        return complete and not self.removed_links


# -- uninstall ------------------------------------------------------------------------------


def run_uninstall(args: argparse.Namespace) -> int:
    root = _open_root(args.root)
    with root:
        _lock(root)
        try:
            return _uninstall(root, args, sys.stdout)
        except EscapeError as error:
            raise Failure(str(error)) from None


def _uninstall(root: Root, args: argparse.Namespace, out: TextIO) -> int:
    manifest = _read_manifest(root)
    if manifest is None:
        if not args.dry_run:
            _sweep(root, [])
        print(f"nothing to uninstall: no {root.show(MANIFEST_PATH)}", file=out)
        return 0
    files: list[str] = []
    problems: list[str] = []
    for record in manifest.files:
        entry = root.entry(record.path)
        if entry.kind == "missing":
            continue
        if (entry.kind == "file" and entry.data is not None and record.owns(entry.data)) or (
            args.force and entry.kind in ("file", "symlink")
        ):
            files.append(record.path)
        else:
            problems.append(f"{root.show(record.path)} was changed after it was installed")
    if problems:
        raise Failure(_one_line(problems, "nothing was removed (use --force to remove anyway)"))

    links = [(p, t) for p, t in manifest.links if _link_intact(root, p, t)]
    directories = list(manifest.directories)
    if not manifest.complete and manifest.baseline is not None:
        # A killed install may have run systemctl without recording what it made.
        made, made_dirs = enablement.added(manifest.baseline, root.snapshot(enablement.LINK_DIR))
        links += [
            (p, t)
            for p, t in made
            if enablement.points_at(t, manifest.units) and (p, t) not in links
        ]
        directories += [d for d in made_dirs if d not in directories]
    # Links to a unit file we are about to remove would dangle, whoever made them (a later
    # `systemctl enable` after an install with --no-enable, say): they go too.
    ours = [
        r.path.rpartition("/")[2]
        for r in manifest.files
        if r.path.rpartition("/")[0] in enablement.UNIT_DIRS
    ]
    for path, what in sorted(root.snapshot(enablement.LINK_DIR).items()):
        target = what[3:]
        mine = what.startswith("-> ") and enablement.points_at(target, ours)
        if mine and (path, target) not in links:
            links.append((path, target))

    manifest_chain = [d for d in directories if MANIFEST_PATH.startswith(d + "/")]
    others = [d for d in directories if d not in manifest_chain]
    if args.dry_run:
        for path, target in links:
            print(f"would remove {root.show(path)} -> {target}", file=out)
        for path in files:
            print(f"would remove {root.show(path)}", file=out)
        for directory in sorted(others, reverse=True):
            print(f"would remove {root.show(directory)}/ if empty", file=out)
        print(f"would remove {root.show(MANIFEST_PATH)}", file=out)
        return 0

    if not root.writable(MANIFEST_DIR):
        raise Failure(
            f"{root.show(MANIFEST_DIR)}: not writable (a read-only root?); nothing was removed"
        )
    _sweep(root, [*(r.path for r in manifest.files), *(p for p, _ in links)])
    try:
        for path, target in links:
            if root.remove(path):
                print(f"removed {root.show(path)} -> {target}", file=out)
        for path in files:
            if root.remove(path):
                print(f"removed {root.show(path)}", file=out)
        # Deepest first, so that a parent made by us goes once its children are gone.
        for directory in sorted(others, key=lambda d: d.count("/"), reverse=True):
            if root.remove_directory(directory):
                print(f"removed {root.show(directory)}/", file=out)
        _remove_manifest(root, manifest_chain)
        print(f"removed {root.show(MANIFEST_PATH)}", file=out)
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        raise Failure(
            f"{where}{error.strerror}; uninstall stopped half-way, the manifest still lists "
            f"what is left: run it again"
        ) from None
    _reload_if_live(root, out)
    return 0


def _remove_manifest(root: Root, chain: Sequence[str]) -> None:
    """Remove the manifest, and the directories made for it, in one step where possible.

    When the outermost directory we made for the manifest holds nothing else, it is renamed away
    as a whole: a kill can then not leave an empty directory behind without the manifest that
    says we made it. Otherwise the manifest goes alone and the directories stay with whatever
    someone else put there.
    """
    if chain:
        top = min(chain, key=lambda d: d.count("/"))
        if _holds_only(root, top, MANIFEST_PATH):
            root.remove_tree_atomically(top)
            return
    root.remove(MANIFEST_PATH)
    for directory in sorted(chain, key=lambda d: d.count("/"), reverse=True):
        root.remove_directory(directory)


def _holds_only(root: Root, directory: str, path: str) -> bool:
    """Whether ``directory`` contains nothing but the chain of entries leading to ``path``."""
    parts = path.split("/")
    for depth in range(directory.count("/") + 1, len(parts)):
        if root.list_directory("/".join(parts[:depth])) != [parts[depth]]:
            return False
    return True
