"""Command line of ostree-autocleanup-helper: mark, cleanup, status.

This module is on the shutdown path (mark) and the boot path (cleanup): it imports only the
standard library pieces it needs and never the generator side; libostree is imported only
inside `cleanup`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import log
from .confined import is_within
from .errors import HelperError
from .numbers import parse_count, parse_seconds
from .version import VERSION

# typing costs milliseconds at shutdown; mypy reads the annotation, the runtime never needs it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

DEFAULT_SYSROOT = "/sysroot"
DEFAULT_STATE_DIR = "/var/lib/ostree-autocleanup"
DEFAULT_LOCK_TIMEOUT = 600.0


MAX_ATTEMPTS_LIMIT = 1000
# A day: a wait beyond that is no lock wait; the unit's TimeoutStartSec= bounds the run anyway.
MAX_LOCK_TIMEOUT = 86400.0


def _positive_int(text: str) -> int:
    value = parse_count(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a whole number (ASCII digits): {text!r}")
    if not 1 <= value <= MAX_ATTEMPTS_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_ATTEMPTS_LIMIT}: {text!r}")
    return value


def _seconds(text: str) -> float:
    value = parse_seconds(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"not a number of seconds: {text!r} (ASCII digits with an optional fraction, "
            "such as 600 or 0.5; no sign, exponent, nan or inf)"
        )
    if value > MAX_LOCK_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"more than {MAX_LOCK_TIMEOUT:g} seconds: {text!r} (the unit's own timeout bounds "
            "the run; a longer wait is never what is meant)"
        )
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit 2, like every other error of the project."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=log.PROG,
        description="Mark a finalized OSTree deployment for cleanup, and clean up at boot.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug lines too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_mark(sub.add_parser("mark", help="write the stamp after a successful finalization"))
    _add_cleanup(sub.add_parser("cleanup", help="clean up when the stamp exists, then remove it"))
    _add_status(sub.add_parser("status", help="show the stamp and the last cleanup's result"))
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sysroot", default=DEFAULT_SYSROOT, help="the physical sysroot (default: %(default)s)"
    )
    parser.add_argument(
        "--stamp",
        default=None,
        help="the stamp file, inside SYSROOT and reached without links (default: SYSROOT/.cleanup)",
    )
    # Accepted after the command too; SUPPRESS keeps the top-level value when absent.
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help="where last-cleanup.json is kept (default: %(default)s)",
    )


def _add_mark(mark: argparse.ArgumentParser) -> None:
    _add_common(mark)
    mark.add_argument(
        "--boot",
        default=None,
        help="the sysroot's /boot, where ostree writes finalize-failure.stamp "
        "(default: SYSROOT/boot, plus /boot on a booted system)",
    )
    mark.add_argument(
        "--lock-timeout",
        type=_seconds,
        default=None,
        help="seconds (0 to 86400) to wait for a running cleanup before marking anyway "
        "(default: 10)",
    )


def _add_cleanup(cleanup: argparse.ArgumentParser) -> None:
    _add_common(cleanup)
    cleanup.add_argument(
        "--mode",
        choices=("full", "prune"),
        default="full",
        help="full: ostree_sysroot_cleanup; prune: refs-only repo prune",
    )
    cleanup.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=3,
        help="give up and remove the stamp after this many attempts, 1 to 1000 "
        "(default: %(default)s)",
    )
    _add_state_dir(cleanup)
    cleanup.add_argument(
        "--lock-timeout",
        type=_seconds,
        default=DEFAULT_LOCK_TIMEOUT,
        help="seconds (0 to 86400) to wait for the sysroot lock (default: %(default)g)",
    )
    cleanup.add_argument(
        "--backend",
        choices=("auto", "libostree", "ostree-cli"),
        default="auto",
        help="auto: libostree, or the ostree command when PyGObject or the "
        "OSTree typelib is missing",
    )
    cleanup.add_argument(
        "--ostree", default="ostree", help="the ostree command for the ostree-cli backend"
    )
    cleanup.add_argument(
        "--sysroot-readonly",
        action="store_true",
        help="the OS mounts the sysroot read-only (ostree's sysroot.readonly): remount what "
        "the cleanup writes read-write in a private mount namespace of this process "
        "(needs CAP_SYS_ADMIN)",
    )
    cleanup.add_argument(
        "--pacing",
        choices=("on", "off"),
        default="off",
        help="on: run the cleanup in slices, stopped while others use the sysroot's disk "
        "(default: %(default)s)",
    )


def _add_status(status: argparse.ArgumentParser) -> None:
    _add_common(status)
    _add_state_dir(status)
    status.add_argument("--json", action="store_true", help="print JSON")


def _dispatch(args: argparse.Namespace) -> int:
    sysroot: str = os.path.abspath(args.sysroot)
    stamp_path: str = os.path.abspath(args.stamp or os.path.join(sysroot, ".cleanup"))
    if args.command == "mark":
        from .mark import run_mark

        if args.lock_timeout is None:
            return run_mark(sysroot, stamp_path, args.boot)
        return run_mark(sysroot, stamp_path, args.boot, args.lock_timeout)
    if args.command == "cleanup":
        from .cleanup import Options, run_cleanup

        return run_cleanup(
            Options(
                sysroot=sysroot,
                stamp_path=stamp_path,
                mode=args.mode,
                max_attempts=args.max_attempts,
                state_dir=args.state_dir,
                lock_timeout=args.lock_timeout,
                backend=args.backend,
                ostree=args.ostree,
                sysroot_readonly=args.sysroot_readonly,
                pacing=args.pacing == "on",
            )
        )
    from .status import run_status

    return run_status(stamp_path, args.state_dir, args.json, sysroot)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stamp is not None and not is_within(
        os.path.abspath(args.sysroot), os.path.abspath(args.stamp)
    ):
        # The stamp is the sysroot's: the cleanup unit may write nowhere else, and mark and
        # cleanup reach it from the sysroot (confined.py).
        parser.error(f"--stamp {args.stamp!r} is not inside the sysroot {args.sysroot!r}")
    log.set_verbose(args.verbose)
    try:
        return _dispatch(args)
    except HelperError as e:
        if args.debug:
            raise
        log.error(str(e))
        return 1
    except Exception as e:
        if args.debug:
            raise
        log.error(f"unexpected {type(e).__name__}: {e} (run with --debug for a traceback)")
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 1


if __name__ == "__main__":
    sys.exit(main())
