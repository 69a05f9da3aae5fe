"""Every path inside an image root goes through rootfs, the one rule: an absolute symlink in
the image means the image's own path, never the host's.

Each reader of image paths gets a case with such a link, where reading it the host's way
finds nothing (or the wrong thing); and a scan of the source keeps new code from joining a
root and a path by hand.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
from pathlib import Path

import pytest

from ostree_autocleanup.generator.boot.cold import use_template_cache
from ostree_autocleanup.generator.checks.status import cleanup_state, finalize_failure
from ostree_autocleanup.generator.cli import main
from ostree_autocleanup.generator.units.render import environment
from support.generator_image import Image, make_image

GENERATOR = Path(__file__).resolve().parents[2] / "generator"
SHIPPED = "usr/lib/ostree-autocleanup"


@pytest.fixture
def image(tmp_path: Path) -> Image:
    return make_image(tmp_path)


def _move_behind_absolute_link(root: Path, path: str, elsewhere: str) -> None:
    """Move ``path`` of the image to ``elsewhere`` and leave an absolute link to it behind."""
    target = root / elsewhere.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(root / path), target)
    os.symlink(elsewhere, root / path)
    assert not os.path.exists(elsewhere), f"{elsewhere} exists on this machine"


def test_generator_warm_path_reads_its_data_through_an_absolute_link(image: Image) -> None:
    image.install()
    _move_behind_absolute_link(image.root, SHIPPED, "/opt/oa-vendor-7f3a/autocleanup")
    result = image.generate("python", SYSTEMD_LOG_LEVEL="debug")
    assert result.returncode == 0, result.stderr
    assert "config unchanged since install; using the precomputed units" in result.stderr
    assert "ostree-autocleanup.service" in result.tree


def test_generator_sees_the_images_initrd_release_through_an_absolute_link(image: Image) -> None:
    image.install()
    release = image.root / "usr/lib/initrd-release"
    release.parent.mkdir(parents=True, exist_ok=True)
    release.write_text("ID=test\n")
    (image.root / "etc").mkdir(exist_ok=True)
    os.symlink("/usr/lib/initrd-release", image.root / "etc/initrd-release")
    # systemd before 251 does not say; then the image's file decides.
    result = image.generate("python")
    assert result.returncode == 0, result.stderr
    assert result.tree == {}


def test_compiled_templates_are_read_through_an_absolute_link(tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "opt/oa-vendor-9c1e/generator/templates").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    os.symlink("/opt/oa-vendor-9c1e", root / SHIPPED)
    previous = environment().bytecode_cache
    try:
        use_template_cache(str(root))
        directory = getattr(environment().bytecode_cache, "directory", None)
    finally:
        environment().bytecode_cache = previous
    assert directory == str(root / "opt/oa-vendor-9c1e/generator/templates")


def test_status_reads_the_images_files_through_absolute_links(tmp_path: Path) -> None:
    root = tmp_path / "image"
    # ostree's failure stamp under /boot, which the image keeps in its sysroot.
    boot = root / "sysroot/boot/ostree"
    boot.mkdir(parents=True)
    (boot / "finalize-failure.stamp").write_text("error: test failure\n")
    os.symlink("/sysroot/boot", root / "boot")
    # The helper's state, kept elsewhere in the image.
    state = root / "data/oa-state"
    state.mkdir(parents=True)
    (state / "last-cleanup.json").write_text('{"result": "success"}\n')
    (root / "var/lib").mkdir(parents=True)
    os.symlink("/data/oa-state", root / "var/lib/ostree-autocleanup")
    (root / "sysroot/.cleanup").write_text("attempts=2\n")

    failure = finalize_failure(str(root))
    assert failure == {
        "path": "/boot/ostree/finalize-failure.stamp",
        "message": "error: test failure",
    }
    cleanup = cleanup_state("/sysroot/.cleanup", str(root), "/var/lib/ostree-autocleanup")
    assert cleanup["pending"] is True and cleanup["attempts"] == 2
    assert cleanup["last"] == {"result": "success"}


def test_install_generator_ships_the_images_config_read_through_an_absolute_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "image"
    vendor = root / "usr/share/oa/config.yaml"
    vendor.parent.mkdir(parents=True)
    vendor.write_text("version: 1\nname: image\n")
    (root / "etc/ostree-autocleanup").mkdir(parents=True)
    os.symlink("/usr/share/oa/config.yaml", root / "etc/ostree-autocleanup/config.yaml")
    status = main(["install", "--generator", "--no-enable", "--root", str(root)])
    assert status == 0, capsys.readouterr().err
    assert (root / SHIPPED / "config.yaml").read_text() == "version: 1\nname: image\n"


# -- nothing joins a root and a path by hand ---------------------------------------------------

# (module, line text) allowed to build a host path from a root by hand, and why.
ALLOWED = {
    # Only for messages: the name a person can open.
    ("config/layering.py", 'return root.rstrip("/") + path'),
    # verify's own scratch tree, made in a fresh temporary directory before anything is in it;
    # its files are then written through rootfs.
    ("checks/verify.py", "unit_dir = os.path.join(root, UNIT_DIR)"),
}
# A root by name: root, target_root, root_dir... (a sysroot is a path inside the image).
_ROOT_NAME = re.compile(r"(^|_)root($|_)")


def _root_name(node: ast.AST) -> bool:
    """Whether an expression is, or is made from, a variable or attribute named like a root."""
    for sub in ast.walk(node):
        name = sub.id if isinstance(sub, ast.Name) else getattr(sub, "attr", None)
        if isinstance(name, str) and _ROOT_NAME.search(name.lower()):
            return True
    return False


def _offences(path: Path, source: str | None = None) -> list[str]:
    source = path.read_text() if source is None else source
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        what = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and _root_name(node.left):
            what = "root + path"
        elif isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func == "os.path.realpath":
                what = "os.path.realpath"
            elif func == "os.path.join" and node.args and _root_name(node.args[0]):
                what = "os.path.join(root, ...)"
        if what:
            line = lines[node.lineno - 1].strip()
            rel = str(path.relative_to(GENERATOR))
            if (rel, line) not in ALLOWED:
                found.append(f"{rel}:{node.lineno}: {what}: {line}")
    return found


def test_no_module_but_rootfs_maps_image_paths_by_hand() -> None:
    offences = []
    for path in sorted(GENERATOR.rglob("*.py")):
        if path.name == "rootfs.py":
            continue
        offences += _offences(path)
    assert offences == []


def test_the_scan_finds_what_it_looks_for() -> None:
    # The scan itself must not go blind: each pattern it forbids, found in a sample.
    sample = (
        "import os\n"
        "def f(root, path, args, sysroot):\n"
        "    a = root + path\n"
        "    b = os.path.join(args.root, path)\n"
        "    c = os.path.realpath(path)\n"
        "    d = os.path.join(sysroot, 'ostree')  # a path inside the image: fine\n"
    )
    found = _offences(GENERATOR / "boot" / "sample.py", sample)
    assert [line.split(": ")[1] for line in found] == [
        "root + path",
        "os.path.join(root, ...)",
        "os.path.realpath",
    ]
