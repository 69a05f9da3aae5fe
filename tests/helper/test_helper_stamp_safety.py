"""Whatever is planted at or on the way to the stamp, the helper never follows a link out of the
sysroot, never hangs, never writes through a planted file, and reads its numbers one way.

No root, ostree or libostree: the helper runs as the units run it (a process), on a sysroot that
is a plain directory, with a stand-in `ostree` command for the ostree-cli backend that records
that it ran. Each case names what the helper did before these rules.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from helper_support import helper, helper_argv, need_root
from plain_support import Work, fields, last_record, options, plain_sysroot, temp_files, use_work

from ostree_autocleanup.helper import cleanup, mark

SECRET = "password=hunter2\n"
# Long enough for a helper that waits forever to be caught, short for one that does not.
HANG_SECONDS = 15


class Box:
    """A plain sysroot, a directory outside it, and a stand-in ostree that leaves a trace."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.sysroot = plain_sysroot(base)
        self.stamp = self.sysroot / ".cleanup"
        self.outside = base / "outside"
        self.outside.mkdir()
        self.state = base / "state"
        self.ran = base / "ostree-ran"
        self.ostree = base / "fake-ostree"
        self.ostree.write_text(f'#!/bin/sh\necho "$@" >> {self.ran}\n')
        self.ostree.chmod(0o755)

    def run(self, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        args = [command, "--sysroot", str(self.sysroot), *extra]
        if command in ("cleanup", "status"):
            args += ["--state-dir", str(self.state)]
        if command == "cleanup":
            args += ["--backend", "ostree-cli", "--ostree", str(self.ostree)]
        try:
            return helper(*args, timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{command}` hung for {HANG_SECONDS}s")

    def work_ran(self) -> bool:
        return self.ran.exists()

    def snapshot(self) -> dict[str, tuple[int, bytes | None]]:
        """Every entry outside the sysroot: its mode and, for a regular file, its content."""
        out: dict[str, tuple[int, bytes | None]] = {}
        for top, dirs, files in os.walk(self.outside):
            for name in dirs + files:
                path = os.path.join(top, name)
                st = os.lstat(path)
                content = Path(path).read_bytes() if stat.S_ISREG(st.st_mode) else None
                out[os.path.relpath(path, self.outside)] = (st.st_mode, content)
        return out


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --- anything but a regular file at the stamp's path ---------------------------------------------
# Before: open() of a FIFO waited for a writer forever (mark at shutdown, cleanup, status); a link
# was followed; a dangling link read as "no stamp".


def _plant(box: Box, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(box.stamp)
    elif kind == "fifo-outside":
        os.mkfifo(box.outside / "fifo")
        box.stamp.symlink_to(box.outside / "fifo")
    elif kind == "dangling-link":
        box.stamp.symlink_to(box.outside / "nothing")
    elif kind == "directory":
        box.stamp.mkdir()
    elif kind == "socket":
        # Relative: a socket's path must fit in 108 bytes.
        cwd = os.getcwd()
        os.chdir(box.sysroot)
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(box.stamp.name)
            sock.close()
        finally:
            os.chdir(cwd)
    else:
        raise AssertionError(kind)


KINDS = ["fifo", "fifo-outside", "dangling-link", "directory", "socket"]


@pytest.mark.parametrize("kind", KINDS)
def test_cleanup_refuses_a_stamp_that_is_not_a_regular_file(box: Box, kind: str) -> None:
    _plant(box, kind)
    before = box.snapshot()
    mode = os.lstat(box.stamp).st_mode
    result = box.run("cleanup")
    assert result.returncode == 1
    line = _one_error(result)
    assert f"cannot read the stamp {box.stamp}: it is " in line
    assert "not a regular file" in line
    assert not box.work_ran()
    assert os.lstat(box.stamp).st_mode == mode, "the planted file was replaced or removed"
    assert box.snapshot() == before
    assert last_record(box.state) is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_status_refuses_a_stamp_that_is_not_a_regular_file(
    box: Box, kind: str, as_json: bool
) -> None:
    _plant(box, kind)
    result = box.run("status", *(["--json"] if as_json else []))
    assert result.returncode == 1
    assert "not a regular file" in _one_error(result)
    assert result.stdout == ""


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "directory"])
def test_mark_replaces_what_is_not_a_regular_file_without_opening_it(box: Box, kind: str) -> None:
    # Mark's job at shutdown is to leave a stamp: the rename replaces the planted entry itself
    # (a link, never its target), after a warning.
    _plant(box, kind)
    before = box.snapshot()
    result = box.run("mark")
    assert result.returncode == 0, result.stderr
    assert "cannot read the existing stamp" in result.stderr
    assert "replacing it" in result.stderr
    assert stat.S_ISREG(os.lstat(box.stamp).st_mode)
    assert fields(box.stamp) is not None and fields(box.stamp)["attempts"] == "0"  # type: ignore[index]
    assert box.snapshot() == before
    assert temp_files(box.sysroot) == []


@pytest.mark.root
@pytest.mark.parametrize("command", ["cleanup", "status"])
def test_a_device_node_at_the_stamp_is_refused(box: Box, command: str) -> None:
    need_root()
    os.mknod(box.stamp, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
    result = box.run(command)
    assert result.returncode == 1
    assert "it is a character device, not a regular file" in _one_error(result)
    assert stat.S_ISCHR(os.lstat(box.stamp).st_mode)
    assert not box.work_ran()


def test_mark_does_not_replace_a_directory_and_says_so(box: Box) -> None:
    box.stamp.mkdir()
    result = box.run("mark")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error: " in line]
    assert len(errors) == 1, result.stderr
    assert f"cannot write the stamp {box.stamp}: Is a directory" in errors[0]
    assert box.stamp.is_dir()
    assert temp_files(box.sysroot) == []


def test_status_never_hangs_on_a_state_file_that_is_a_fifo(box: Box) -> None:
    box.state.mkdir()
    os.mkfifo(box.state / "last-cleanup.json")
    result = box.run("status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["last"] is None


# --- links: the stamp, and every directory on its way, inside the sysroot -------------------------


def test_status_never_prints_what_a_stamp_link_points_to(box: Box) -> None:
    # Before: `status --json` printed the target's key=value lines.
    (box.outside / "secret").write_text(SECRET)
    box.stamp.symlink_to(box.outside / "secret")
    result = box.run("status", "--json")
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr
    assert "symbolic link" in _one_error(result)


def test_mark_never_copies_what_a_stamp_link_points_to(box: Box) -> None:
    # Before: the target's lines were read as the old stamp's fields and kept in the new one.
    (box.outside / "secret").write_text(SECRET)
    box.stamp.symlink_to(box.outside / "secret")
    result = box.run("mark")
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in box.stamp.read_text()
    assert not box.stamp.is_symlink()
    assert (box.outside / "secret").read_text() == SECRET


def test_cleanup_never_follows_a_stamp_link(box: Box) -> None:
    # Before: the link was read as the stamp, the cleanup ran, and the link was removed.
    (box.outside / "stamp").write_text("attempts=0\n")
    box.stamp.symlink_to(box.outside / "stamp")
    result = box.run("cleanup")
    assert result.returncode == 1
    assert "it is a symbolic link, not a regular file" in _one_error(result)
    assert not box.work_ran()
    assert box.stamp.is_symlink()
    assert (box.outside / "stamp").read_text() == "attempts=0\n"


def _link_on_the_way(box: Box, depth: int, inside: bool) -> Path:
    """`--stamp` whose directory `depth` levels below the sysroot passes a link."""
    target = box.sysroot / "real" if inside else box.outside
    target.mkdir(exist_ok=True)
    parent = box.sysroot
    for level in range(depth - 1):
        parent = parent / f"d{level}"
        parent.mkdir()
    (parent / "link").symlink_to(target)
    return parent / "link" / ".cleanup"


WAYS = [(1, False), (3, False), (1, True)]
WAY_IDS = ["link-to-outside", "deep-link-to-outside", "link-inside-the-sysroot"]


@pytest.mark.parametrize("depth,inside", WAYS, ids=WAY_IDS)
def test_mark_never_writes_through_a_linked_directory(box: Box, depth: int, inside: bool) -> None:
    # Before: the stamp was written wherever the link led.
    stamp = _link_on_the_way(box, depth, inside)
    before = box.snapshot()
    result = box.run("mark", "--stamp", str(stamp))
    assert result.returncode == 1
    line = _one_error(result)
    assert f"cannot write the stamp {stamp}: " in line
    assert "is a symbolic link, and the helper follows none below the sysroot" in line
    assert box.snapshot() == before
    assert not (box.sysroot / "real" / ".cleanup").exists()


@pytest.mark.parametrize("depth,inside", WAYS, ids=WAY_IDS)
def test_cleanup_never_deletes_through_a_linked_directory(
    box: Box, depth: int, inside: bool
) -> None:
    # Before: the file the link led to was taken for the stamp, cleaned for, and deleted.
    stamp = _link_on_the_way(box, depth, inside)
    where = (box.sysroot / "real") if inside else box.outside
    (where / ".cleanup").write_text("attempts=0\n")
    before = box.snapshot()
    result = box.run("cleanup", "--stamp", str(stamp))
    assert result.returncode == 1
    assert "is a symbolic link" in _one_error(result)
    assert not box.work_ran()
    assert (where / ".cleanup").read_text() == "attempts=0\n"
    assert box.snapshot() == before


@pytest.mark.parametrize("depth,inside", WAYS, ids=WAY_IDS)
def test_status_never_reads_through_a_linked_directory(box: Box, depth: int, inside: bool) -> None:
    stamp = _link_on_the_way(box, depth, inside)
    where = (box.sysroot / "real") if inside else box.outside
    (where / ".cleanup").write_text(SECRET)
    result = box.run("status", "--json", "--stamp", str(stamp))
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["FIFO", "regular file"])
def test_a_file_on_the_way_is_not_a_directory(box: Box, kind: str) -> None:
    if kind == "FIFO":
        os.mkfifo(box.sysroot / "thing")
    else:
        (box.sysroot / "thing").write_text("")
    result = box.run("mark", "--stamp", str(box.sysroot / "thing" / ".cleanup"))
    assert result.returncode == 1
    assert f"thing is a {kind}, not a directory" in _one_error(result)


@pytest.mark.parametrize("command", ["mark", "cleanup", "status"])
@pytest.mark.parametrize(
    "where",
    ["outside/.cleanup", "sysroot/../outside/.cleanup", "sysroot", "sysroot/.."],
    ids=["outside", "dot-dot", "the-sysroot-itself", "its-parent"],
)
def test_a_stamp_outside_the_sysroot_is_bad_usage(box: Box, command: str, where: str) -> None:
    # Before: "inside the sysroot" was nobody's check in the helper: mark wrote anywhere.
    stamp = str(box.base) + "/" + where
    before = box.snapshot()
    result = box.run(command, "--stamp", stamp)
    assert result.returncode == 2
    line = _one_error(result)
    assert "is not inside the sysroot" in line
    assert box.snapshot() == before
    assert not box.work_ran()


def test_a_relative_stamp_inside_a_relative_sysroot_is_fine(box: Box) -> None:
    result = subprocess.run(
        helper_argv("mark", "--sysroot", "sysroot", "--stamp", "sysroot/.cleanup"),
        cwd=box.base,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert fields(box.stamp) is not None


def test_a_directory_swapped_for_a_link_after_the_walk_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every operation after the walk is relative to the directory it reached: replacing that
    # directory by a link meanwhile redirects nothing.
    from ostree_autocleanup.helper import machine
    from ostree_autocleanup.helper.stamp import StampFile

    box = Box(tmp_path)
    (box.sysroot / "d").mkdir()
    stamp_file = StampFile.open(str(box.sysroot), str(box.sysroot / "d" / ".cleanup"))
    try:
        (box.sysroot / "d").rename(box.sysroot / "d-moved")
        (box.sysroot / "d").symlink_to(box.outside)
        assert machine.mark(stamp_file, "testos/abc.0") == 0
    finally:
        stamp_file.close()
    assert list(box.outside.iterdir()) == []
    assert fields(box.sysroot / "d-moved" / ".cleanup") is not None


# --- the temporary file ---------------------------------------------------------------------------
# Before: `.NAME.tmp.PID`, opened without O_EXCL: a hard link planted there was truncated and
# written (the file it links to was overwritten), a symlink there made every mark fail.


def _predictable_names(name: str) -> list[str]:
    """The temporary names a writer in this process might try first: the old `.tmp.PID`, and the
    new random one, made predictable here by fixing os.urandom."""
    return [f".{name}.tmp.{os.getpid()}", f".{name}.tmp." + "00" * 8]


@pytest.fixture
def fixed_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.urandom returns zeros first (a name the test can plant at), then real randomness."""
    real = os.urandom
    calls = {"n": 0}

    def urandom(n: int) -> bytes:
        calls["n"] += 1
        return bytes(n) if calls["n"] == 1 else real(n)

    monkeypatch.setattr(os, "urandom", urandom)


@pytest.fixture
def zero_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.urandom returns zeros every time: every writer tries the one name first."""
    monkeypatch.setattr(os, "urandom", bytes)


@pytest.mark.parametrize("planted", ["hard-link", "symlink"])
def test_mark_never_writes_through_a_file_planted_at_its_temporary_name(
    tmp_path: Path, fixed_random: None, planted: str
) -> None:
    box = Box(tmp_path)
    victim = box.outside / "victim"
    victim.write_text(SECRET)
    for name in _predictable_names(".cleanup"):
        if planted == "hard-link":
            os.link(victim, box.sysroot / name)
        else:
            (box.sysroot / name).symlink_to(victim)
    assert mark.run_mark(str(box.sysroot), str(box.stamp), None) == 0
    assert victim.read_text() == SECRET
    assert fields(box.stamp) is not None and "password" not in fields(box.stamp)  # type: ignore[operator]
    for name in _predictable_names(".cleanup"):
        assert (box.sysroot / name).is_symlink() == (planted == "symlink")
        assert os.path.samefile(box.sysroot / name, victim)


def test_cleanup_never_writes_through_a_hard_link_at_the_state_files_temporary_name(
    tmp_path: Path, zero_random: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Box(tmp_path)
    victim = box.outside / "victim"
    victim.write_text(SECRET)
    box.state.mkdir()
    for name in _predictable_names("last-cleanup.json"):
        os.link(victim, box.state / name)
    box.stamp.write_text("attempts=0\n")
    use_work(monkeypatch, Work("ok"))
    # With no other name to try, the record is lost (a warning), never written through.
    assert cleanup.run_cleanup(options(box.sysroot, box.state)) == 0
    assert victim.read_text() == SECRET
    assert fields(box.stamp) is None


def test_the_temporary_name_fits_the_filesystem_for_a_long_stamp_name(box: Box) -> None:
    # Before: `.NAME.tmp.PID` was longer than NAME_MAX for a stamp name near the limit.
    stamp = box.sysroot / ("s" * 250)
    result = box.run("mark", "--stamp", str(stamp))
    assert result.returncode == 0, result.stderr
    assert fields(stamp) is not None
    assert temp_files(box.sysroot) == []


def test_stale_temporary_files_of_killed_writers_are_swept(box: Box) -> None:
    old = box.sysroot / ("..cleanup.tmp." + "ab" * 8)
    fresh = box.sysroot / ("..cleanup.tmp." + "cd" * 8)
    other = box.sysroot / "..cleanup.tmp.notours"
    linked = box.sysroot / ("..cleanup.tmp." + "ef" * 8)
    for path in (old, fresh, other):
        path.write_text("half a stamp")
    linked.symlink_to(box.outside)
    for path in (old, other, linked):
        os.utime(path, (1, 1), follow_symlinks=False)
    result = box.run("mark")
    assert result.returncode == 0, result.stderr
    assert not old.exists()
    # A writer at work keeps its file; what is not exactly ours, or not a file, stays.
    assert fresh.exists() and other.exists() and linked.is_symlink()


def test_the_stamp_is_readable_whatever_the_umask(box: Box) -> None:
    # Before: written with the caller's umask (0077 in the cleanup unit): 0600.
    result = subprocess.run(
        [
            "sh",
            "-c",
            'umask 077 && exec "$@"',
            "sh",
            *helper_argv("mark", "--sysroot", str(box.sysroot)),
        ],
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(box.stamp.stat().st_mode) == 0o644


# --- the retry counter: ASCII digits, one parser --------------------------------------------------
# Before: checked with str.isdigit() and converted with int(): `²` passed one and broke the other
# (a crash before every cleanup), `٣` meant 3, a hidden U+2028 line set the count, 5000 digits
# crashed int().

COUNTS = [
    # (stamp text, the count the helper must read (None: corrupt, read as 0))
    ("attempts=²\n", None),
    ("attempts=٣\n", None),
    ("attempts=+1\n", None),
    ("attempts=-1\n", None),
    ("attempts=1_0\n", None),
    ("attempts=0x1\n", None),
    ("attempts=1.0\n", None),
    ("attempts=\n", None),
    ("attempts=2\r\n", 2),
    ("attempts= 2 \n", 2),
    ("attempts=0002\n", 2),
    ("attempts=0\ndeployment=x\u2028attempts=3\n", 0),
    ("attempts=0\ndeployment=x\x85attempts=3\n", 0),
    ("attempts=" + "9" * 30 + "\n", "many"),
    ("attempts=" + "9" * 5000 + "\n", "many"),
]


@pytest.mark.parametrize("text,count", COUNTS, ids=[repr(t[:24]) for t, _ in COUNTS])
def test_the_attempt_count_is_ascii_digits_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, count: int | str | None
) -> None:
    box = Box(tmp_path)
    box.stamp.write_text(text)
    work = Work("fail")
    use_work(monkeypatch, work)
    rc = cleanup.run_cleanup(options(box.sysroot, box.state, max_attempts=5))
    assert rc == 1
    record = last_record(box.state)
    assert record is not None
    if count == "many":
        # More than any limit: the helper gives up without running.
        assert work.calls == 0
        assert record["result"] == "gave-up"
        assert fields(box.stamp) is None
    else:
        assert work.calls == 1
        after = fields(box.stamp)
        assert after is not None
        assert after["attempts"] == str((count or 0) + 1)
        assert record["attempt"] == (count or 0) + 1


@pytest.mark.parametrize("text", ["attempts=²\n", "attempts=" + "9" * 5000 + "\n"])
def test_status_reads_the_count_the_same_way(box: Box, text: str) -> None:
    box.stamp.write_text(text)
    result = box.run("status", "--json")
    assert result.returncode == 0, result.stderr
    expected = 0 if "²" in text else 10**20
    assert json.loads(result.stdout)["attempts"] == expected


@pytest.mark.parametrize("value", ["²", "٣", "+3", "3_0", " 3", "3 ", "-1", "0", "1001", "", "3.0"])
def test_max_attempts_is_ascii_digits_in_range(box: Box, value: str) -> None:
    result = box.run("cleanup", f"--max-attempts={value}")
    assert result.returncode == 2
    assert "--max-attempts" in _one_error(result)


@pytest.mark.parametrize("value", ["1", "3", "007", "1000"])
def test_max_attempts_accepts_plain_counts(box: Box, value: str) -> None:
    assert box.run("cleanup", "--max-attempts", value).returncode == 0


# --- --lock-timeout --------------------------------------------------------------------------------
# Before: float(): `nan` made every deadline comparison false (a wait forever), `inf` and `1e999`
# waited forever too, `٣` meant 3.

BAD_SECONDS = [
    "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "1e3", "-1", "٣", "1_0", " 5", "",
    ".", "86401", "99999999999999999999999",
]  # fmt: skip


@pytest.mark.parametrize("command", ["mark", "cleanup"])
@pytest.mark.parametrize("value", BAD_SECONDS)
def test_lock_timeout_must_be_plain_seconds(box: Box, command: str, value: str) -> None:
    result = box.run(command, f"--lock-timeout={value}")
    assert result.returncode == 2
    line = _one_error(result)
    assert "--lock-timeout" in line
    assert repr(value) in line
    assert not box.stamp.exists()


@pytest.mark.parametrize("value", ["0", "0.5", ".5", "5.", "600", "86400"])
def test_lock_timeout_accepts_plain_seconds(box: Box, value: str) -> None:
    assert box.run("mark", "--lock-timeout", value).returncode == 0


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_lock_timeout_nan_or_inf_never_waits_forever(box: Box, value: str) -> None:
    # A cleanup holds the stamp directory's lock; before, mark then waited forever.
    fd = os.open(box.sysroot, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = box.run("mark", "--lock-timeout", value)
    finally:
        os.close(fd)
    assert result.returncode == 2
