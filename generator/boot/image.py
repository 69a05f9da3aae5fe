"""What `install --generator` puts into an image root so that boots stay fast.

`generator_files(config)` returns every file, keyed by path relative to the root:

- usr/lib/ostree-autocleanup/config.yaml (+ config.d/NN-*.yaml): the config, byte for byte;
- usr/lib/ostree-autocleanup/generator/precomputed: the output rendered now, with the exact
  config bytes and package version it was rendered from (the Python warm path checks these);
- usr/lib/ostree-autocleanup/generator/units.tar: the same output as an archive, for the boot
  script (an archive, so that the `.wants/` symlink and the directories need no special
  support from whoever writes these files into the root);
- usr/lib/ostree-autocleanup/generator/templates/*.cache: the templates, compiled;
- usr/lib/systemd/system-generators/ostree-autocleanup-generator: the boot script.

Every file is a regular file. The boot script is POSIX sh: with no /etc or /run override and
the shipped config unchanged (compared with `read`, a shell builtin), it unpacks the archive
with a single `tar` and Python never starts; in every other case, or if tar fails, it execs
the Python generator, which checks the precomputed data (warm path) or renders (cold path). The
precomputed output is produced by running the cold path on a copy of the files being installed,
so all three paths agree byte for byte.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...helper.version import VERSION
from ..config.layering import CONFIG_DIRS, DROPIN_DIR, DROPIN_SUFFIX, MAIN_NAME
from ..config.load import load_config
from ..config.model import Config
from ..errors import Failure
from ..rootfs import Root
from .cold import compiled_templates, render_root
from .entries import (
    DATA_PATH,
    GENERATOR_PATH,
    LINK,
    TEMPLATE_CACHE_DIR,
    UNITS_ARCHIVE,
    encode_data,
)
from .log import PROGRAM

if TYPE_CHECKING:
    from .entries import Entries

SHIPPED_DIR = CONFIG_DIRS[-1]
DEFAULT_PYTHON = "/usr/bin/python3"
FILE_MODE = 0o644
SCRIPT_MODE = 0o755

# What an image gets when the installer was given no config: the embedded default, spelled
# out, because with no config file at all the generator has nothing to do.
DEFAULT_CONFIG = b"""\
# ostree-autocleanup configuration: every setting at its default.
# Override it in /etc/ostree-autocleanup/config.yaml or config.d/*.yaml drop-ins.
version: 1
"""

FileMap = dict[str, tuple[bytes, int]]


def dropin_name(index: int, count: int, source: str) -> str:
    """The shipped name of the INDEX-th of COUNT config files (0 is config.yaml).

    The number is zero-padded to the width of the largest one, so that the lexical order in
    which drop-ins are applied is the order the files were given in, for any count: with a
    fixed width of two, `100-` would sort before `20-`.
    """
    width = max(2, len(str(count - 1)))
    stem = os.path.basename(source)
    if stem.endswith(DROPIN_SUFFIX):
        stem = stem[: -len(DROPIN_SUFFIX)]
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in stem)
    return f"{index:0{width}d}-{stem}{DROPIN_SUFFIX}"


def shipped_config(inputs: Sequence[tuple[str, bytes | None]]) -> dict[str, bytes]:
    """The config files to ship, keyed by path relative to the root, in application order.

    INPUTS are the config files as the loader read them, (name, bytes), in the order they
    were applied; none means the embedded default, spelled out. Several files are merged in
    order exactly as drop-ins are applied after the main file, so the first becomes
    config.yaml and the rest numbered drop-ins.
    """
    base = SHIPPED_DIR.lstrip("/")
    if not inputs:
        return {f"{base}/{MAIN_NAME}": DEFAULT_CONFIG}
    files: dict[str, bytes] = {}
    for index, (name, data) in enumerate(inputs):
        if data is None:  # pragma: no cover - the loader refuses a file it could not read
            raise Failure(f"{name}: cannot be read")
        if index == 0:
            files[f"{base}/{MAIN_NAME}"] = data
        else:
            files[f"{base}/{DROPIN_DIR}/{dropin_name(index, len(inputs), name)}"] = data
    return files


def _inputs_of(
    config: Config, config_files: Sequence[str], root: str | None
) -> list[tuple[str, bytes | None]]:
    """What CONFIG was read from, read again: for callers that did not keep the bytes."""
    from ..config.load import read_config_inputs

    if config_files:
        read = read_config_inputs(config_files)
    elif root:
        read = read_config_inputs((), root)
    else:
        read = read_config_inputs(config.sources)
    return [(i.name, i.data) for i in read]


def generator_files(
    config: Config,
    config_files: Sequence[str] = (),
    root: str | None = None,
    python: str = DEFAULT_PYTHON,
    *,
    inputs: Sequence[tuple[str, bytes | None]] | None = None,
) -> FileMap:
    """Every file `install --generator` writes, relative to the root: {path: (bytes, mode)}.

    All regular files; ``mode`` is the permission bits, 0o644, or 0o755 for the boot script.
    INPUTS are the (name, bytes) CONFIG was validated from, in order; without them they are
    read again from CONFIG_FILES (-c), or the layered files under ROOT, or CONFIG's sources.
    ``python`` is the interpreter the boot script runs for the warm and cold paths, as the image
    sees it. Raises ConfigErrors when the shipped files do not load, and Failure when they
    would not mean CONFIG at boot, so that a broken generator is never installed.
    """
    if inputs is None:
        inputs = _inputs_of(config, config_files, root)
    shipped = shipped_config(inputs)
    with tempfile.TemporaryDirectory(prefix="ostree-autocleanup-generator-") as tmp:
        write_tree_bytes(tmp, shipped)
        rendered = render_root(tmp)
        at_boot = load_config(root=tmp)
    if rendered is None:  # pragma: no cover - shipped_config always writes config.yaml
        raise AssertionError("no config files were shipped")
    # The boot-time generator reads the shipped files, not CONFIG: they must mean the same, or
    # the preset would enable a unit that the generator never writes.
    if at_boot._replace(sources=()) != config._replace(sources=()):
        raise Failure(
            "the config files to ship do not load to the validated config "
            f"(shipped: {', '.join(shipped)}); nothing was installed"
        )
    inputs_read, entries = rendered

    files: FileMap = {rel: (data, FILE_MODE) for rel, data in shipped.items()}
    files[DATA_PATH.lstrip("/")] = (encode_data(VERSION, inputs_read, entries), FILE_MODE)
    files[UNITS_ARCHIVE.lstrip("/")] = (units_archive(entries), FILE_MODE)
    for name, data in compiled_templates().items():
        files[f"{TEMPLATE_CACHE_DIR.lstrip('/')}/{name}"] = (data, FILE_MODE)
    script = boot_script(python, inputs_read, entries)
    files[GENERATOR_PATH.lstrip("/")] = (script.encode(), SCRIPT_MODE)
    return dict(sorted(files.items()))


def units_archive(entries: Entries) -> bytes:
    """ENTRIES as a tar archive that any tar (GNU, busybox) unpacks; deterministic bytes.

    Directories get entries of their own, but not the top directory: unpacking must not touch
    the output directory's own mode.
    """
    members: dict[str, tarfile.TarInfo] = {}
    for rel in entries:
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            members[name] = info
    for rel, (kind, data) in entries.items():
        info = tarfile.TarInfo(rel)
        if kind == LINK:
            info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, os.fsdecode(data)
        else:
            info.type, info.mode, info.size = tarfile.REGTYPE, 0o644, len(data)
        members[rel] = info
    out = io.BytesIO()
    # pax: the same bytes as ustar for names that fit its 100-byte fields, and an extended
    # header for the longer ones a name near its limit makes (GNU tar and busybox read both).
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(members):
            info = members[name]
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            payload = entries[name][1] if info.type == tarfile.REGTYPE else None
            archive.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return out.getvalue()


def write_tree_bytes(root: str, files: dict[str, bytes], mode: int = FILE_MODE) -> None:
    """Write FILES (path relative to ROOT -> bytes) under ROOT, confined to it (see rootfs)."""
    write_generator_files(root, {rel: (data, mode) for rel, data in files.items()})


def write_generator_files(root: str, files: FileMap) -> None:
    """Write FILES under ROOT (for tests, benchmarks and the scratch copy above; the installer
    has its own plan and manifest), through the same confined writer as everything else."""
    with Root(root) as opened:
        for rel, (data, mode) in files.items():
            opened.write(rel, data, mode, [])


def _q(text: str) -> str:
    """TEXT as one single-quoted sh word."""
    return "'" + text.replace("'", "'\\''") + "'"


# The Python generator's entry, run with -I so that no PYTHON* variable or current directory
# changes what runs at boot. A missing package is one log line, not a traceback.
# When the interpreter cannot import the package (installed for another Python, say), the
# generator's own logging is not there yet: say so in the kernel log, where an admin looks for
# generator messages, and fall back to stderr only where that cannot be written.
_PY_ENTRY = f"""\
import os, sys
try:
    from ostree_autocleanup.generator.boot.main import main
except ImportError as e:
    line = "{PROGRAM}[%d]: cannot start %s: %s; no units generated\\n" % (os.getpid(), sys.executable, e)
    try:
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write("<27>" + line)
    except OSError:
        sys.stderr.write(line)
    sys.exit(1)
sys.exit(main())"""


def boot_script(python: str, inputs: list[tuple[str, bytes]], entries: Entries) -> str:
    """The sh generator: no process but one `tar` when nothing is overridden, else Python."""
    checks, expected = _config_checks(inputs)
    return (
        _script_head()
        + _shell_helpers()
        + _fast_function(checks, expected, entries)
        + _python_fallback(python)
    )


def _config_checks(inputs: list[tuple[str, bytes]]) -> tuple[list[str], str]:
    """One `same` line per shipped config file, and the drop-in list `dropins` must find."""
    shipped = SHIPPED_DIR + "/"
    main_path = SHIPPED_DIR + "/" + MAIN_NAME
    dropin_prefix = f"{SHIPPED_DIR}/{DROPIN_DIR}/"
    checks: list[str] = []
    dropins: list[str] = []
    for path, data in inputs:
        if not path.startswith(shipped):  # pragma: no cover - only shipped files are inputs
            raise ValueError(f"{path} is not a shipped config file")
        text = data.decode("utf-8", "surrogateescape")
        if "\0" in text:
            raise ValueError(f"{path}: NUL byte in a config file")
        checks.append(f'\tsame "$r"{_q(path)} {_q(text)} || return 1')
        if path.startswith(dropin_prefix):
            dropins.append(f'"$r"{_q(path)} ')
    if not any(path == main_path for path, _ in inputs):  # pragma: no cover
        raise ValueError("the shipped config has no config.yaml")
    return checks, "".join(dropins)


def _script_head() -> str:
    return f"""\
#!/bin/sh
# Automatically generated by ostree-autocleanup {VERSION} (install --generator) from:
#   {SHIPPED_DIR}/{MAIN_NAME}
# Do not edit: change the configuration and install again.
#
# systemd generator (systemd.generator(7)). Generators delay every boot, so when neither
# /etc nor /run overrides the config and the shipped config is byte for byte the one rendered
# at install time, the units rendered then are unpacked into place and Python never starts.
# Anything else (an override, --dry-run, a usage error) goes to the Python generator.

r=${{OSTREE_AUTOCLEANUP_ROOT-}}

"""


def _shell_helpers() -> str:
    """log (to the kernel log, as systemd's generators do), same and dropins: builtins only."""
    glob = f'"$r"{_q(f"{SHIPPED_DIR}/{DROPIN_DIR}/")}*{_q(DROPIN_SUFFIX)}'
    return f"""\
log() {{
\tcase ${{SYSTEMD_LOG_TARGET-}} in
\tnull) return 0 ;;
\tconsole | stderr) ;;
\t*) printf '<%d>%s[%s]: %s\\n' $((24 + $1)) {PROGRAM} $$ "$2" 2>/dev/null >/dev/kmsg && return 0 ;;
\tesac
\tprintf '%s[%s]: %s\\n' {PROGRAM} $$ "$2" >&2
}}

# Whether file $1 holds exactly $2. read is a builtin: comparing starts no process.
same() {{
\t[ -f "$1" ] && [ -r "$1" ] || return 1
\t_s=
\t_l=
\twhile IFS= read -r _l; do
\t\t_s="$_s$_l
"
\tdone <"$1"
\t[ "$_s$_l" = "$2" ]
}}

# Whether the shipped config.d holds exactly the drop-ins given as arguments.
dropins() {{
\t_want="$*"
\tset -- {glob}
\t[ -e "$1" ] || [ -L "$1" ] || set --
\t[ "$*" = "$_want" ]
}}

"""


def _fast_function(checks: list[str], expected: str, entries: Entries) -> str:
    """The path that needs no Python: nothing overridden, the shipped config unchanged."""
    ours = " ".join(f'"$1"/{_q(rel)}' for rel in sorted(entries))
    dirs = sorted({os.path.dirname(rel) for rel in entries} - {""}, reverse=True)
    ourdirs = " ".join(f'"$1"/{_q(d)}' for d in dirs)
    return f"""\
fast() {{
\t[ $# -eq 1 ] || [ $# -eq 3 ] || return 1
\tcase $1 in -* | '') return 1 ;; esac
\tcase ${{SYSTEMD_IN_INITRD-}} in
\t1) exit 0 ;;
\t0) ;;
\t*) [ ! -e "$r/etc/initrd-release" ] || exit 0 ;;
\tesac
\tfor _d in "$r"{_q(CONFIG_DIRS[0])} "$r"{_q(CONFIG_DIRS[1])}; do
\t\t[ ! -e "$_d" ] && [ ! -L "$_d" ] || return 1
\tdone
\tdropins {expected}|| return 1
{chr(10).join(checks)}
\tcase ${{SYSTEMD_LOG_LEVEL-}} in
\t7 | debug) log 7 "no override in /etc or /run; using the units rendered at install time" ;;
\tesac
\ttar -xmf "$r"{_q(UNITS_ARCHIVE)} -C "$1" 2>/dev/null && exit 0
\t# Take back whatever was unpacked; the Python generator then tries by its own means and
\t# logs what goes wrong.
\trm -f -- {ours} 2>/dev/null
\trmdir -- {ourdirs} 2>/dev/null
\treturn 1
}}

fast "$@"
"""


def _python_fallback(python: str) -> str:
    missing = python + ": not found; cannot generate units (reinstall with install --generator)"
    return f"""\
if [ ! -x {_q(python)} ]; then
\tlog 3 {_q(missing)}
\texit 1
fi
exec {_q(python)} -I -c {_q(_PY_ENTRY)} "$@"
"""
