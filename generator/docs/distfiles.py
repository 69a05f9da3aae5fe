"""The files a distribution package ships under /usr/share: man pages, completions, the schema.

Run at package build time, from the installed (or staged) package itself, so that what ships
is rendered from exactly the parsers and settings table being packaged::

    python3 -m ostree_autocleanup.generator.docs.distfiles --output "$DESTDIR/usr/share"

Nothing of this is kept in the source tree, so nothing can go stale there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ..errors import Failure
from ..rootfs import write_tree
from . import clidoc, completion, manpages
from .schema import json_schema

SCHEMA_PATH = "ostree-autocleanup/config.schema.json"
BASH_DIR = "bash-completion/completions"
ZSH_DIR = "zsh/site-functions"  # zsh's own default; Debian's zsh reads zsh/vendor-completions


def schema_text() -> str:
    """The schema file: exactly what ``ostree-autocleanup schema`` prints."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def share_files(zsh_dir: str = ZSH_DIR) -> dict[str, str]:
    """Path relative to the share directory -> text."""
    files: dict[str, str] = {}
    for name, text in manpages.all_pages().items():
        files[f"man/man{name.rsplit('.', 1)[1]}/{name}"] = text
    for program, command in clidoc.loaded():
        source = f"the command line of {program.module}"
        files[f"{BASH_DIR}/{program.prog}"] = completion.bash_script(command, source)
        files[f"{zsh_dir}/_{program.prog}"] = completion.zsh_script(command, source)
    files[SCHEMA_PATH] = schema_text()
    return dict(sorted(files.items()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m ostree_autocleanup.generator.docs.distfiles",
        description="Write the man pages, shell completions and JSON Schema that a package "
        "ships under /usr/share.",
    )
    parser.add_argument(
        "--output", metavar="DIR", help="the share directory, e.g. $DESTDIR/usr/share"
    )
    parser.add_argument(
        "--zsh-dir",
        metavar="DIR",
        default=ZSH_DIR,
        help=f"zsh completion directory under the share directory (default: {ZSH_DIR}; "
        "Debian: zsh/vendor-completions)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the relative paths instead of writing"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.list and not args.output:
        parser.error("--output DIR or --list is required")
    try:
        files = share_files(args.zsh_dir.strip("/"))
        if args.list:
            sys.stdout.write("".join(f"{path}\n" for path in files))
        else:
            write_tree(args.output, files)
    except clidoc.NoCommandSource as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except Failure as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
