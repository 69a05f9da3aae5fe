"""Words for generating sandbox.directives values: for each directive, words that belong and
words near them (typos, other eras' values, forms systemd refuses). Shared by the directive
value tests and the config property test."""

from __future__ import annotations

from hypothesis import strategies as st

from ostree_autocleanup.generator.config import directives, systemdnames
from ostree_autocleanup.generator.config.directivevalues import BOOLEANS

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
