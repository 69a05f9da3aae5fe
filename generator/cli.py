"""``ostree-autocleanup``: the command line. Exceptions become messages only here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ..helper.version import VERSION
from .checks import status, verify
from .errors import ConfigErrors, Failure, UsageError
from .install import install, uninstall
from .options import OneLineParser, add_config_options, add_root_option, warning

PROG = "ostree-autocleanup"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Render, install and check the units that reclaim the disk space of "
        "finalized OSTree deployments at the next boot.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser
    )

    render = commands.add_parser("render", help="print or write the rendered units")
    add_config_options(render)
    add_root_option(render, "read the layered config under DIR")
    render.add_argument(
        "--output",
        metavar="DIR",
        help="write the files under DIR instead of printing them, and list what was written",
    )
    render.set_defaults(run=run_render)

    schema = commands.add_parser("schema", help="print the JSON Schema of the config")
    schema.add_argument(
        "--format",
        choices=("json", "markdown"),
        default="json",
        help="json: the JSON Schema; markdown: the reference table of every key",
    )
    schema.set_defaults(run=run_schema)

    # Commands whose options and work live in their own module.
    install_parser = commands.add_parser(
        "install", help="install the units into an image root or DESTDIR"
    )
    install.configure_install_parser(install_parser)
    install_parser.set_defaults(run=install.run_install)
    uninstall_parser = commands.add_parser("uninstall", help="remove what install wrote")
    uninstall.configure_uninstall_parser(uninstall_parser)
    uninstall_parser.set_defaults(run=uninstall.run_uninstall)
    verify_parser = commands.add_parser(
        "verify", help="check the rendered units with systemd-analyze and score their sandbox"
    )
    verify.configure_verify_parser(verify_parser)
    verify_parser.set_defaults(run=verify.run_verify)
    status_parser = commands.add_parser(
        "status", help="show the cleanup state of the running system"
    )
    status.configure_status_parser(status_parser)
    status_parser.set_defaults(run=status.run_status)
    return parser


def run_render(args: argparse.Namespace) -> int:
    from .config.load import load_config
    from .units.render import render

    files = render(load_config(args.config, args.root, warning))
    if args.output is None:
        for path, text in files.items():
            sys.stdout.write(f"--- {path} ---\n{text}")
        return 0
    from .rootfs import write_tree

    write_tree(args.output, files)
    for path in files:
        print(f"wrote {os.path.join(args.output, path)}")
    return 0


def run_schema(args: argparse.Namespace) -> int:
    if args.format == "markdown":
        from .docs.reference import markdown_reference

        sys.stdout.write(markdown_reference())
    else:
        from .docs.schema import json_schema

        sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        try:
            result: int = args.run(args)
        finally:
            # A verdict on stderr comes after the report on stdout that it refers to, also
            # when stdout is a pipe (block buffered) and stderr is not.
            sys.stdout.flush()
        return result
    except ConfigErrors as errors:
        for error in errors.errors:
            print(error, file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except Failure as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.debug or os.environ.get("OSTREE_AUTOCLEANUP_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {error!r} (run with --debug for a traceback)", file=sys.stderr
        )
        return 1
