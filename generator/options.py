"""Command-line pieces that several commands share; the commands build on this, never on cli.py.

Kept apart from ``cli.py`` so that a command module (install, verify, status) can describe its
own options without importing the command line that dispatches to it.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

PROG = "ostree-autocleanup"


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="config file (repeatable; later files override earlier ones; - is standard "
        "input); default: the layered files under /etc, /run and /usr/lib/ostree-autocleanup, "
        "else the embedded default",
    )


def root_directory(value: str) -> str:
    """argparse type of ``--root``: an empty value would mean the current directory."""
    if not value:
        raise argparse.ArgumentTypeError(
            "an empty root is refused (give the image root, or / for the running system)"
        )
    return value


def add_root_option(
    parser: argparse.ArgumentParser, description: str, required: bool = False
) -> None:
    parser.add_argument(
        "--root", metavar="DIR", type=root_directory, required=required, help=description
    )


def warning(message: str) -> None:
    """One warning line on stderr, after whatever was already printed to stdout."""
    sys.stdout.flush()
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
