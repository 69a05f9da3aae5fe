"""Directive values, check by check: the exact message, or None, for the edges of each check.

tests/core/test_directive_values.py proves against systemd that what is accepted here loads
without a warning; this file pins what the user reads when a value is refused, and which values
at the edge of a range are accepted: an empty value (which resets a directive to its default),
a lone '~', the largest prefix length, the boundaries of a percentage.
"""

from __future__ import annotations

import pytest

from ostree_autocleanup.generator.config import directivevalues as dv

_NOT_SYSCALL = "a system call or @group both systemd 252 and 257 know"
_USER_NAME = (
    "which is not a user or group name (a letter or '_', then letters, digits, '_' or '-'; at "
    "most 31) nor a numeric ID"
)
_NOT_IP = (
    "which is not an IP address or prefix (10.0.0.0/8, ::1) nor one of any, localhost, "
    "link-local, multicast"
)

# (check, value, message or None when accepted)
CASES: list[tuple[dv.Check, str, str | None]] = [
    # An empty value resets the directive to its default.
    (dv.paths, "", None),
    (dv.temporary_filesystems, "", None),
    (dv.ip_addresses, "", None),
    (dv.cpu_quota, "", None),
    (dv.user, "", None),
    # A lone '~' denies nothing (or allows all): an empty inverted list.
    (dv.capabilities, "~", None),
    (dv.namespaces, "~", None),
    # A stray letter before a name is not a question of capitals, nor 'none' nor '@sandbox'.
    (dv.capabilities, "XCAP_CHOWN", "is not a capability (CAP_...)"),
    (dv.address_families, "Xnone", "is not an address family (AF_...)"),
    (dv.system_call_filter, "X@sandbox", f"is not {_NOT_SYSCALL}"),
    # Users and groups.
    (dv.user, "1abc", f"has '1abc', {_USER_NAME}"),
    (dv.group, "a.b", f"has 'a.b', {_USER_NAME}"),
    # Paths and mounts.
    (dv.bind_paths, "/a:/b:rbind", None),
    (
        dv.bind_paths,
        "/a:/b:rbind:x",
        "has '/a:/b:rbind:x', which is not SOURCE[:DESTINATION[:rbind|norbind]]",
    ),
    (dv.temporary_filesystems, "/tmp:mode=0700,nosuid", None),
    (
        dv.temporary_filesystems,
        "/tmp:bogus",
        "has the mount option 'bogus', which tmpfs does not take",
    ),
    (
        dv.temporary_filesystems,
        "/run /tmp:bogus",
        "has the mount option 'bogus', which tmpfs does not take",
    ),
    # The file mode creation mask: at most 07777.
    (dv.umask, "7777", None),
    (dv.umask, "10000", "is not an octal file mode creation mask such as 0077"),
    # IP addresses: hexadecimal digits in either case, prefixes up to the address length.
    (dv.ip_addresses, "FE80::1 fe80::2", None),
    (dv.ip_addresses, "10.0.0.1/32 ::1/128", None),
    (dv.ip_addresses, "10.0.0.1/33", f"has '10.0.0.1/33', {_NOT_IP}"),
    # Percentages: the fraction is hundredths, so 99.5% is below 100%.
    (dv.memory, "99.5%", None),
    (dv.tasks, "99.5%", None),
    (dv.memory, "100.1%", "must be more than 0% and at most 100%"),
    (dv.cpu_quota, "0.01%", None),
    (dv.cpu_quota, "4000000%", None),
    (dv.cpu_quota, "4000000.01%", "must be more than 0% and at most 4000000%"),
    (dv.cpu_quota, "0%", "must be more than 0% and at most 4000000%"),
    # System call filters: :ERRNO only in a deny list; '@sandbox' only in systemd 257.
    (dv.system_call_filter, "~read:EPERM", None),
    (
        dv.system_call_filter,
        "read:EPERM",
        f"is not {_NOT_SYSCALL} (only a deny list, starting with '~', takes :ERRNO)",
    ),
    (dv.system_call_filter, "~read:EBOGUS", f"is not {_NOT_SYSCALL}"),
    (dv.system_call_filter, "nosuchcall", f"is not {_NOT_SYSCALL}"),
    (dv.system_call_filter, "@sandbox", f"names '@sandbox', which {dv._NEEDS_257}"),
    (dv.system_call_filter, "~@sandbox", f"names '@sandbox', which {dv._NEEDS_257}"),
]


@pytest.mark.parametrize(
    ("check", "value", "message"), CASES, ids=[f"{c.__name__}:{v!r}" for c, v, _m in CASES]
)
def test_each_value_has_its_answer(check: dv.Check, value: str, message: str | None) -> None:
    assert check(value) == message
