"""ostree-autocleanup-generator: the systemd generator (systemd.generator(7)).

    ostree-autocleanup-generator NORMAL_DIR [EARLY_DIR LATE_DIR]
    ostree-autocleanup-generator --dry-run [--root DIR]

Reads the layered config (/etc > /run > /usr/lib, with config.d drop-ins) and writes the
cleanup unit, the finalize drop-in and the `.wants/` link that the unit's [Install] section
would make into NORMAL_DIR. No config at all is nothing to do; a bad config is logged with its
file:line, writes nothing and exits 1.

Generators run synchronously before anything else at boot, so this module imports only os and
sys. When the config files are byte for byte the ones `install --generator` rendered (and this
is the same package version), the output comes from the precomputed-data file (warm path);
otherwise the core is imported and the config rendered (cold path). On an installed system a
shell script in front of this avoids starting Python at all when nothing was overridden (see
boot/image.py).

OSTREE_AUTOCLEANUP_ROOT (or --root) makes every config and data path relative to another root:
for tests, and for checking what an image would generate.
"""

from __future__ import annotations

import os
import sys

from ..config.layering import find_config_files, host_path
from .entries import (
    DATA_PATH,
    RECORD_PATH,
    DataError,
    decode_data,
    format_entries,
    read_inputs,
    write_entries,
)
from .log import DEBUG, PROGRAM, Log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .entries import Entries

ROOT_ENV = "OSTREE_AUTOCLEANUP_ROOT"

# --help, the man page and the shell completions all come from this literal (see clidoc):
# argparse would cost milliseconds at every boot.
CLI_SPEC: dict[str, Any] = {
    "prog": PROGRAM,
    "summary": "write the OSTree autocleanup units at boot from the layered configuration",
    "description": (
        "A systemd generator (systemd.generator(7)): systemd runs it early at boot and at every "
        "daemon-reload. It reads ostree-autocleanup/config.yaml from the first of /etc, /run and "
        "/usr/lib that has it, plus config.d/*.yaml drop-ins, and writes NAME-autocleanup.service, "
        "the drop-in for the finalize unit and the WANTED-BY.wants/ link into NORMAL_DIR, with "
        "SourcePath= naming the configuration.\n\n"
        "With no configuration anywhere it does nothing. A bad configuration is logged with its "
        "file and line to the kernel log (stderr where /dev/kmsg cannot be opened), nothing is "
        "written, and the exit status is 1. In the initrd (SYSTEMD_IN_INITRD=1) it does nothing. "
        "SYSTEMD_LOG_LEVEL and SYSTEMD_LOG_TARGET are honoured.\n\n"
        "When the configuration files are the ones `ostree-autocleanup install --generator` "
        "rendered, the units rendered then are used; with no override in /etc or /run, the "
        "installed generator does not even start Python. A boot that had to render the units "
        "for an override in /etc also generates ostree-autocleanup-generator-record.service, "
        "which runs --record once /etc is writable: the next boot uses the recorded units for "
        "as long as the configuration files stay byte for byte the same. "
        "OSTREE_AUTOCLEANUP_ROOT=DIR reads every configuration and data file under DIR instead "
        "of /, like --root."
    ),
    "usage": ["NORMAL_DIR [EARLY_DIR LATE_DIR]", "--dry-run [--root DIR]", "--record [--root DIR]"],
    "arguments": [
        {"name": "NORMAL_DIR", "help": "where the units are written"},
        {"name": "EARLY_DIR", "help": "not written to; systemd passes it", "optional": True},
        {"name": "LATE_DIR", "help": "not written to; systemd passes it", "optional": True},
    ],
    "options": [
        {"flags": ["--dry-run"], "help": "print what would be generated, write nothing"},
        {
            "flags": ["--record"],
            "help": f"render the configuration and record the units in {RECORD_PATH} for "
            "the next boot (run by a unit after a boot that had to render them)",
        },
        {"flags": ["--root"], "metavar": "DIR", "help": "read the configuration under DIR"},
        {"flags": ["-h", "--help"], "help": "show this help and exit"},
        {"flags": ["--version"], "help": "print the version and exit"},
    ],
}
USAGE = f"usage: {PROGRAM} " + f"\n       {PROGRAM} ".join(CLI_SPEC["usage"])
USAGE_LINE = f"usage: {PROGRAM} " + " | ".join(CLI_SPEC["usage"])


def help_text() -> str:
    rows = [(a["name"], a["help"]) for a in CLI_SPEC["arguments"]]
    rows += [
        (", ".join(o["flags"]) + (" " + o["metavar"] if "metavar" in o else ""), o["help"])
        for o in CLI_SPEC["options"]
    ]
    width = max(len(left) for left, _ in rows) + 2
    table = "\n".join(f"  {left:<{width}}{right}" for left, right in rows)
    paragraphs = "\n\n".join(_wrap(p) for p in CLI_SPEC["description"].split("\n\n"))
    return f"{USAGE}\n\n{CLI_SPEC['summary']}.\n\n{paragraphs}\n\n{table}\n"


def _wrap(text: str, width: int = 79) -> str:
    # textwrap would be one more import for a text nobody reads at boot.
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


class GeneratorArgs:
    """What the generator was asked to do; argparse would cost milliseconds at every boot."""

    def __init__(self) -> None:
        self.dirs: list[str] = []
        self.dry_run = False
        self.record = False
        self.root = ""
        self.show = ""  # "help" or "version": print that and do nothing else


class ArgvError(Exception):
    """argv that is neither what systemd passes nor an admin's --dry-run: exit status 2."""


def parse_args(args: list[str]) -> GeneratorArgs:
    """The argv systemd passes (one or three directories), or the admin's --dry-run.

    Hand-parsed: argparse would import re and gettext on every boot.
    """
    options = GeneratorArgs()
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            options.dirs += rest
            break
        if arg == "--dry-run":
            options.dry_run = True
        elif arg == "--record":
            options.record = True
        elif arg == "--root" or arg.startswith("--root="):
            if arg == "--root":
                if not rest:
                    raise ArgvError("--root needs a directory")
                arg = "--root=" + rest.pop(0)
            options.root = arg[len("--root=") :]
            if not options.root:
                raise ArgvError("--root needs a directory")
        elif arg in ("-h", "--help", "--version"):
            options.show = "version" if arg == "--version" else "help"
            return options
        elif arg.startswith("-") and arg != "-":
            raise ArgvError(f"unknown option {arg}")
        else:
            options.dirs.append(arg)
    if options.record:
        if options.dry_run or options.dirs:
            raise ArgvError("--record takes no directories and no --dry-run")
    elif options.dry_run:
        if len(options.dirs) not in (0, 1, 3):
            raise ArgvError(
                f"expected 0, 1 or 3 directories with --dry-run, got {len(options.dirs)}"
            )
    elif len(options.dirs) not in (1, 3):
        raise ArgvError(f"expected 1 or 3 output directories, got {len(options.dirs)}")
    return options


def in_initrd(root: str) -> bool:
    """Whether we run in the initrd, where the cleanup has no business (the sysroot is not up).

    systemd >= 251 tells generators through SYSTEMD_IN_INITRD; older ones do not, and then the
    file systemd itself checks decides.
    """
    value = os.environ.get("SYSTEMD_IN_INITRD")
    if value in ("0", "1"):
        return value == "1"
    return os.path.exists(host_path("/etc/initrd-release", root or None))


def warm_entries(root: str, files: list[str], log: Log) -> Entries | None:
    """The output rendered before from exactly these config files: at install time (the
    precomputed data) or after an earlier boot (the record of an override); else None."""
    current: list[tuple[str, bytes]] | None = None  # read once, when there is data to compare
    for path, what in ((DATA_PATH, "precomputed data"), (RECORD_PATH, "recorded units")):
        try:
            with open(host_path(path, root or None), "rb") as f:
                blob = f.read()
        except FileNotFoundError:
            log.debug(f"no {what} at {path}")
            continue
        try:
            version, inputs, entries = decode_data(blob)
        except DataError as e:
            # The record is tried after the precomputed data, so "rendering" may not follow.
            later = path == DATA_PATH and os.path.exists(host_path(RECORD_PATH, root or None))
            log.warning(f"{path}: {e}; {'not used' if later else 'rendering'}")
            continue
        from ...helper.version import VERSION

        if version != VERSION:
            log.debug(f"{what} is from version {version}, this is {VERSION}")
            continue
        if current is None:
            current = read_inputs(root, files)
        if current != inputs:
            if path == DATA_PATH:
                log.debug("config differs from the one rendered at install time")
            else:
                log.debug(f"config differs from the one recorded in {RECORD_PATH}")
            continue
        if path == DATA_PATH:
            log.debug("config unchanged since install; using the precomputed units")
        else:
            log.debug(f"config unchanged since it was recorded; using {RECORD_PATH}")
        return entries
    log.debug("rendering")
    return None


def cold_entries(root: str, log: Log, record: bool = False) -> Entries | None:
    """The rendered output; None after logging every problem when the config is bad.

    ``record``: add the unit that records this output for the next boot, where that helps.
    """
    # hashlib (imported by jinja2 for its template cache checksums) initialises OpenSSL when it
    # can, which costs milliseconds; its built-in SHA-1 is all that the templates need here.
    if "hashlib" not in sys.modules:
        sys.modules.setdefault("_hashlib", None)  # type: ignore[arg-type]
    from ..errors import ConfigErrors
    from .cold import render_root, use_template_cache

    use_template_cache(root)
    try:
        rendered = render_root(root)
    except ConfigErrors as e:
        for error in e.errors:
            log.error(str(error))
        log.error("invalid configuration; no units generated")
        return None
    if rendered is None:
        return {}
    entries = rendered[1]
    if record:
        from .record import record_unit_entries, wants_record

        if wants_record(root):
            entries = {**entries, **record_unit_entries(entries)}
    return entries


def run(args: list[str], log: Log) -> int:
    try:
        options = parse_args(args)
    except ArgvError as e:
        sys.stderr.write(f"{PROGRAM}: {e} ({USAGE_LINE})\n")
        return 2
    if options.show == "help":
        sys.stdout.write(help_text())
        return 0
    if options.show == "version":
        from ...helper.version import VERSION

        sys.stdout.write(f"{PROGRAM} {VERSION}\n")
        return 0
    root = (options.root or os.environ.get(ROOT_ENV, "")).rstrip("/")
    if options.dry_run or options.record:
        # An admin at a terminal, not systemd at boot: talk to them, not to the kernel log.
        log.target = "console"
    if not root:
        return generate(options, root, log)
    # Another system's root (an image, a test): every path in it resolves inside it, and a
    # link that leads out of it is an error in the image, reported like a bad config.
    if not os.path.isdir(root):
        sys.stderr.write(f"{PROGRAM}: {root}: root directory does not exist ({USAGE_LINE})\n")
        return 2
    from ..errors import UsageError
    from ..rootfs import EscapeError, RootError

    try:
        return generate(options, root, log)
    except (UsageError, EscapeError, RootError) as e:
        log.error(f"{e}; no units generated")
        return 1


def generate(options: GeneratorArgs, root: str, log: Log) -> int:
    """Write (or, with --dry-run, print) the units for the config under ROOT ("" is /)."""
    if options.record:
        from .record import save_record

        try:
            return save_record(root, log)
        except OSError as e:
            log.error(f"{e.filename or RECORD_PATH}: {e.strerror or e}; nothing recorded")
            return 1
    if not options.dry_run and in_initrd(root):
        log.debug("running in the initrd; nothing to do")
        return 0
    files = find_config_files(root or None, log.warning)
    if not files:
        log.debug("no configuration in /etc, /run or /usr/lib; nothing to do")
        return 0
    try:
        entries = warm_entries(root, files, log) or cold_entries(
            root, log, record=not options.dry_run
        )
    except OSError as e:
        log.error(f"{e.filename}: {e.strerror or e}; no units generated")
        return 1
    if entries is None:
        return 1

    if options.dry_run:
        sys.stdout.write(format_entries(entries))
        return 0
    normal_dir = options.dirs[0]
    try:
        write_entries(normal_dir, entries)
    except OSError as e:
        log.error(f"cannot write units into {normal_dir}: {e.strerror or e}")
        return 1
    except ValueError as e:  # an entry name that would leave the output directory
        log.error(f"{e}; no units generated")
        return 1
    log.debug(f"wrote {len(entries)} entries into {normal_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # The process lives for milliseconds and makes no garbage cycles worth collecting, while the
    # cold path's imports would trigger dozens of collections.
    import gc

    collecting = gc.isenabled()
    gc.disable()
    log = Log.from_environment(os.environ)
    try:
        return run(sys.argv[1:] if argv is None else argv, log)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        # A traceback at boot helps nobody reading the kernel log; the type and message do.
        log.error(f"internal error: {type(e).__name__}: {e}")
        if log.level >= DEBUG:
            import traceback

            for line in traceback.format_exc().splitlines():
                log.debug(line)
        return 1
    finally:
        log.close()
        if collecting:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
