"""Command-line pieces that several commands share; the commands build on this, never on cli.py.

Kept apart from ``cli.py`` so that a command module (install, verify, status) can describe its
own options without importing the command line that dispatches to it.
"""

from __future__ import annotations

import argparse
from typing import NoReturn


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


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
