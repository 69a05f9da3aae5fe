"""The recipes of docs/packaging.md, run with the real tools where Debian has them: a debhelper
package built with dpkg-buildpackage, a plain dpkg-deb package, both installed with dpkg into a
temporary root and enabled there; the mkosi postinst script run as mkosi runs it; the RPM
`%files` list; and every command line the docs show, parsed by the real parser."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docrecipes import command_lines, recipes

from ostree_autocleanup.generator import cli
from ostree_autocleanup.generator.docs import distfiles
from support.upstream import require_tree

TOP = Path(__file__).parents[2]
EXAMPLE = TOP / "examples" / "debian-12.yaml"
BIN = Path(sys.executable).parent
UNIT = "ostree-autocleanup.service"


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


def tool_env() -> dict[str, str]:
    """The environment of a build that has ostree-autocleanup on PATH."""
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def subcommands() -> set[str]:
    parser = cli.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def empty_dpkg_root(root: Path) -> Path:
    for sub in ("info", "updates", "triggers"):
        (root / "var/lib/dpkg" / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    return root


def dpkg(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # --force-script-chrootless: maintainer scripts run with the host's tools and DPKG_ROOT set
    # (the temporary root has no shell to chroot into); deb-systemd-helper honours DPKG_ROOT.
    return run(
        ["dpkg", f"--root={root}", "--log=/dev/null", "--force-script-chrootless", *args],
        env=tool_env(),
    )


def is_enabled(root: Path, unit: str) -> str:
    result = subprocess.run(
        ["systemctl", f"--root={root}", "is-enabled", unit],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


def test_recipes_are_all_there() -> None:
    assert set(recipes()) >= {
        "mkosi.postinst",
        "Containerfile",
        "debian/rules",
        "debian/control",
        "ostree-autocleanup-units.spec",
    }


def test_debhelper_recipe_builds_a_package_that_enables_the_unit(tmp_path: Path) -> None:
    need("dpkg-buildpackage", "dh", "systemctl")
    docs = recipes()
    source = tmp_path / "src"
    (source / "debian").mkdir(parents=True)
    (source / "debian/rules").write_text(docs["debian/rules"])
    (source / "debian/rules").chmod(0o755)
    (source / "debian/control").write_text(docs["debian/control"])
    package = re.search(r"^Package: (\S+)$", docs["debian/control"], re.M)
    assert package
    name = package.group(1)
    (source / "debian/changelog").write_text(
        f"{name} (1) unstable; urgency=medium\n\n  * Test build.\n\n"
        " -- Image Team <images@example.org>  Mon, 30 Nov 2026 10:00:00 +0000\n"
    )
    shutil.copy(EXAMPLE, source / "debian/autocleanup.yaml")
    # -d: the build dependencies (ostree-autocleanup itself) come from the venv, not from dpkg.
    run(["dpkg-buildpackage", "-b", "-uc", "-us", "-d"], cwd=source, env=tool_env())
    (deb,) = tmp_path.glob(f"{name}_1_all.deb")
    contents = run(["dpkg-deb", "-c", str(deb)]).stdout
    assert f"./lib/systemd/system/{UNIT}" in contents
    assert (
        "./lib/systemd/system/ostree-finalize-staged.service.d/50-ostree-autocleanup.conf"
        in contents
    )
    postinst = run(["dpkg-deb", "-I", str(deb), "postinst"]).stdout
    assert f"deb-systemd-helper enable '{UNIT}'" in postinst
    assert "deb-systemd-invoke start" not in postinst, "the cleanup must not start at install"

    root = empty_dpkg_root(tmp_path / "root")
    assert is_enabled(root, UNIT) != "enabled"
    # The temporary root has none of the package's dependencies.
    dpkg(root, "--force-depends", "--install", str(deb))
    assert is_enabled(root, UNIT) == "enabled"
    assert (root / f"etc/systemd/system/multi-user.target.wants/{UNIT}").is_symlink()
    listed = run(["dpkg", f"--root={root}", "-L", name]).stdout
    assert f"/lib/systemd/system/{UNIT}" in listed

    dpkg(root, "--purge", name)
    assert not (root / f"lib/systemd/system/{UNIT}").exists()
    assert not (root / f"etc/systemd/system/multi-user.target.wants/{UNIT}").exists()


def test_plain_package_is_enabled_by_its_preset(tmp_path: Path) -> None:
    need("dpkg-deb", "dpkg", "systemctl")
    staging = tmp_path / "staging"
    # As docs/packaging.md says for a package without debhelper: render into the staging tree.
    run([str(BIN / "ostree-autocleanup"), "render", "-c", str(EXAMPLE), "--output", str(staging)])
    (staging / "DEBIAN").mkdir()
    (staging / "DEBIAN/control").write_text(
        "Package: ostree-autocleanup-preset-test\nVersion: 1\nArchitecture: all\n"
        "Maintainer: Image Team <images@example.org>\nDescription: preset test\n test\n"
    )
    deb = tmp_path / "preset-test.deb"
    run(["dpkg-deb", "--root-owner-group", "--build", str(staging), str(deb)])

    root = empty_dpkg_root(tmp_path / "root")
    # A distribution policy that enables nothing it does not name, as Fedora's 99-default.
    policy = root / "usr/lib/systemd/system-preset/99-default.preset"
    policy.parent.mkdir(parents=True)
    policy.write_text("disable *\n")
    dpkg(root, "--install", str(deb))
    assert (root / f"usr/lib/systemd/system/{UNIT}").is_file()
    run(["systemctl", f"--root={root}", "preset", UNIT])
    assert is_enabled(root, UNIT) == "enabled"
    # Without our preset file the policy wins: the preset is what enables it.
    dpkg(root, "--remove", "ostree-autocleanup-preset-test")
    shutil.rmtree(root / "etc/systemd/system")
    (root / f"usr/lib/systemd/system/{UNIT}").parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(staging / f"usr/lib/systemd/system/{UNIT}", root / f"usr/lib/systemd/system/{UNIT}")
    run(["systemctl", f"--root={root}", "preset", UNIT])
    assert is_enabled(root, UNIT) == "disabled"


def need_install(option: str | None = None) -> None:
    assert "install" in subcommands(), "ostree-autocleanup has no install command"
    if option and option not in run([str(BIN / "ostree-autocleanup"), "install", "--help"]).stdout:
        pytest.fail(f"install has no {option} option, which docs/packaging.md uses")


def upstream_units() -> Path:
    return require_tree() / "lib/systemd/system"


def test_mkosi_postinst_recipe(tmp_path: Path) -> None:
    need_install()
    need("systemctl")
    script = tmp_path / "mkosi.postinst"
    script.write_text(recipes()["mkosi.postinst"])
    script.chmod(0o755)
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(EXAMPLE, src / "autocleanup.yaml")
    buildroot = tmp_path / "buildroot"
    # The image already holds ostree-boot's units, as a Debian 12 image with ostree-boot does.
    shutil.copytree(upstream_units(), buildroot / "usr/lib/systemd/system")
    # mkosi runs the script with these two variables pointing at the image and the sources.
    run([str(script)], env={**tool_env(), "BUILDROOT": str(buildroot), "SRCDIR": str(src)})
    assert (buildroot / f"usr/lib/systemd/system/{UNIT}").is_file()
    assert is_enabled(buildroot, UNIT) == "enabled"
    assert is_enabled(buildroot, "ostree-finalize-staged.path") == "enabled"


_RPM_GLOB = re.compile(r"[*?\[\]{}%\s\\\"]")


def test_list_files_is_valid_rpm_files_content(tmp_path: Path) -> None:
    need_install("--list-files")
    spec = recipes()["ostree-autocleanup-units.spec"]
    assert "%files -f units.files" in spec
    # rpmbuild makes %{buildroot} before %install runs. A package's buildroot holds none of
    # ostree's units, so the example for ostree without the path unit.
    buildroot = tmp_path / "buildroot"
    buildroot.mkdir()
    tool = str(BIN / "ostree-autocleanup")
    config = str(TOP / "examples" / "fedora-bootc.yaml")
    run([tool, "install", "--root", str(buildroot), "--no-apply-preset", "-c", config])
    listed = run(
        [
            tool,
            "install",
            "--root",
            str(buildroot),
            "--no-apply-preset",
            "-c",
            config,
            "--list-files",
        ]
    ).stdout.splitlines()
    assert listed and len(listed) == len(set(listed))
    for line in listed:
        # rpm expands globs and macros in %files and splits at blanks: none may be there.
        assert line.startswith("/") and not _RPM_GLOB.search(line), line
        assert os.path.normpath(line) == line, line
    on_disk = {
        "/" + str(p.relative_to(buildroot))
        for p in buildroot.rglob("*")
        if p.is_file() or p.is_symlink()
    }
    assert set(listed) == on_disk, "every file install writes, and nothing else, is listed"


@pytest.fixture(scope="module")
def rpm_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documented spec built by the real rpmbuild, with the tool from this build on PATH."""
    need_install("--list-files")
    need("rpmbuild", "rpm")
    top = tmp_path_factory.mktemp("rpmbuild")
    (top / "SOURCES").mkdir()
    (top / "SPECS").mkdir()
    shutil.copy(TOP / "examples" / "fedora-bootc.yaml", top / "SOURCES/autocleanup.yaml")
    spec = top / "SPECS/units.spec"
    spec.write_text(recipes()["ostree-autocleanup-units.spec"])
    # --nodeps: the BuildRequires are Fedora packages; the tool comes from PATH. The systemd
    # macros stay unexpanded in the scriptlets, which only run on the target system.
    run(
        ["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {top}", str(spec)],
        env=tool_env(),
    )
    (package,) = (top / "RPMS/noarch").glob("ostree-autocleanup-units-*.noarch.rpm")
    return package


def test_rpm_spec_recipe_builds_with_files_from_list_files(rpm_package: Path) -> None:
    # rpmbuild itself fails on a listed file that is missing or a written file that is not
    # listed; check the package holds what install writes all the same.
    packaged = run(["rpm", "-qlp", str(rpm_package)]).stdout.splitlines()
    assert "/usr/lib/systemd/system/ostree-autocleanup.service" in packaged
    assert any(
        p.startswith("/usr/lib/systemd/system/ostree-finalize-staged.service.d/") for p in packaged
    )
    scripts = run(["rpm", "-qp", "--scripts", str(rpm_package)]).stdout
    assert "%systemd_post ostree-autocleanup.service" in scripts


def test_rpm_package_ships_the_preset_that_systemd_post_applies(rpm_package: Path) -> None:
    # %systemd_post enables a unit only when a preset says so; Fedora's default preset
    # disables everything else.
    packaged = run(["rpm", "-qlp", str(rpm_package)]).stdout.splitlines()
    assert any(p.startswith("/usr/lib/systemd/system-preset/") for p in packaged), (
        "the RPM recipe left the preset file out of the package: %systemd_post would "
        "leave the cleanup disabled"
    )


def _command_id(item: tuple[str, list[str]]) -> str:
    return " ".join([item[0].split()[-1], *item[1]])


@pytest.mark.parametrize("command", command_lines(), ids=_command_id)
def test_documented_command_line_parses(command: tuple[str, list[str]]) -> None:
    program, argv = command
    if program.endswith("distfiles"):
        parser = distfiles.build_parser()
    elif program == "ostree-autocleanup":
        parser = cli.build_parser()
        if argv and not argv[0].startswith("-"):
            assert argv[0] in subcommands(), f"docs use a command this build lacks: {argv[0]}"
    else:
        pytest.skip(f"{program} has no argparse parser to check against")
    try:
        parser.parse_args(argv)
    except SystemExit as error:
        pytest.fail(f"{program} {' '.join(argv)}: rejected by the parser (exit {error.code})")
