"""``ostree-autocleanup``: the command line. Exceptions become messages only here."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Callable, NoReturn

from ..helper.version import VERSION
from .errors import ConfigErrors, Failure, UsageError

PROG = "ostree-autocleanup"

# Commands whose options and work live in their own module: (command, module, help).
_MODULE_COMMANDS = (
    ("install", "installer", "install the units into an image root or DESTDIR"),
    ("uninstall", "installer", "remove what install wrote"),
    ("verify", "verify", "check the rendered units with systemd-analyze and score their sandbox"),
    ("status", "status", "show the cleanup state of the running system"),
)


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="config file (repeatable; later files override earlier ones); default: the "
        "layered files under /etc, /run and /usr/lib/ostree-autocleanup, else the embedded default",
    )


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Render, install and check the units that reclaim the disk space of "
        "finalized OSTree deployments at the next boot.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    render = commands.add_parser("render", help="print or write the rendered units")
    add_config_options(render)
    render.add_argument("--root", metavar="DIR", help="read the layered config under DIR")
    render.add_argument(
        "--output", metavar="DIR", help="write the files under DIR instead of printing"
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

    for name, module_name, help_text in _MODULE_COMMANDS:
        module = importlib.import_module(f".{module_name}", __package__)
        sub = commands.add_parser(name, help=help_text)
        configure: Callable[[argparse.ArgumentParser], None] = getattr(
            module, f"configure_{name}_parser"
        )
        configure(sub)
        sub.set_defaults(run=getattr(module, f"run_{name}"))
    return parser


def run_render(args: argparse.Namespace) -> int:
    from .load import load_config
    from .render import render

    files = render(load_config(args.config, args.root))
    if args.output is None:
        for path, text in files.items():
            sys.stdout.write(f"--- {path} ---\n{text}")
        return 0
    from .output import write_tree

    write_tree(args.output, files)
    return 0


def run_schema(args: argparse.Namespace) -> int:
    if args.format == "markdown":
        from .reference import markdown_reference

        sys.stdout.write(markdown_reference())
    else:
        from .schema import json_schema

        sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
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
