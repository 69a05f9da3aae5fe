"""What install and uninstall share: the root, its lock, the manifest, and reporting."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from ..errors import Failure, UsageError
from ..options import add_root_option
from ..rootfs import Root, RootError
from . import live_reload
from .manifest import MANIFEST_PATH, Manifest, ManifestError, parse

FILE_MODE = 0o644
MANIFEST_DIR = MANIFEST_PATH.rpartition("/")[0]


def add_root_options(parser: argparse.ArgumentParser, verb: str) -> None:
    # Required: an image build that forgot it must fail, not change the build host.
    add_root_option(
        parser,
        f"{verb} the image root or DESTDIR at DIR (required; / is the running system)",
        required=True,
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be written, changed or removed (with diffs), change nothing",
    )


def open_root(path: str) -> Root:
    try:
        return Root(path)
    except RootError as error:
        raise UsageError(str(error)) from None


def lock(root: Root) -> None:
    if not root.lock():
        raise Failure(f"{root.path}: another install or uninstall is running in this root")


def read_manifest(root: Root) -> Manifest | None:
    entry = root.entry(MANIFEST_PATH)
    if entry.kind == "missing":
        return None
    if entry.kind != "file" or entry.data is None:
        raise Failure(f"{root.show(MANIFEST_PATH)}: manifest is a {entry.kind}, not a file")
    try:
        return parse(entry.data, root.show(MANIFEST_PATH))
    except ManifestError as error:
        raise Failure(f"{error} (remove it to start over)") from None


def sweep(root: Root, paths: Sequence[str]) -> None:
    """Delete temporaries left by a killed run, in every directory this run may write to."""
    directories = {"", MANIFEST_DIR, MANIFEST_DIR.rpartition("/")[0]}
    for path in paths:
        parts = path.split("/")
        directories.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    for directory in sorted(directories):
        root.sweep_temporaries(directory)


def link_intact(root: Root, path: str, target: str) -> bool:
    entry = root.entry(path)
    return entry.kind == "symlink" and entry.target == target


def reload_if_live(root: Root, out: TextIO) -> None:
    if not root.is_host:
        return
    done, message = live_reload.reload_systemd()
    if done:
        print(message, file=out)
    else:
        print(f"ostree-autocleanup: {message}", file=sys.stderr)


def one_line(problems: Sequence[str], hint: str) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}; {hint}"
