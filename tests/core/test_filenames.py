"""filenames.py called directly: the names a config makes, the limit each one meets first, and
the message that names it. tests/installer/test_file_name_limits.py proves the limits with the
real writers; these pin each rule and message, so that a check dropped fails a named case."""

from __future__ import annotations

from ostree_autocleanup.generator.config import filenames

# 255 bytes less what the strictest writer (install's temporary name) adds around a file name:
# ".ostree-autocleanup-tmp." before it and "." plus 8 random characters after it.
LONGEST_FILE = 255 - len(".ostree-autocleanup-tmp.") - len(".12345678")


def test_each_writers_temporary_name() -> None:
    assert list(filenames.temporary_names("u.service")) == [
        ("install and render --output", ".ostree-autocleanup-tmp.u.service.xxxxxxxx"),
        ("the boot-time generator", ".#u.service.tmp"),
        ("systemctl (for the .wants/ link)", ".#u.service" + "x" * 16),
    ]


def test_the_files_a_name_makes() -> None:
    assert filenames.files_of_prefix("os") == (
        ("the cleanup unit", "os-autocleanup.service", True),
        ("the cleanup timer", "os-autocleanup.timer", True),
        ("the finalize drop-in", "99-os-autocleanup.conf", False),
        ("the preset file", "99-os-autocleanup.preset", False),
    )


def test_the_longest_names() -> None:
    assert LONGEST_FILE == 222
    assert filenames.longest_prefix() == LONGEST_FILE - len("99--autocleanup.preset") == 200
    assert filenames.longest_unit_with(".d") == LONGEST_FILE - len(".d") == 220
    assert filenames.longest_unit_with(".wants") == LONGEST_FILE - len(".wants") == 216


def test_prefix_problem_names_the_file_and_the_writer() -> None:
    assert filenames.prefix_problem("n" * 200) is None
    assert filenames.prefix_problem("n" * 201) == (
        "makes the temporary name that install and render --output writes the preset file "
        "under longer than the 255 bytes a file name may have"
    )
    # Bytes, not characters: 112 two-byte characters make a 224-byte unit file name.
    assert filenames.prefix_problem("é" * 100) is None
    assert filenames.prefix_problem("é" * 112) == (
        "makes the temporary name that install and render --output writes the cleanup unit "
        "under longer than the 255 bytes a file name may have"
    )
    assert filenames.prefix_problem("é" * 120) == (
        "makes the cleanup unit's file name longer than the 255 bytes a file name may have"
    )


def test_directory_problem() -> None:
    assert filenames.directory_problem("u" * 220, ".d") is None
    assert filenames.directory_problem("u" * 221, ".d") == (
        "makes the temporary name that install and render --output writes the .d directory "
        "under longer than the 255 bytes a file name may have"
    )
    assert filenames.directory_problem("u" * 254, ".wants") == (
        "makes the .wants directory's file name longer than the 255 bytes a file name may have"
    )


def test_problem_checks_the_unit_name_then_the_bytes_then_each_writer() -> None:
    problem = filenames._problem
    assert problem("it", "u" * 222, True) is None
    assert problem("it", "u" * 256, True) == (
        "makes it's name longer than systemd's limit of 255 characters"
    )
    assert problem("it", "u" * 256, False) == (
        "makes it's file name longer than the 255 bytes a file name may have"
    )
    assert problem("it", "é" * 128, True) == (
        "makes it's file name longer than the 255 bytes a file name may have"
    )
    assert problem("it", "u" * 255, True) == (
        "makes the temporary name that install and render --output writes it under longer "
        "than the 255 bytes a file name may have"
    )
