"""``uninstall``: remove exactly what install wrote, the links it made and the directories
it created; a file changed since install stops the whole uninstall unless ``--force``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from ..errors import Failure
from ..rootfs import EscapeError, Root
from . import enablement
from .common import (
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
from .manifest import MANIFEST_PATH, Manifest


def configure_uninstall_parser(parser: argparse.ArgumentParser) -> None:
    add_root_options(parser, "uninstall from")
    parser.add_argument(
        "--force",
        action="store_true",
        help="also remove files that were changed after install",
    )


def run_uninstall(args: argparse.Namespace) -> int:
    root = open_root(args.root)
    with root:
        lock(root)
        try:
            return _uninstall(root, args, sys.stdout)
        except EscapeError as error:
            raise Failure(str(error)) from None


def _uninstall(root: Root, args: argparse.Namespace, out: TextIO) -> int:
    manifest = read_manifest(root)
    if manifest is None:
        if not args.dry_run:
            sweep(root, [])
        print(f"nothing to uninstall: no {root.show(MANIFEST_PATH)}", file=out)
        return 0
    files = _files_to_remove(root, manifest, args.force)
    links, directories = _links_and_directories(root, manifest)
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
    sweep(root, [*(r.path for r in manifest.files), *(p for p, _ in links)])
    try:
        _remove(root, links, files, others, manifest_chain, out)
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        raise Failure(
            f"{where}{error.strerror}; uninstall stopped half-way, the manifest still lists "
            f"what is left: run it again"
        ) from None
    reload_if_live(root, out)
    return 0


def _files_to_remove(root: Root, manifest: Manifest, force: bool) -> list[str]:
    """The installed files still there; any that changed since install stops the uninstall."""
    files: list[str] = []
    problems: list[str] = []
    for record in manifest.files:
        entry = root.entry(record.path)
        if entry.kind == "missing":
            continue
        if (entry.kind == "file" and entry.data is not None and record.owns(entry.data)) or (
            force and entry.kind in ("file", "symlink")
        ):
            files.append(record.path)
        else:
            problems.append(f"{root.show(record.path)} was changed after it was installed")
    if problems:
        raise Failure(one_line(problems, "nothing was removed (use --force to remove anyway)"))
    return files


def _links_and_directories(
    root: Root, manifest: Manifest
) -> tuple[list[tuple[str, str]], list[str]]:
    """The enablement links to remove, and the directories install made (to remove if empty)."""
    links = [(p, t) for p, t in manifest.links if link_intact(root, p, t)]
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
    return links, directories


def _remove(
    root: Root,
    links: Sequence[tuple[str, str]],
    files: Sequence[str],
    directories: Sequence[str],
    manifest_chain: Sequence[str],
    out: TextIO,
) -> None:
    for path, target in links:
        if root.remove(path):
            print(f"removed {root.show(path)} -> {target}", file=out)
    for path in files:
        if root.remove(path):
            print(f"removed {root.show(path)}", file=out)
    # Deepest first, so that a parent made by us goes once its children are gone.
    for directory in sorted(directories, key=lambda d: d.count("/"), reverse=True):
        if root.remove_directory(directory):
            print(f"removed {root.show(directory)}/", file=out)
    _remove_manifest(root, manifest_chain)
    print(f"removed {root.show(MANIFEST_PATH)}", file=out)


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
