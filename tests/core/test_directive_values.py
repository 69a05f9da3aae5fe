"""sandbox.directives values, checked against the real systemd-analyze of both eras.

- every name the checks know (system calls, capabilities, address families...) is known to
  systemd 252 and 257;
- which directives expand % specifiers is what systemd does, for every overridable directive;
- every directive, with % values: what the validator accepts, systemd reads without a warning;
- a generated corpus of values per directive (hypothesis): every value the validator accepts
  loads without a warning in both, and the common spellings are accepted.

Units are verified in batches (one systemd-analyze call for many unit files).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.generator.config import directives, systemdnames
from ostree_autocleanup.generator.config.directivevalues import BOOLEANS
from support.systemd_eras import Era, eras

ERAS = eras()
ERA_IDS = [e[0] for e in ERAS]


def _era(era: Era | None, why: str) -> Era:
    if era is None:
        pytest.skip(why)
    return era


def unit(*lines: str) -> str:
    return "[Service]\nType=oneshot\nExecStart=/bin/true\n" + "".join(f"{x}\n" for x in lines)


def accepted(name: str, value: str) -> bool:
    try:
        directives.value_text(name, value)
    except ValueError:
        return False
    return True


# --- the name tables ---------------------------------------------------------------------

TABLES = {
    "SystemCallFilter": sorted(systemdnames.SYSCALLS | systemdnames.SYSCALL_GROUPS),
    "SystemCallLog": sorted(systemdnames.SYSCALLS | systemdnames.SYSCALL_GROUPS),
    "RestrictAddressFamilies": sorted(systemdnames.ADDRESS_FAMILIES),
    "SystemCallArchitectures": sorted(systemdnames.ARCHITECTURES),
    "RestrictFileSystems": sorted(systemdnames.FILESYSTEM_GROUPS),
}


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_every_listed_name_is_known_to_systemd(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    units = {f"{name}.service": unit(f"{name}={' '.join(words)}") for name, words in TABLES.items()}
    # One line each: an unknown error name is reported line by line.
    units["errno.service"] = unit(
        *(f"SystemCallErrorNumber={e}" for e in sorted(systemdnames.ERRNO_NAMES))
    )
    assert era.verify_files(units) == {**{name: [] for name in units}, "": []}
    # systemd ignores unknown capability and filesystem names without a word: compare with
    # the lists it prints instead.
    listed = era.run("capability", "--no-pager").stdout.split()
    assert {word.upper() for word in listed} >= systemdnames.CAPABILITIES
    filesystems = era.run("filesystems", "--no-pager")
    if filesystems.returncode == 0:  # systemd 252 of Debian 12 is built without the BPF LSM
        assert set(re.findall(r"^    (\S+)", filesystems.stdout, re.M)) >= systemdnames.FILESYSTEMS


def test_the_tables_are_not_empty() -> None:
    assert len(systemdnames.SYSCALLS) > 400 and len(systemdnames.CAPABILITIES) == 41
    assert {"@system-service", "@privileged"} <= systemdnames.SYSCALL_GROUPS


# --- % specifiers --------------------------------------------------------------------------


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_specifier_expansion_is_systemds(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    # %k is no specifier: a directive that expands specifiers says it cannot resolve it.
    units = {
        f"{name}-{i}.service": unit(f"{name}={value}")
        for name in sorted(directives.DIRECTIVES)
        for i, value in enumerate(("%k", "/%k"))
    }
    found = era.verify_files(units)
    for name, directive in sorted(directives.DIRECTIVES.items()):
        said = " ".join(found[f"{name}-0.service"] + found[f"{name}-1.service"])
        assert ("specifiers" in said) == directive.specifiers, (name, said)


PERCENT_VALUES = ["%k", "%n", "/%k", "50%", "20%", "100%", "50%%", "0%", "1.5%", "%"]


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_every_directive_with_a_percent_value(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    cases = [(n, v) for n in sorted(directives.DIRECTIVES) for v in PERCENT_VALUES]
    ours = {case: accepted(*case) for case in cases}
    for name, value in cases:
        if directives.DIRECTIVES[name].specifiers:
            assert not ours[name, value], (name, value)  # refused, never escaped
    # What systemd takes literally is written as given, and read without a warning.
    literal = [case for case, ok in ours.items() if ok]
    units = {f"p{i}.service": unit(f"{n}={v}") for i, (n, v) in enumerate(literal)}
    assert era.verify_files(units) == {**{name: [] for name in units}, "": []}
    assert {("CPUQuota", "50%"), ("MemoryMax", "20%"), ("TasksMax", "50%")} <= set(literal)
    assert ("MemoryHigh", "1.5%") in literal
    assert ("CPUQuota", "50%%") not in literal  # systemd: "Invalid CPU quota"


# --- generated values, per directive --------------------------------------------------------

_BOOL_WORDS = [*sorted(BOOLEANS), "Yes", "TRUE", "2", "yesno", "enabled"]
_PATH_WORDS = ["/var", "/var/lib", "-/var", "+/var", "-+/var", "/", "+-/var", "var", "/var/",
               "//var", "/var/../x", "/var/$X", "/var/%h", "/a b", "/var;x", "~/x"]  # fmt: skip

# (words that belong, words near them) for each directive; values are 1 to 3 words joined by
# a space, sometimes with a leading '~', sometimes empty.
WORDS: dict[str, tuple[list[str], list[str]]] = {
    "User": (["root", "daemon", "_apt", "svc-1", "0", "65534", "4294967294"],
             ["nobody", "65535", "4294967295", "1user", "Foo.bar", "a" * 32, "-x", "$USER"]),
    "Group": (["root", "adm", "0", "65534"], ["65535", "x y", "1g", "%g"]),
    "SupplementaryGroups": (["adm", "wheel", "0", "systemd-journal"], ["65535", "-adm", "a:b"]),
    "CapabilityBoundingSet": (sorted(systemdnames.CAPABILITIES)[:12], ["cap_chown", "CAP_FOO", "all", "21", "~"]),
    "AmbientCapabilities": (sorted(systemdnames.CAPABILITIES)[12:24], ["CAP_", "cap_kill", "~"]),
    "SecureBits": (["keep-caps", "noroot", "noroot-locked", "no-setuid-fixup"], ["KEEP-CAPS", "foo", "~"]),
    "UMask": (["0077", "077", "22", "0", "7777", "00027"], ["8", "0o77", "+077", "17777", "-1", "0x1f"]),
    "ReadOnlyPaths": (_PATH_WORDS[:6], _PATH_WORDS[6:]),
    "InaccessiblePaths": (_PATH_WORDS[:6], _PATH_WORDS[6:]),
    "ExecPaths": (_PATH_WORDS[:6], _PATH_WORDS[6:]),
    "NoExecPaths": (_PATH_WORDS[:6], _PATH_WORDS[6:]),
    "TemporaryFileSystem": (["/var", "/var:ro", "/run:mode=0755,size=10M", "/srv:nosuid,nodev"],
                            ["var", "-/var", "/var:bogus", "/var:size=10%", "/var:"]),
    "BindPaths": (["/a", "/a:/b", "/a:/b:rbind", "-/a:/b:norbind"], ["a", "/a:b", "/a:/b:ro", "/a::rbind"]),
    "BindReadOnlyPaths": (["/a", "/a:/b", "-/a"], ["/a:-/b", "/a:/b:", "/a/:/b"]),
    "RootDirectory": (["/srv/root", "/"], ["srv", "/srv/", "/srv/%n"]),
    "RestrictAddressFamilies": (["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", "none"],
                                ["AF_FOO", "af_unix", "AF_UNSPEC", "inet"]),
    "RestrictFileSystems": (["ext4", "btrfs", "@basic-api", "tmpfs", "@common-block"], ["EXT4", "@foo", "ext5"]),
    "RestrictNamespaces": (["yes", "no", "mnt", "net", "user", "time", "cgroup"], ["MNT", "foo", "namespace"]),
    "SystemCallFilter": (["@system-service", "@privileged", "mount", "umount2", "~mount:EPERM",
                          "~@mount:ENOENT kill:EACCES reboot:kill"],
                         ["foo", "@sandbox", "MOUNT", "mount:EPERM", "~mount:ENOFOO", "~mount:0"]),
    "SystemCallLog": (["@system-service", "mount", "@privileged"], ["mount:EPERM", "foo"]),
    "SystemCallErrorNumber": (["EPERM", "EACCES", "1", "4095", "kill"], ["0", "4096", "log", "eperm", "EFOO"]),
    "SystemCallArchitectures": (["native", "x86-64", "x86", "x32", "arm64"], ["NATIVE", "loongarch64", "amd64"]),
    "DevicePolicy": (["auto", "closed", "strict"], ["yes", "Closed", "open"]),
    "DeviceAllow": (["/dev/null", "/dev/null rw", "char-pts rwm", "block-loop r", "/dev/sd*"],
                    ["/dev/null x", "/run/x r", "/dev/null r w", "/dev/%k"]),
    "IPAddressAllow": (["any", "localhost", "10.0.0.0/8", "::1", "fe80::/10", "192.168.1.1"],
                       ["10.0.0.0/33", "10.0.0.256", "10.0.0.0/08", "[::1]", "fe80::1%eth0"]),
    "IPAddressDeny": (["any", "link-local", "multicast", "0.0.0.0/0"], ["all", "10.0.0"]),
    "SocketBindAllow": (["any", "tcp:80", "ipv4:tcp:80", "udp:1000-2000", "ipv6:any"],
                        ["tcp:0", "tcp:65536", "tcp:80-70", "TCP:80", "any:80", "tcp:080"]),
    "SocketBindDeny": (["any", "ipv6:udp:53"], ["tcp", "foo"]),
    "RestrictNetworkInterfaces": (["lo", "eth0", "wlan0", "br-lan"], ["a" * 16, "lo/", "lo:1", "."]),
    "MemoryMax": (["512M", "1G", "1.5G", "20%", "infinity", "1024", "50.5%"],
                  ["0", "0%", "101%", "512m", "1k", "16E", "0.5", "50.555%"]),
    "MemoryHigh": (["256M", "10%", "infinity"], ["20%%", "-1", "1.0.0G"]),
    "TasksMax": (["64", "infinity", "50%", "1"], ["0", "1.5", "101%", "1k", "-1"]),
    "CPUQuota": (["50%", "200%", "0.5%", "1%"], ["0%", "50", "50%%", "0.001%", "50.555%"]),
    "IOWeight": (["1", "100", "10000"], ["0", "10001", "default", "1.0", "0100"]),
    "KeyringMode": (["inherit", "private", "shared"], ["yes", "Private", ""]),
    "ProtectSystem": (["full", "strict", "yes", "no", "true"], ["FULL", "read-only", "Strict"]),
    "ProtectHome": (["read-only", "tmpfs", "yes", "no"], ["READ-ONLY", "tmp"]),
    "ProtectProc": (["noaccess", "invisible", "ptraceable", "default"], ["yes", "Invisible"]),
    "ProcSubset": (["all", "pid"], ["yes", "PID"]),
    "MountFlags": (["shared", "slave", "private"], ["yes", "rshared"]),
    "PrivateTmp": (_BOOL_WORDS[:12], ["disconnected", *_BOOL_WORDS[12:]]),
    "PrivateUsers": (_BOOL_WORDS[:12], ["self", "identity", "full", *_BOOL_WORDS[12:]]),
    "ProtectControlGroups": (_BOOL_WORDS[:12], ["private", "strict", *_BOOL_WORDS[12:]]),
}  # fmt: skip
for _name in directives.DIRECTIVES:
    WORDS.setdefault(_name, (_BOOL_WORDS[:12], _BOOL_WORDS[12:]))


def values(name: str) -> st.SearchStrategy[str]:
    good, near = WORDS[name]
    word = st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(near))
    words = st.lists(word, min_size=1, max_size=3).map(" ".join)
    return st.one_of(
        st.sampled_from(good),
        words,
        words.map(lambda w: "~" + w),
        st.sampled_from(["", "~", " ", "%", "$"]),
        st.builds(
            lambda w, c: w + c, st.sampled_from(good), st.sampled_from(["%", "$", " ", "\\"])
        ),
    )


def corpus(per_directive: int) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    @settings(
        max_examples=per_directive * len(directives.DIRECTIVES),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(
        st.sampled_from(sorted(directives.DIRECTIVES)).flatmap(
            lambda name: st.tuples(st.just(name), values(name))
        )
    )
    def collect(pair: tuple[str, str]) -> None:
        found.append(pair)

    collect()
    # Every listed word on its own, too.
    for name, (good, near) in WORDS.items():
        found += [(name, w) for w in good + near]
    return list(dict.fromkeys(found))


CORPUS = corpus(40)


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_accepted_values_load_without_a_warning(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    chosen = [(n, v) for n, v in CORPUS if accepted(n, v)]
    units = {f"v{i}.service": unit(f"{n}={v}") for i, (n, v) in enumerate(chosen)}
    found = era.verify_files(units)
    warned = [(chosen[i], found[f"v{i}.service"]) for i in range(len(chosen))]
    warned = [w for w in warned if w[1]]
    assert not warned, f"{len(warned)} accepted values warned, e.g. {warned[:5]}"
    assert found[""] == [], found[""]
    # The corpus exercises every directive on both sides of the line.
    for name in directives.DIRECTIVES:
        mine = [v for n, v in CORPUS if n == name]
        assert any(accepted(name, v) for v in mine), name
        assert not all(accepted(name, v) for v in mine), name


@pytest.mark.parametrize(
    ("name", "value"),
    [(n, w) for n, (good, _near) in sorted(WORDS.items()) for w in good],
    ids=lambda x: str(x),
)
def test_common_spellings_are_accepted(name: str, value: str) -> None:
    # Each of these is read by both eras without a warning (the test above loads them all).
    assert accepted(name, value), directives.value_text(name, value)


def test_a_list_for_a_single_valued_directive_is_refused(tmp_path: Any) -> None:
    from ostree_autocleanup.generator.config.load import load_config
    from ostree_autocleanup.generator.errors import ConfigErrors

    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nsandbox:\n  directives:\n    ProtectSystem: [full, strict]\n")
    with pytest.raises(ConfigErrors, match="takes one value"):
        load_config([str(path)])


def test_every_directive_has_generated_values() -> None:
    by_name = {n: [v for m, v in CORPUS if m == n] for n in directives.DIRECTIVES}
    assert all(len(v) >= 20 for v in by_name.values()), {n: len(v) for n, v in by_name.items()}
    assert len(list(itertools.chain(*by_name.values()))) == len(CORPUS)
