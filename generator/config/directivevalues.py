"""The values each overridable sandbox directive takes: a subset of what systemd accepts.

systemd does not refuse a unit with a bad value: it logs a warning and ignores the line, so a
typo in ``ProtectSystem=stict`` silently removes that protection, and an unknown capability or
filesystem name is dropped without a word. Each check here accepts only values that systemd 252
(Debian 12) and 257 (Debian 13) both read, and read as written; tests/core/test_directive_values.py
feeds generated values to both and fails when one of them warns about a value accepted here.
Where a value is valid in systemd 257 only, the message says so.

Each check returns why a value is refused, or None. Values arrive as the unit-file text they
would be written as; whitespace and control characters are already refused (unitsafe).
"""

from __future__ import annotations

import re
from typing import Callable

from . import unitsafe

Check = Callable[[str], "str | None"]

# parse_boolean(): these spellings, in any case.
BOOLEANS = frozenset({"1", "yes", "y", "true", "t", "on", "0", "no", "n", "false", "f", "off"})

_NEEDS_257 = "needs systemd 257: Debian 12's systemd 252 ignores the line, and the setting with it"


def _is_bool(value: str) -> bool:
    return value.lower() in BOOLEANS


def boolean(newer: tuple[str, ...] = ()) -> Check:
    """yes/no; ``newer``: values only systemd 257 knows, refused with a message that says so."""

    def check(value: str) -> str | None:
        if _is_bool(value):
            return None
        if value in newer:
            return _NEEDS_257
        return "is not a boolean (yes or no)"

    return check


def choice(*choices: str, booleans: bool = False, empty: bool = False) -> Check:
    """One of ``choices`` exactly as written (systemd is case-sensitive here); ``booleans``: the
    boolean spellings too; ``empty``: '' resets the directive to its default."""

    def check(value: str) -> str | None:
        if value in choices or (booleans and _is_bool(value)) or (empty and value == ""):
            return None
        allowed = ", ".join(("yes", "no", *choices) if booleans else choices)
        return f"is not one of {allowed}"

    return check


def _words(value: str) -> list[str]:
    return value.split(" ")


def _invertible(value: str) -> list[str]:
    """The words after an optional leading '~' (which makes the list the ones denied)."""
    rest = value[1:] if value.startswith("~") else value
    return [] if rest == "" else _words(rest)


def _word_list(value: str, what: str, known: Callable[[str], bool], tilde: bool) -> str | None:
    if value == "":
        return None
    words = _invertible(value) if tilde else _words(value)
    for word in words:
        if word == "":
            return "has two spaces in a row or a space after '~'"
        if word.startswith("~"):
            return "has '~' inside the list: it may only start it, and then applies to all of it"
        if not known(word):
            return f"is not {what}" if len(words) == 1 else f"names {word!r}, which is not {what}"
    return None


def capabilities(value: str) -> str | None:
    from .systemdnames import CAPABILITIES

    def known(word: str) -> bool:
        return word in CAPABILITIES

    problem = _word_list(value, "a capability (CAP_...)", known, tilde=True)
    if problem and any(w.upper() in CAPABILITIES for w in _words(value.lstrip("~"))):
        problem += "; write capability names in capitals"
    return problem


_SECURE_BITS = frozenset(
    {"keep-caps", "keep-caps-locked", "no-setuid-fixup", "no-setuid-fixup-locked", "noroot"}
    | {"noroot-locked"}
)


def secure_bits(value: str) -> str | None:
    return _word_list(value, "a secure bit", _SECURE_BITS.__contains__, tilde=False)


def umask(value: str) -> str | None:
    if re.fullmatch(r"[0-7]+", value) and int(value, 8) <= 0o7777:
        return None
    return "is not an octal file mode creation mask such as 0077"


def _path(path: str) -> str | None:
    problem = unitsafe.path_problem(path)
    return f"has the path {path!r}, which {problem}" if problem else None


def paths(value: str) -> str | None:
    """ReadOnlyPaths= and kin: absolute paths, each optionally prefixed with '-' (a missing path
    is no error) and then '+' (relative to RootDirectory=)."""
    if value == "":
        return None
    for word in _words(value):
        path = word[1:] if word.startswith("-") else word
        path = path[1:] if path.startswith("+") else path
        problem = _path(path)
        if problem:
            return problem
    return None


_TMPFS_FLAGS = frozenset(
    [
        "ro",
        "rw",
        "nosuid",
        "suid",
        "nodev",
        "dev",
        "noexec",
        "exec",
        "sync",
        "async",
        "dirsync",
        "relatime",
        "norelatime",
        "strictatime",
        "nostrictatime",
        "noatime",
        "atime",
        "nodiratime",
        "diratime",
        "lazytime",
        "nolazytime",
    ]
)
# Patterns are strings compiled on first use (re caches them): the generator imports this
# module at boot, where most configs override no directive at all.
_TMPFS_OPTION = (
    r"(?:size|nr_blocks|nr_inodes)=[1-9][0-9]*[kmgKMG]?|mode=[0-7]{3,4}|(?:uid|gid)=(?:0|[1-9][0-9]*)"
    r"|huge=(?:never|always|within_size|advise|deny|force)"
)


def temporary_filesystems(value: str) -> str | None:
    """PATH[:OPTIONS], OPTIONS being tmpfs mount options separated by commas."""
    if value == "":
        return None
    for word in _words(value):
        path, colon, options = word.partition(":")
        problem = _path(path)
        if problem:
            return problem
        if not colon:
            continue
        for option in options.split(","):
            if option not in _TMPFS_FLAGS and not re.fullmatch(_TMPFS_OPTION, option):
                return f"has the mount option {option!r}, which tmpfs does not take"
    return None


def bind_paths(value: str) -> str | None:
    """[-]SOURCE[:DESTINATION[:rbind|norbind]]."""
    if value == "":
        return None
    for word in _words(value):
        parts = (word[1:] if word.startswith("-") else word).split(":")
        if len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("rbind", "norbind")):
            return f"has {word!r}, which is not SOURCE[:DESTINATION[:rbind|norbind]]"
        for path in parts[:2]:
            problem = _path(path)
            if problem:
                return problem
    return None


def root_directory(value: str) -> str | None:
    return None if value == "" else _path(value)


# valid_user_group_name() without its relaxations: what useradd accepts everywhere.
_USER_NAME = r"[A-Za-z_][A-Za-z0-9_-]{0,30}"


def _user_or_group(word: str) -> str | None:
    if re.fullmatch(r"0|[1-9][0-9]{0,9}", word):
        if int(word) > 4294967294 or int(word) == 65535:
            return f"has {word!r}, which is a reserved ID (65535 and 4294967295 mean 'none')"
        return None
    if not re.fullmatch(_USER_NAME, word):
        return (
            f"has {word!r}, which is not a user or group name (a letter or '_', then letters, "
            "digits, '_' or '-'; at most 31) nor a numeric ID"
        )
    return None


def user(value: str) -> str | None:
    if value == "nobody":
        return "is the user nobody, which systemd refuses to run services as ('not safe')"
    return None if value == "" else _user_or_group(value)


def group(value: str) -> str | None:
    return None if value == "" else _user_or_group(value)


def supplementary_groups(value: str) -> str | None:
    if value == "":
        return None
    for word in _words(value):
        problem = _user_or_group(word)
        if problem:
            return problem
    return None


def address_families(value: str) -> str | None:
    from .systemdnames import ADDRESS_FAMILIES

    if value == "none":
        return None
    if "none" in _words(value.lstrip("~")):
        return "uses 'none' with '~' or other words: 'none' stands alone"
    return _word_list(value, "an address family (AF_...)", ADDRESS_FAMILIES.__contains__, True)


_NAMESPACES = frozenset(["cgroup", "ipc", "net", "mnt", "pid", "user", "uts", "time"])


def namespaces(value: str) -> str | None:
    if _is_bool(value):
        return None
    return _word_list(
        value, f"a namespace ({' '.join(sorted(_NAMESPACES))})", _NAMESPACES.__contains__, True
    )


def filesystems(value: str) -> str | None:
    from .systemdnames import FILESYSTEM_GROUPS, FILESYSTEMS

    def known(word: str) -> bool:
        return word in FILESYSTEMS or word in FILESYSTEM_GROUPS

    return _word_list(value, "a filesystem or filesystem group", known, tilde=True)


def _errno(text: str) -> bool:
    from .systemdnames import ERRNO_NAMES

    if text in ERRNO_NAMES or text == "kill":
        return True
    return bool(re.fullmatch(r"[1-9][0-9]{0,3}", text)) and int(text) <= 4095


def system_call_filter(value: str) -> str | None:
    """[~]NAME..., NAME a system call or @group; in a deny list (~) each may end in :ERRNO."""
    from .systemdnames import SYSCALL_GROUPS, SYSCALLS

    inverted = value.startswith("~")

    def known(word: str) -> bool:
        name, colon, error = word.partition(":")
        if colon and not (inverted and _errno(error)):
            return False
        return name in SYSCALLS or name in SYSCALL_GROUPS

    problem = _word_list(
        value, "a system call or @group both systemd 252 and 257 know", known, True
    )
    if problem and not inverted and ":" in value:
        problem += " (only a deny list, starting with '~', takes :ERRNO)"
    if problem and "@sandbox" in _words(value.lstrip("~")):
        problem = f"names '@sandbox', which {_NEEDS_257}"
    return problem


def system_call_log(value: str) -> str | None:
    from .systemdnames import SYSCALL_GROUPS, SYSCALLS

    def known(word: str) -> bool:
        return word in SYSCALLS or word in SYSCALL_GROUPS

    return _word_list(value, "a system call or @group both systemd 252 and 257 know", known, True)


def error_number(value: str) -> str | None:
    if value == "" or _errno(value):
        return None
    return "is not an error name such as EPERM, a number from 1 to 4095, or kill"


def architectures(value: str) -> str | None:
    from .systemdnames import ARCHITECTURES

    return _word_list(
        value, "an architecture (native, x86-64, ...)", ARCHITECTURES.__contains__, False
    )


_DEVICE = r"(?:/dev/[^\s:]+|(?:char|block)-[A-Za-z0-9_*.+-]+)(?: [rwm]+)?"


def device_allow(value: str) -> str | None:
    if value == "":
        return None
    if not re.fullmatch(_DEVICE, value):
        return (
            "is not a device (/dev/... or char-NAME or block-NAME), then optionally a space and rwm"
        )
    device = value.split(" ")[0]
    if device.startswith("/"):
        problem = unitsafe.path_problem(device)
        if problem:
            return f"has the device path {device!r}, which {problem}"
    return None


_ADDRESS_WORDS = frozenset({"any", "localhost", "link-local", "multicast"})


def ip_addresses(value: str) -> str | None:
    if value == "":
        return None
    for word in _words(value):
        if word in _ADDRESS_WORDS:
            continue
        address, slash, prefix = word.partition("/")
        if not _ip_address(address, prefix if slash else None):
            return (
                f"has {word!r}, which is not an IP address or prefix (10.0.0.0/8, ::1) nor one "
                "of any, localhost, link-local, multicast"
            )
    return None


def _ip_address(address: str, prefix: str | None) -> bool:
    import ipaddress  # only here: it is not needed to read most configs

    if "%" in address or not re.fullmatch(r"[0-9A-Fa-f.:]+", address):
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if prefix is None:
        return True
    return bool(re.fullmatch(r"0|[1-9][0-9]{0,2}", prefix)) and int(prefix) <= parsed.max_prefixlen


_PORTS = r"(?:(ipv4|ipv6):)?(?:(tcp|udp):)?(any|[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?)"


def socket_bind(value: str) -> str | None:
    if value in ("", "any"):
        return None
    match = re.fullmatch(_PORTS, value)
    if match:
        ports = match[3]
        if ports == "any":
            return None
        low, _dash, high = ports.partition("-")
        if int(low) <= int(high or low) <= 65535:
            return None
    return "is not [ipv4:|ipv6:][tcp:|udp:]PORT[-PORT] (ports 1 to 65535) or any"


def interfaces(value: str) -> str | None:
    def known(word: str) -> bool:
        return bool(re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", word)) and word not in (".", "..")

    return _word_list(value, "an interface name (at most 15 characters)", known, tilde=True)


_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_SIZE_UNITS["E"] = 1 << 60
_SIZE = r"([0-9]+)(?:\.([0-9]+))?([KMGTPE]?)"
_PERCENT = r"([0-9]+)(?:\.([0-9]{1,2}))?%"
_LIMIT = 1 << 62  # well inside what systemd counts, so no rounding there can overflow


def _permyriad(value: str) -> int | None:
    match = re.fullmatch(_PERCENT, value)
    if not match:
        return None
    return int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))


def _bytes(value: str) -> int | None:
    match = re.fullmatch(_SIZE, value)
    if not match:
        return None
    unit = _SIZE_UNITS[match[3]]
    whole = int(match[1]) * unit
    fraction = match[2] or ""
    return whole + (int(fraction) * unit) // (10 ** len(fraction)) if fraction else whole


def memory(value: str) -> str | None:
    if value in ("", "infinity"):
        return None
    share = _permyriad(value)
    if share is not None:
        return None if 0 < share <= 10000 else "must be more than 0% and at most 100%"
    size = _bytes(value)
    if size is None:
        return (
            "is not a size (512M, 1.5G: K M G T P E are powers of 1024), a percentage or infinity"
        )
    return None if 0 < size < _LIMIT else "is out of range (at least one byte, at most 4E)"


def tasks(value: str) -> str | None:
    if value in ("", "infinity"):
        return None
    share = _permyriad(value)
    if share is not None:
        return None if 0 < share <= 10000 else "must be more than 0% and at most 100%"
    if re.fullmatch(r"[1-9][0-9]*", value) and int(value) < _LIMIT:
        return None
    return "is not a positive number of tasks, a percentage or infinity"


def cpu_quota(value: str) -> str | None:
    if value == "":
        return None
    share = _permyriad(value)
    if share is None:
        return "is not a percentage of one CPU such as 50% or 200%"
    if not 0 < share <= 400_000_000:
        return "must be more than 0% and at most 4000000%"
    return None


def io_weight(value: str) -> str | None:
    if value == "" or (re.fullmatch(r"[1-9][0-9]*", value) and int(value) <= 10000):
        return None
    return "is not a weight from 1 to 10000"
