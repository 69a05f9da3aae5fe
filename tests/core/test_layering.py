"""Which config files apply, and how they combine (systemd's drop-in rules)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ostree_autocleanup.generator import cli
from ostree_autocleanup.generator.config.layering import find_config_files
from ostree_autocleanup.generator.config.load import load_config


def put(root: Path, path: str, text: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def test_no_config_anywhere_gives_the_embedded_default(tmp_path: Path) -> None:
    assert find_config_files(str(tmp_path)) == []
    config = load_config(root=str(tmp_path))
    assert (config.name, config.sysroot, config.stamp, config.sources) == (
        "ostree",
        "/sysroot",
        "/sysroot/.cleanup",
        (),
    )
    assert config.cleanup.mode == "full" and config.cleanup.max_attempts == 3
    assert config.sandbox.read_write_paths == ("/sysroot", "/boot")


def test_etc_overrides_run_overrides_usr_lib(tmp_path: Path) -> None:
    put(tmp_path, "/usr/lib/ostree-autocleanup/config.yaml", "version: 1\nname: vendor\n")
    assert load_config(root=str(tmp_path)).name == "vendor"
    put(tmp_path, "/run/ostree-autocleanup/config.yaml", "version: 1\nname: runtime\n")
    assert load_config(root=str(tmp_path)).name == "runtime"
    put(tmp_path, "/etc/ostree-autocleanup/config.yaml", "version: 1\ncleanup:\n  mode: prune\n")
    config = load_config(root=str(tmp_path))
    # The /etc file replaces the lower ones entirely: name falls back to the default.
    assert (config.name, config.cleanup.mode) == ("ostree", "prune")
    assert config.sources == ("/etc/ostree-autocleanup/config.yaml",)


def test_drop_ins_apply_in_lexical_order_across_directories(tmp_path: Path) -> None:
    put(tmp_path, "/usr/lib/ostree-autocleanup/config.yaml", "version: 1\nname: vendor\n")
    put(
        tmp_path,
        "/usr/lib/ostree-autocleanup/config.d/10-vendor.yaml",
        "version: 1\ncleanup:\n  max-attempts: 7\n",
    )
    put(
        tmp_path,
        "/etc/ostree-autocleanup/config.d/20-admin.yaml",
        "version: 1\ncleanup:\n  max-attempts: 9\n  timeout: 1h\n",
    )
    put(
        tmp_path,
        "/run/ostree-autocleanup/config.d/05-early.yaml",
        "version: 1\ncleanup:\n  timeout: 5min\n",
    )
    config = load_config(root=str(tmp_path))
    assert (config.name, config.cleanup.max_attempts, config.cleanup.timeout) == ("vendor", 9, "1h")
    assert config.sources == (
        "/usr/lib/ostree-autocleanup/config.yaml",
        "/run/ostree-autocleanup/config.d/05-early.yaml",
        "/usr/lib/ostree-autocleanup/config.d/10-vendor.yaml",
        "/etc/ostree-autocleanup/config.d/20-admin.yaml",
    )


def test_a_drop_in_in_etc_masks_the_same_name_below(tmp_path: Path) -> None:
    put(tmp_path, "/usr/lib/ostree-autocleanup/config.d/50-x.yaml", "version: 1\nname: vendor\n")
    put(tmp_path, "/etc/ostree-autocleanup/config.d/50-x.yaml", "version: 1\nname: admin\n")
    assert load_config(root=str(tmp_path)).name == "admin"
    # An empty file, or a link to /dev/null, masks it without setting anything.
    etc = tmp_path / "etc/ostree-autocleanup/config.d/50-x.yaml"
    etc.unlink()
    etc.symlink_to("/dev/null")
    assert load_config(root=str(tmp_path)).name == "ostree"
    assert find_config_files(str(tmp_path)) == []


def test_files_given_with_c_replace_the_layered_ones(tmp_path: Path) -> None:
    put(tmp_path, "/etc/ostree-autocleanup/config.yaml", "version: 1\nname: layered\n")
    given = put(tmp_path, "/given.yaml", "version: 1\nname: given\n")
    assert load_config([str(given)], root=str(tmp_path)).name == "given"


def test_a_bad_drop_in_is_reported_with_its_path_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = put(
        tmp_path,
        "/etc/ostree-autocleanup/config.d/90-bad.yaml",
        "version: 1\ncleanup:\n  mode: fast\n",
    )
    assert cli.main(["render", "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"{bad}:3:9: error: cleanup.mode: ")


def test_rendered_header_names_the_target_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(tmp_path, "/usr/lib/ostree-autocleanup/config.yaml", "version: 1\n")
    assert cli.main(["render", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "#   /usr/lib/ostree-autocleanup/config.yaml\n" in out
    assert str(tmp_path) not in out
    assert os.path.isfile(tmp_path / "usr/lib/ostree-autocleanup/config.yaml")


def test_a_config_link_is_resolved_inside_the_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = put(tmp_path, "/host/config.yaml", "version: 1\nname: host\n")
    root = tmp_path / "image"
    link = root / "etc/ostree-autocleanup/config.yaml"
    link.parent.mkdir(parents=True)
    # An absolute link means the image's own path, as systemctl --root reads it: the host's
    # file of that name is never read.
    link.symlink_to(host)
    assert load_config(root=str(root)).name != "host"
    put(root, str(host), "version: 1\nname: image\n")
    assert load_config(root=str(root)).name == "image"
    # A relative link that stays inside the image is followed too.
    put(root, "/usr/share/autocleanup.yaml", "version: 1\nname: inside\n")
    link.unlink()
    link.symlink_to("../../usr/share/autocleanup.yaml")
    assert load_config(root=str(root)).name == "inside"
    # One that climbs out of the image is refused, naming the link.
    link.unlink()
    link.symlink_to("../../../host/config.yaml")
    assert cli.main(["render", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ostree-autocleanup: error: {link}: symlink leads outside the root")


def test_a_root_that_is_a_symlink_reads_its_config(tmp_path: Path) -> None:
    # A container's /proc/PID/root is such a link: reading through it is reading the container.
    image = tmp_path / "image"
    put(image, "/etc/ostree-autocleanup/config.yaml", "version: 1\nname: image\n")
    link = tmp_path / "proc-root"
    link.symlink_to(image)
    assert load_config(root=str(link)).name == "image"


@pytest.mark.parametrize("mask", ["empty", "dev-null"])
def test_a_main_config_in_etc_can_mask_the_vendor_one(tmp_path: Path, mask: str) -> None:
    put(tmp_path, "/usr/lib/ostree-autocleanup/config.yaml", "version: 1\nname: vendor\n")
    put(
        tmp_path,
        "/usr/lib/ostree-autocleanup/config.d/10-x.yaml",
        "version: 1\ncleanup:\n  mode: prune\n",
    )
    etc = tmp_path / "etc/ostree-autocleanup/config.yaml"
    etc.parent.mkdir(parents=True)
    if mask == "empty":
        etc.write_text("")
    else:
        etc.symlink_to("/dev/null")
    config = load_config(root=str(tmp_path))
    # The vendor's main file is masked; its drop-in still applies.
    assert (config.name, config.cleanup.mode) == ("ostree", "prune")
    assert config.sources == ("/usr/lib/ostree-autocleanup/config.d/10-x.yaml",)


# -- names that mask by accident: a warning naming the path and what it masks ----------------

VENDOR = "/usr/lib/ostree-autocleanup/config.yaml"
ETC = "/etc/ostree-autocleanup/config.yaml"
RUN = "/run/ostree-autocleanup/config.yaml"


def _make(root: Path, path: str, what: str) -> Path:
    """Put ``what`` at ``path`` in ``root``: dir, dangling, fifo, empty, devnull, devnull-rel."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if what == "dir":
        target.mkdir()
    elif what == "dangling":
        target.symlink_to("/nowhere/config.yaml")
    elif what == "fifo":
        os.mkfifo(target)
    elif what == "empty":
        target.write_text("")
    elif what == "devnull":
        target.symlink_to("/dev/null")
    elif what == "devnull-rel":
        target.symlink_to("../" * (path.count("/") - 1) + "dev/null")
    else:
        target.write_text(what)
    return target


def _found(root: Path) -> tuple[list[str], list[str]]:
    warnings: list[str] = []
    return find_config_files(str(root), warnings.append), warnings


# Each case: what sits at the masking path, and the warning (None: a deliberate, silent mask).
ACCIDENTAL_MASKS = [
    ("dir", "is a directory, not a file"),
    ("dangling", "is a symlink to /nowhere/config.yaml, which does not exist"),
    ("fifo", "is not a regular file"),
    ("empty", None),
    ("devnull", None),
    ("devnull-rel", None),
]


@pytest.mark.parametrize(("what", "why"), ACCIDENTAL_MASKS)
@pytest.mark.parametrize("masking", [ETC, RUN])
def test_a_main_config_that_is_no_file_warns_naming_what_it_masks(
    tmp_path: Path, what: str, why: str | None, masking: str
) -> None:
    put(tmp_path, VENDOR, "version: 1\nname: vendor\n")
    _make(tmp_path, masking, what)
    files, warnings = _found(tmp_path)
    # It masks either way (a name in a higher directory always wins); only the warning differs.
    assert files == []
    if why is None:
        assert warnings == []
    else:
        assert warnings == [
            f"{tmp_path}{masking} {why}: it masks {tmp_path}{VENDOR}; make it an empty file "
            "or a link to /dev/null to mask on purpose, or remove it"
        ]


def test_a_directory_with_nothing_below_says_it_masks_nothing(tmp_path: Path) -> None:
    _make(tmp_path, ETC, "dir")
    files, warnings = _found(tmp_path)
    assert files == []
    assert len(warnings) == 1
    assert "it masks nothing (no config.yaml below it)" in warnings[0]


@pytest.mark.parametrize(("what", "why"), ACCIDENTAL_MASKS)
def test_a_drop_in_that_is_no_file_warns_naming_what_it_masks(
    tmp_path: Path, what: str, why: str | None
) -> None:
    lower = "/usr/lib/ostree-autocleanup/config.d/50-x.yaml"
    put(tmp_path, lower, "version: 1\nname: vendor\n")
    put(tmp_path, "/usr/lib/ostree-autocleanup/config.d/60-y.yaml", "version: 1\n")
    upper = "/etc/ostree-autocleanup/config.d/50-x.yaml"
    _make(tmp_path, upper, what)
    files, warnings = _found(tmp_path)
    assert files == ["/usr/lib/ostree-autocleanup/config.d/60-y.yaml"]
    if why is None:
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert warnings[0].startswith(f"{tmp_path}{upper} {why}: it masks {tmp_path}{lower};")


@pytest.mark.parametrize("what", ["file", "dangling"])
def test_a_drop_in_directory_that_is_no_directory_warns(tmp_path: Path, what: str) -> None:
    path = "/etc/ostree-autocleanup/config.d"
    _make(tmp_path, path, "version: 1\n" if what == "file" else "dangling")
    files, warnings = _found(tmp_path)
    assert files == []
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{tmp_path}{path} ")
    assert warnings[0].endswith(": the drop-ins in it are ignored")


def test_the_commands_print_the_warning_and_carry_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put(tmp_path, VENDOR, "version: 1\nname: vendor\n")
    _make(tmp_path, ETC, "dir")
    assert cli.main(["render", "--root", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "ostree-autocleanup.service" in captured.out  # the embedded default: vendor masked
    assert captured.err.startswith(f"ostree-autocleanup: warning: {tmp_path}{ETC} is a directory")
    assert len(captured.err.splitlines()) == 1


def test_the_generator_logs_the_warning(tmp_path: Path) -> None:
    import subprocess
    import sys

    put(tmp_path, VENDOR, "version: 1\nname: vendor\n")
    _make(tmp_path, "/etc/ostree-autocleanup/config.d/10-a.yaml", "dir")
    put(tmp_path, "/usr/lib/ostree-autocleanup/config.d/10-a.yaml", "version: 1\nname: a\n")
    result = subprocess.run(
        [sys.executable, "-m", "ostree_autocleanup.generator.boot.main", "--dry-run"],
        env={**os.environ, "OSTREE_AUTOCLEANUP_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "vendor-autocleanup.service" in result.stdout
    assert "10-a.yaml is a directory, not a file: it masks" in result.stderr
