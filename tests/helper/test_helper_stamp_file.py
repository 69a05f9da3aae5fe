"""stamp.py called in-process, without root: the stamp's text both ways, and StampFile's
operations on a real directory, reopening it after a remount included. The program-level tests
(test_helper_stamp_safety.py) run the helper as a program; these pin each piece to the byte."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from ostree_autocleanup.helper import confined, stamp

# --- the text ------------------------------------------------------------------------------


def test_attempts_absent_counted_and_corrupt() -> None:
    assert stamp.Stamp().attempts == 0
    assert stamp.Stamp().valid_attempts is True
    assert stamp.Stamp({"attempts": "3"}).attempts == 3
    assert stamp.Stamp({"attempts": "3"}).valid_attempts is True
    for corrupt in ("-1", "x", "", "3 ", "٣"):
        assert stamp.Stamp({"attempts": corrupt}).attempts == 0, corrupt
        assert stamp.Stamp({"attempts": corrupt}).valid_attempts is False, corrupt


def test_attempts_setter_and_deployment() -> None:
    fields = {"deployment": "os/abc.0"}
    s = stamp.Stamp(fields)
    s.attempts = 7
    assert s.fields == {"deployment": "os/abc.0", "attempts": "7"}
    # The stamp keeps a copy: the caller's dict is not changed behind its back.
    assert fields == {"deployment": "os/abc.0"}
    assert s.deployment == "os/abc.0"
    assert stamp.Stamp().deployment is None


def test_render_puts_the_known_keys_first_then_the_others_sorted() -> None:
    s = stamp.Stamp({"zeta": "1", "attempts": "2", "alpha": "x", "marked": "M", "deployment": "D"})
    assert (
        s.render()
        == (stamp.HEADER + "marked=M\ndeployment=D\nattempts=2\nalpha=x\nzeta=1\n").encode()
    )
    assert stamp.Stamp().render() == stamp.HEADER.encode()
    assert stamp.Stamp({"b": "1", "a": "2"}).render() == (stamp.HEADER + "a=2\nb=1\n").encode()


def test_render_keeps_each_value_on_its_line_and_round_trips() -> None:
    s = stamp.Stamp({"deployment": "a\nattempts=0", "note": "x\ry", "raw": "\udcff"})
    text = s.render()
    assert b"deployment=a attempts=0\n" in text
    assert b"note=x y\n" in text
    # Undecodable bytes read from a stamp are written back as they were.
    assert b"raw=\xff\n" in text
    back = stamp.parse(text.decode("utf-8", "surrogateescape"))
    assert back.fields == {"deployment": "a attempts=0", "note": "x y", "raw": "\udcff"}
    assert back.attempts == 0


def test_parse_takes_key_value_lines_and_skips_the_rest() -> None:
    text = (
        "# a comment=with an equals sign\n"
        "\n"
        "  marked = 2026-01-01T00:00:00Z \t\r\n"
        "no equals sign here\n"
        "=empty key\n"
        "deployment=os/a=b.0\n"
        "attempts=1\n"
        "attempts=2\n"
        "\t# indented comment=1\n"
    )
    assert stamp.parse(text).fields == {
        "marked": "2026-01-01T00:00:00Z",
        "": "empty key",
        "deployment": "os/a=b.0",
        "attempts": "2",
    }
    assert stamp.parse("").fields == {}


@pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\x0b", "\x0c", "\x1c", "\r"])
def test_parse_splits_at_newline_alone(separator: str) -> None:
    fields = stamp.parse(f"deployment=a{separator}attempts=9\n").fields
    assert fields == {"deployment": f"a{separator}attempts=9".strip(" \t\r")}
    assert stamp.parse(f"deployment=a{separator}attempts=9\n").attempts == 0


@pytest.mark.parametrize("blank", ["\u00a0", "\u3000", "\x0b", "\x0c"])
def test_parse_trims_ascii_blanks_alone(blank: str) -> None:
    assert stamp.parse(f"{blank}attempts{blank}=5{blank}\n").fields == {
        f"{blank}attempts{blank}": f"5{blank}"
    }
    assert stamp.parse(" \tattempts \t= 5 \t\r\n").fields == {"attempts": "5"}


def test_utc_now_is_an_iso_utc_second() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp.utc_now())


# --- StampFile -----------------------------------------------------------------------------


@pytest.fixture
def sysroot(tmp_path: Path) -> Path:
    (tmp_path / "sysroot").mkdir()
    return tmp_path / "sysroot"


def _same(fd: int, path: Path) -> bool:
    a, b = os.fstat(fd), os.stat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def test_open_anchors_at_the_stamps_directory(sysroot: Path, fds: None) -> None:
    (sysroot / "run").mkdir()
    with stamp.StampFile.open(str(sysroot), str(sysroot / "run" / ".cleanup")) as f:
        assert f.anchor == str(sysroot)
        assert f.path == str(sysroot / "run" / ".cleanup")
        assert f.name == ".cleanup"
        assert _same(f.dirfd, sysroot / "run")
    assert f.dirfd == -1
    f.close()  # a second close does nothing
    assert f.dirfd == -1


@pytest.mark.parametrize("where", ["/etc/.cleanup", "{root}", "{root}/../.cleanup"])
def test_open_refuses_a_stamp_outside_the_sysroot(sysroot: Path, where: str, fds: None) -> None:
    path = where.format(root=sysroot)
    with pytest.raises(ValueError, match=re.escape(f"the stamp {path} is not inside {sysroot}")):
        stamp.StampFile.open(str(sysroot), path)


def test_open_refuses_a_link_and_lets_a_missing_directory_say_so(
    sysroot: Path, tmp_path: Path, fds: None
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (sysroot / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(confined.Unsafe):
        stamp.StampFile.open(str(sysroot), str(sysroot / "link" / ".cleanup"))
    with pytest.raises(FileNotFoundError):
        stamp.StampFile.open(str(sysroot), str(sysroot / "missing" / ".cleanup"))


def test_write_read_exists_remove(sysroot: Path, fds: None) -> None:
    path = sysroot / ".cleanup"
    with stamp.StampFile.open(str(sysroot), str(path)) as f:
        assert f.exists() is False
        assert f.read() is None
        assert f.remove() is False
        f.write(stamp.Stamp({"attempts": "1", "deployment": "os/x.0"}))
        assert f.exists() is True
        assert path.read_bytes() == (stamp.HEADER + "deployment=os/x.0\nattempts=1\n").encode()
        assert stat.S_IMODE(path.stat().st_mode) == stamp.MODE == 0o644
        got = f.read()
        assert got is not None and got.fields == {"attempts": "1", "deployment": "os/x.0"}
        assert f.remove() is True
        assert not path.exists()
        assert f.exists() is False


def test_an_empty_stamp_is_a_stamp_and_bad_bytes_are_replaced(sysroot: Path, fds: None) -> None:
    path = sysroot / ".cleanup"
    path.write_bytes(b"")
    with stamp.StampFile.open(str(sysroot), str(path)) as f:
        got = f.read()
        assert got is not None and got.fields == {} and got.attempts == 0
        path.write_bytes(b"note=\xff\nattempts=4\n")
        got = f.read()
        assert got is not None and got.fields == {"note": "\ufffd", "attempts": "4"}


def test_read_stops_at_the_limit(sysroot: Path, fds: None) -> None:
    path = sysroot / ".cleanup"
    pad = "x" * (stamp.READ_LIMIT - len("attempts=3\n"))
    path.write_text(f"attempts=3\n{pad}attempts=9\n")
    with stamp.StampFile.open(str(sysroot), str(path)) as f:
        got = f.read()
    assert got is not None and got.attempts == 3


def test_something_else_at_the_path_exists_and_is_refused(
    sysroot: Path, tmp_path: Path, fds: None
) -> None:
    (tmp_path / "target").write_text("attempts=5\n")
    (sysroot / ".cleanup").symlink_to(tmp_path / "target")
    with stamp.StampFile.open(str(sysroot), str(sysroot / ".cleanup")) as f:
        assert f.exists() is True
        with pytest.raises(confined.Unsafe):
            f.read()
        # Removing it removes the link, never its target.
        assert f.remove() is True
    assert (tmp_path / "target").read_text() == "attempts=5\n"
    os.mkfifo(sysroot / ".cleanup")
    with (
        stamp.StampFile.open(str(sysroot), str(sysroot / ".cleanup")) as f,
        pytest.raises(confined.Unsafe),
    ):
        f.read()


def test_sweep_removes_stale_temporaries_of_the_stamp(sysroot: Path, fds: None) -> None:
    # A temporary is named ".NAME.tmp.RANDOM": two dots before a stamp named ".cleanup".
    stale = sysroot / "..cleanup.tmp.00000000000000aa"
    stale.write_bytes(b"")
    os.utime(stale, (0, 0))
    (sysroot / ".other.tmp.00000000000000aa").write_bytes(b"")
    os.utime(sysroot / ".other.tmp.00000000000000aa", (0, 0))
    with stamp.StampFile.open(str(sysroot), str(sysroot / ".cleanup")) as f:
        assert f.sweep() == [stale.name]
    assert sorted(os.listdir(sysroot)) == [".other.tmp.00000000000000aa"]


def test_reopen_reaches_the_same_directory_by_a_new_descriptor(sysroot: Path, fds: None) -> None:
    with stamp.StampFile.open(str(sysroot), str(sysroot / ".cleanup")) as f:
        old = f.dirfd
        f.reopen()
        assert _same(f.dirfd, sysroot)
        # The new descriptor is opened before the old one is closed, so the numbers differ,
        # and the old one is closed (nothing else opened a descriptor meanwhile).
        assert f.dirfd != old
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(old)
        f.write(stamp.Stamp())
        assert (sysroot / ".cleanup").exists()


def test_reopen_refuses_a_directory_replaced_meanwhile(tmp_path: Path, fds: None) -> None:
    root = tmp_path / "sysroot"
    (root / "d").mkdir(parents=True)
    f = stamp.StampFile.open(str(root), str(root / "d" / ".cleanup"))
    try:
        old = f.dirfd
        os.rename(root / "d", tmp_path / "moved")
        (root / "d").mkdir()
        with pytest.raises(confined.Unsafe) as caught:
            f.reopen()
        assert caught.value.strerror == f"{root / 'd'} was replaced meanwhile"
        assert caught.value.filename == str(root / "d")
        assert caught.value.errno == 0
        # Still the old directory, and still open: nothing is written to the new one.
        assert f.dirfd == old and _same(f.dirfd, tmp_path / "moved")
        f.write(stamp.Stamp())
        assert (tmp_path / "moved" / ".cleanup").exists()
        assert not (root / "d" / ".cleanup").exists()
    finally:
        f.close()
