"""``ostree-autocleanup verify``: check the rendered units with systemd's own tools.

The units are rendered into a scratch root next to the standard units of this machine and the
finalize unit they extend, then:
- ``systemd-analyze verify`` loads them. It exits 0 on unknown keys and bad values and only
  reports them on stderr, and it checks only the first command of each Exec list, so any stderr
  line is a failure here and every Exec binary is checked separately, in the target root;
- ``systemd-analyze security --offline`` scores the cleanup service's sandbox, which must not
  exceed ``--max-exposure``.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..config.model import Config
from ..errors import Failure, UsageError
from ..options import add_config_options, add_root_option, warning
from ..rootfs import EscapeError, Root, RootError, resolve
from ..units.hardening import directives
from .visibility import hidden_by, root_directory, service_directives

# Targets measured for the default sandbox of each mode (0 is best, 10 worst; 0.5 is the floor
# of a service that runs as root without a root directory of its own).
DEFAULT_MAX_EXPOSURE = {"full": 1.2, "prune": 0.6}
# sysroot-readonly: yes adds CAP_SYS_ADMIN, a mount namespace and mount(2) (measured 1.6 full,
# 1.3 prune, where prune also loses PrivateUsers=); the same margins on top.
READONLY_MAX_EXPOSURE = {"full": 1.8, "prune": 1.4}
# The ostree-cli backend in full mode keeps CAP_SYS_ADMIN in its bounding set for ostree's
# privilege check and passes its two capabilities as ambient ones (measured 1.4 by systemd 252
# and 257 alike, which score the bounding set and do not see that the securebits keep
# CAP_SYS_ADMIN out of the process); the same margin on top.
CLI_FULL_MAX_EXPOSURE = 1.6

HOST_UNIT_DIRS = ("/usr/lib/systemd/system", "/lib/systemd/system")
FINALIZE_UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system")
UPSTREAM_PACKAGE = "ostree-boot"
UPSTREAM_FINALIZE_UNIT = "ostree-finalize-staged.service"
UNIT_DIR = "usr/lib/systemd/system"
HELPER_NAME = "ostree-autocleanup-helper"
ANALYZE_TIMEOUT = 120

_EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) (\S+)")
_EXEC_PREFIXES = "-@:+!|"
_DEFAULTS_TEXT = (
    ", ".join(f"{v} in {k} mode" for k, v in DEFAULT_MAX_EXPOSURE.items())
    + "; with sysroot-readonly: "
    + ", ".join(f"{v} {k}" for k, v in READONLY_MAX_EXPOSURE.items())
    + f"; {CLI_FULL_MAX_EXPOSURE} for the ostree-cli backend in full mode"
)


def default_max_exposure(config: Config) -> float:
    if config.cleanup.backend == "ostree-cli" and config.cleanup.mode == "full":
        return CLI_FULL_MAX_EXPOSURE
    table = READONLY_MAX_EXPOSURE if config.sysroot_readonly else DEFAULT_MAX_EXPOSURE
    return table[config.cleanup.mode]


@dataclass
class Report:
    """What verify found; any problem makes the command fail."""

    unit: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exposure: float | None = None
    level: str = ""
    findings: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # what to do about the problems


def configure_verify_parser(parser: argparse.ArgumentParser) -> None:
    add_config_options(parser)
    add_root_option(
        parser,
        "read the layered config under DIR, look for the finalize unit and check the Exec "
        "binaries there (default: this machine)",
    )
    parser.add_argument(
        "--max-exposure",
        type=float,
        metavar="SCORE",
        help="fail when systemd-analyze security scores the cleanup service above SCORE "
        f"(0-10; default: {_DEFAULTS_TEXT})",
    )
    parser.add_argument(
        "--finalize-unit",
        metavar="FILE",
        help="the finalize unit to check the drop-in against (default: the one in the root, "
        "else the one on this machine, else the drop-in is checked on its own)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help=f"where no finalize unit is found, download Debian's {UPSTREAM_PACKAGE} package "
        f"(apt-get download) and check the drop-in against its {UPSTREAM_FINALIZE_UNIT}",
    )
    # Downloading used to be the default; the option that turned it off is still accepted.
    parser.add_argument("--no-download", action="store_true", help=argparse.SUPPRESS)


def run_verify(args: argparse.Namespace) -> int:
    from ..config.load import load_config

    if args.max_exposure is not None and not 0 <= args.max_exposure <= 10:
        raise UsageError(f"--max-exposure {args.max_exposure} is outside 0-10")
    if shutil.which("systemd-analyze") is None:
        raise Failure("systemd-analyze is not installed (install systemd)")
    config = load_config(args.config, args.root, warning)
    maximum = args.max_exposure if args.max_exposure is not None else default_max_exposure(config)
    report = verify(
        config,
        maximum,
        target_root=args.root or "/",
        finalize_unit=args.finalize_unit,
        download=args.download and not args.no_download,
    )
    sys.stdout.write(format_report(report, maximum))
    if report.problems:
        raise Failure(f"{report.unit}: {len(report.problems)} problem(s), see above")
    return 0


def verify(
    config: Config,
    max_exposure: float,
    target_root: str = "/",
    finalize_unit: str | None = None,
    download: bool = False,
) -> Report:
    from ..rootfs import write_tree
    from ..units.render import render

    report = Report(unit=config.unit_name)
    files = render(config)
    with tempfile.TemporaryDirectory(prefix="ostree-autocleanup-verify-") as scratch:
        root = os.path.join(scratch, "root")
        unit_dir = os.path.join(root, UNIT_DIR)
        _copy_standard_units(unit_dir, config.finalize.unit)
        finalize = _finalize_unit(
            config.finalize.unit, finalize_unit, target_root, scratch, download, report
        )
        finalize_text = _read(finalize) if finalize is not None else STAND_IN
        # Through rootfs: the copy of this machine's units may hold a link of that name.
        write_tree(root, {f"{UNIT_DIR}/{config.finalize.unit}": finalize_text, **files})

        to_verify = [config.unit_name, config.finalize.unit]
        exec_paths = {
            unit: _exec_binaries(_read(os.path.join(unit_dir, unit))) for unit in to_verify
        }
        if config.scheduling.delayed:
            to_verify.append(config.timer_name)  # runs nothing itself: no Exec lines
        # The sandbox each of our programs runs in: the cleanup service's as rendered, the
        # finalize unit's own for the stamp command of the drop-in.
        sandboxes = {
            config.unit_name: directives(config),
            config.finalize.unit: service_directives(finalize_text),
        }
        for path, binary in _our_binaries(files):
            unit = os.path.basename(path)
            owner = unit if unit in sandboxes else config.finalize.unit
            problem = _program_problem(binary, sandboxes[owner], target_root, report)
            if problem:
                report.problems.append(f"{unit}: {problem}")
        # systemd-analyze checks the first command of each Exec list inside its root: a stub
        # stands in for each binary, which was checked above in the real root.
        stubs = {b for paths in exec_paths.values() for b in paths}
        stubs |= {b for _, b in _our_binaries(files)}
        _stub(root, sorted(stubs))

        _analyze_verify(root, to_verify, report)
        _analyze_security(root, config.unit_name, max_exposure, report)
    return report


def format_report(report: Report, max_exposure: float) -> str:
    lines = [f"{report.unit}:"]
    for note in report.notes:
        lines.append(f"  note: {note}")
    if report.exposure is not None:
        verdict = "ok" if report.exposure <= max_exposure else "too high"
        lines.append(
            f"  exposure: {report.exposure:.1f} {report.level} (max {max_exposure:.1f}: {verdict})"
        )
    if report.findings:
        lines.append("  sandbox findings (systemd-analyze security):")
        lines += [f"    {finding}" for finding in report.findings]
    for problem in report.problems:
        lines.append(f"  problem: {problem}")
    for hint in report.hints:
        lines.append(f"  hint: {hint}")
    lines.append(f"  result: {'FAILED' if report.problems else 'ok'}")
    return "\n".join(lines) + "\n"


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as stream:
        return stream.read()


def _copy_standard_units(unit_dir: str, finalize_unit: str) -> None:
    """The host's units, so that targets and other dependencies resolve in the scratch root.

    Drop-ins of the finalize unit are left out: an installed copy of ours must not be verified
    in place of the rendered one.
    """
    for source in HOST_UNIT_DIRS:
        if os.path.isdir(source):
            shutil.copytree(
                source,
                unit_dir,
                symlinks=True,
                ignore=shutil.ignore_patterns(f"{finalize_unit}.d"),
            )
            return
    os.makedirs(unit_dir)


# What the drop-in is checked against when no finalize unit is found: the shape of ostree's
# (a oneshot that stays active and does its work in ExecStop=), with no command of its own, so
# that whatever systemd-analyze reports comes from the drop-in.
STAND_IN = """\
[Unit]
Description=Stand-in for the finalize unit, which was not found
DefaultDependencies=no

[Service]
Type=oneshot
RemainAfterExit=yes
# ostree's unit has had this since 2018: the stamp command cannot run from under /root either.
ProtectHome=yes
"""


def find_finalize_unit(name: str, target_root: str) -> str | None:
    """The finalize unit ``name`` as installed: in the target root, else on this machine.

    Symlinks are resolved inside each root (rootfs); None when neither has it.
    """
    for base in dict.fromkeys([target_root, "/"]):
        for unit_dir in FINALIZE_UNIT_DIRS:
            try:
                path = resolve(base, f"/{unit_dir}/{name}")
            except (RootError, EscapeError):
                continue
            if os.path.isfile(path):
                return path
    return None


def _finalize_unit(
    name: str,
    given: str | None,
    target_root: str,
    scratch: str,
    download: bool,
    report: Report,
) -> str | None:
    """The file to check the drop-in against, with a note saying which; None: the stand-in."""
    if given is not None:
        if not os.path.isfile(given):
            raise UsageError(f"--finalize-unit {given}: no such file")
        report.notes.append(f"drop-in checked against {given}")
        return given
    found = find_finalize_unit(name, target_root)
    if found is not None:
        report.notes.append(f"drop-in checked against {found}")
        return found
    if download and name == UPSTREAM_FINALIZE_UNIT:
        downloaded = _download_upstream_unit(scratch)
        if downloaded is not None:
            report.notes.append(f"drop-in checked against {name} of Debian's {UPSTREAM_PACKAGE}")
            return downloaded
        report.notes.append(f"could not download {UPSTREAM_PACKAGE} (apt-get download failed)")
    where = "on this machine" if target_root == "/" else f"under {target_root} or on this machine"
    how = " or --download" if name == UPSTREAM_FINALIZE_UNIT and not download else ""
    report.notes.append(
        f"{name} was not found {where}: the drop-in was checked on its own, on a stand-in "
        f"for the unit it extends (pass --finalize-unit FILE{how} to check it against "
        "the real one)"
    )
    return None


def _download_upstream_unit(scratch: str) -> str | None:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return None
    download = os.path.join(scratch, "download")
    os.mkdir(download)
    try:
        subprocess.run(
            ["apt-get", "download", "-q", UPSTREAM_PACKAGE],
            cwd=download,
            capture_output=True,
            check=True,
            timeout=ANALYZE_TIMEOUT,
        )
        debs = glob.glob(os.path.join(download, f"{UPSTREAM_PACKAGE}_*.deb"))
        if not debs:
            return None
        tree = os.path.join(scratch, "upstream")
        subprocess.run(
            ["dpkg-deb", "-x", debs[0], tree],
            capture_output=True,
            check=True,
            timeout=ANALYZE_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for unit_dir in FINALIZE_UNIT_DIRS:
        path = os.path.join(tree, unit_dir, UPSTREAM_FINALIZE_UNIT)
        if os.path.isfile(path):
            return path
    return None


def _exec_binaries(text: str) -> list[str]:
    """The program of every Exec*= command line, prefixes such as '-' taken off."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("Exec") or "=" not in line:
            continue
        value = line.split("=", 1)[1].strip().lstrip(_EXEC_PREFIXES)
        if value:
            out.append(value.split()[0])
    return out


def _our_binaries(files: dict[str, str]) -> list[tuple[str, str]]:
    """(file, program) for every Exec line of the rendered unit files."""
    return [
        (path, binary)
        for path, text in files.items()
        if path.startswith(UNIT_DIR + "/")
        for binary in _exec_binaries(text)
    ]


def _program_problem(
    binary: str, sandbox: Sequence[tuple[str, str]], target_root: str, report: Report
) -> str | None:
    """Why the unit cannot run ``binary``: missing in the root, or hidden by its own sandbox."""
    inner = root_directory(sandbox)
    where = binary if inner is None else inner.rstrip("/") + binary
    if not _is_executable_in(target_root, where):
        _hint(report, _missing_hint(binary, target_root))
        return f"{where} is not an executable file{_where(target_root)}"
    why = hidden_by(binary, sandbox)
    if why is not None:
        _hint(
            report,
            "install the program where the unit's sandbox lets it run (/usr/bin, /usr/lib, "
            "/opt) and point the config at it, or change the directive in sandbox.directives",
        )
        return f"{binary} cannot run there: {why}"
    return None


def _hint(report: Report, hint: str) -> None:
    if hint and hint not in report.hints:
        report.hints.append(hint)


def _where(target_root: str) -> str:
    if target_root == "/":
        return " on this machine (check an image root with --root DIR)"
    return f" under {target_root}"


def _missing_hint(binary: str, target_root: str) -> str:
    if os.path.basename(binary) != HELPER_NAME:
        return ""
    found = shutil.which(HELPER_NAME) if target_root == "/" else None
    elsewhere = f" (this machine has one at {found})" if found and found != binary else ""
    return (
        f"the units run the helper at cleanup.helper-path{elsewhere}: install ostree-autocleanup "
        "where the units will run (its package puts the helper in /usr/bin; "
        "`ostree-autocleanup install` installs only the units), or set cleanup.helper-path "
        "to where the helper is"
    )


def _is_executable_in(root: str, binary: str) -> bool:
    if not binary.startswith("/"):
        return False
    try:
        host = resolve(root, binary)
    except (RootError, EscapeError):
        return False
    return os.path.isfile(host) and os.access(host, os.X_OK)


def _stub(root: str, binaries: Sequence[str]) -> None:
    """An executable stand-in for each of ``binaries`` in the scratch root, where none is.

    Through rootfs like every write into a root: the scratch root holds copies of this
    machine's unit links, and a stub must never be written through one of them.
    """
    stub = b"#!/bin/sh\nexit 0\n"
    with Root(root) as scratch:
        for binary in binaries:
            if not binary.startswith("/"):
                continue
            try:
                if scratch.entry(binary.lstrip("/")).kind != "missing":
                    continue
                scratch.write(binary.lstrip("/"), stub, 0o755, [])
            except EscapeError as error:
                raise Failure(f"cannot stand in for {binary}: {error}") from None


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            check=False,
            timeout=ANALYZE_TIMEOUT,
            env={**os.environ, "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Failure(f"cannot run {argv[0]}: {error}") from error


def _analyze_verify(root: str, units: Iterable[str], report: Report) -> None:
    result = _run(["systemd-analyze", "verify", "--man=no", f"--root={root}", *units])
    for line in result.stderr.splitlines():
        if line.strip():
            report.problems.append(f"systemd-analyze verify: {line.strip()}")
    if result.returncode != 0 and not result.stderr.strip():
        report.problems.append(f"systemd-analyze verify failed with status {result.returncode}")


def _analyze_security(root: str, unit: str, max_exposure: float, report: Report) -> None:
    result = _run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={root}", "--no-pager", unit]
    )
    match = _EXPOSURE.search(result.stdout)
    if match is None:
        detail = (result.stderr.strip().splitlines() or ["no exposure level in its output"])[0]
        report.problems.append(f"systemd-analyze security: {detail}")
        return
    report.exposure = float(match[1])
    report.level = match[2]
    report.findings = [
        " ".join(line.split()) for line in result.stdout.splitlines() if line.startswith("✗")
    ]
    if report.exposure > max_exposure:
        report.problems.append(
            f"exposure {report.exposure:.1f} is above the maximum {max_exposure:.1f}"
        )
