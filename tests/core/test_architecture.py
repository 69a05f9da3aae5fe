"""The direction of imports between the parts of generator/, read from the source itself.

Every import counts, module-level or inside a function: a lazy import is still a dependency.
A part may use the parts listed for it below and the shared modules; anything else fails here,
naming the module and the line.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.generator_image import make_image

GENERATOR = Path(__file__).resolve().parents[2] / "generator"
PACKAGE = "ostree_autocleanup.generator"

# What each part may import besides itself. "helper.*" names the helper's modules; errors,
# options and rootfs are the shared modules below every part.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "options": set(),
    "rootfs": {"errors"},
    "config": {"errors", "rootfs"},
    "units": {"config", "errors", "helper.version"},
    "boot": {"config", "units", "errors", "rootfs", "helper.version"},
    "install": {"config", "units", "boot", "rootfs", "options", "errors", "helper.version"},
    "checks": {
        "config",
        "units",
        "rootfs",
        "options",
        "errors",
        "helper.version",
        "helper.status",
        "helper.errors",
    },
    "docs": {"config", "rootfs", "options", "errors", "cli", "boot", "helper.version"},
    "cli": {
        "config",
        "units",
        "install",
        "checks",
        "docs",
        "rootfs",
        "options",
        "errors",
        "helper.version",
    },
    "__main__": {"cli"},
    "__init__": set(),
}
# Modules a rendering module must not touch: rendering is a pure function of the config.
IO_MODULES = {"subprocess", "shutil", "tempfile", "socket", "glob", "io"}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(GENERATOR.rglob("*.py")):
        rel = path.relative_to(GENERATOR).with_suffix("")
        yield ".".join(rel.parts), path


def _part(module: str) -> str:
    return module.split(".")[0]


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every import of ``module``, anywhere in it, as (target, line); see ``_targets``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        yield from _targets(module, path.name == "__init__.py", node)


def _targets(module: str, is_package: bool, node: ast.AST) -> Iterator[tuple[str, int]]:
    """What one import statement imports: a module of the generator package relative to it
    ("config.load"), a helper module ("helper.version"), or anything else as "/name"."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if module == "__init__":
        package = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield "/" + alias.name, node.lineno
        return
    if not isinstance(node, ast.ImportFrom):
        return
    if node.level == 0:
        base = node.module or ""
        if base.startswith(PACKAGE + "."):
            yield base[len(PACKAGE) + 1 :], node.lineno
        elif base.startswith("ostree_autocleanup.helper"):
            yield base[len("ostree_autocleanup.") :], node.lineno
        else:
            yield "/" + base, node.lineno
        return
    if node.level - 1 > len(package):  # above the generator package: the helper's side
        yield node.module or "", node.lineno
        return
    base = package[: len(package) - (node.level - 1)]
    if node.module:
        base = [*base, *node.module.split(".")]
    for alias in node.names:
        # "from .install import install" imports a submodule; "from .model import Config" a name.
        submodule = [*base, alias.name]
        if (GENERATOR.joinpath(*submodule).with_suffix(".py")).exists():
            yield ".".join(submodule), node.lineno
        else:
            yield ".".join(base), node.lineno


def _edges() -> list[tuple[str, str, int]]:
    edges = []
    for module, path in _modules():
        for target, line in _imports(module, path):
            edges.append((module, target, line))
    return edges


def test_the_graph_is_read_at_all() -> None:
    # A reader that finds nothing would let every rule below pass.
    edges = {(a, b) for a, b, _ in _edges()}
    assert ("config.load", "config.validate") in edges
    assert ("cli", "install.install") in edges
    assert ("units.render", "helper.version") in edges
    assert ("units.hardening", "config.directives") in edges


def test_each_part_imports_only_what_lies_below_it() -> None:
    wrong = []
    for module, target, line in _edges():
        if target.startswith("/"):
            continue
        part, used = _part(module), _part(target)
        if used == part:
            continue
        if target.startswith("helper."):
            used = ".".join(target.split(".")[:2])
        if used not in ALLOWED[part]:
            wrong.append(f"generator/{module.replace('.', '/')}.py:{line}: imports {target}")
    assert wrong == []


def test_the_config_model_knows_no_templates_installing_or_command_line() -> None:
    for module, target, _ in _edges():
        if _part(module) == "config":
            assert _part(target) not in {"units", "install", "boot", "checks", "docs", "cli"}
            assert target not in {"/jinja2", "/argparse"}, module


def test_rendering_does_no_io() -> None:
    for module, path in _modules():
        if _part(module) != "units":
            continue
        for target, line in _imports(module, path):
            assert target.lstrip("/") not in IO_MODULES, f"{module}:{line} imports {target}"
        tree = ast.parse(path.read_text())
        calls = [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "open"
        ]
        assert calls == [], f"{module} opens files at lines {calls}"


def test_no_module_level_cycle_between_parts() -> None:
    """Module-level imports only: those run when a module loads, so a cycle there can bite."""
    graph: dict[str, set[str]] = {}
    for module, path in _modules():
        for node in ast.parse(path.read_text()).body:
            for target, _ in _targets(module, path.name == "__init__.py", node):
                if not target.startswith("/") and _part(target) != _part(module):
                    graph.setdefault(_part(module), set()).add(_part(target))
    assert graph.get("cli")  # read at all
    done: set[str] = set()

    def visit(part: str, stack: tuple[str, ...]) -> None:
        assert part not in stack, " -> ".join((*stack, part))
        if part not in done:
            for used in sorted(graph.get(part, ())):
                visit(used, (*stack, part))
            done.add(part)

    for part in sorted(graph):
        visit(part, ())


BOOT_ALLOWED = {
    "ostree_autocleanup",
    "ostree_autocleanup.generator",
    "ostree_autocleanup.generator.boot",
    "ostree_autocleanup.generator.boot.main",
    "ostree_autocleanup.generator.boot.log",
    "ostree_autocleanup.generator.boot.entries",
    "ostree_autocleanup.generator.config",
    "ostree_autocleanup.generator.config.layering",
    # Only under a root (OSTREE_AUTOCLEANUP_ROOT, as here): paths resolve inside it.
    "ostree_autocleanup.generator.rootfs",
    "ostree_autocleanup.generator.errors",
    "ostree_autocleanup.helper",
    "ostree_autocleanup.helper.version",
}


def _imported(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


@pytest.mark.parametrize("source", ["precomputed", "recorded"])
def test_the_warm_path_imports_no_yaml_or_jinja2(tmp_path: Path, source: str) -> None:
    image = make_image(tmp_path)
    image.install()
    if source == "recorded":
        # An override in /etc, recorded after the boot that rendered it (boot/record.py).
        image.write("etc/ostree-autocleanup/config.yaml", image.config_text("name: acme\n"))
        assert image.run("--record").returncode == 0
    out = tmp_path / "out"
    for sub in ("normal", "early", "late"):
        (out / sub).mkdir(parents=True)
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; from ostree_autocleanup.generator.boot.main import main; sys.exit(main())",
            *(str(out / sub) for sub in ("normal", "early", "late")),
        ],
        capture_output=True,
        text=True,
        env={**image.env(), "SYSTEMD_LOG_LEVEL": "debug"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The warm path, not the cold one.
    expected = {"precomputed": "using the precomputed units", "recorded": "recorded; using"}
    assert expected[source] in result.stderr
    assert any((out / "normal").iterdir())
    names = _imported(result.stderr)
    ours = {n for n in names if n.startswith("ostree_autocleanup")}
    assert "ostree_autocleanup.generator.boot.main" in ours, sorted(ours)
    assert ours <= BOOT_ALLOWED, sorted(ours - BOOT_ALLOWED)
    heavy = {n for n in names if n.split(".")[0] in {"yaml", "jinja2", "markupsafe", "_yaml"}}
    assert heavy == set()


@pytest.mark.parametrize("module", ["boot.main", "boot.entries", "boot.log", "config.layering"])
def test_warm_path_modules_import_only_os_and_sys_at_module_level(module: str) -> None:
    path = GENERATOR / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text())
    outside = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            outside |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            outside.add(node.module or "")
    assert outside <= {"os", "sys", "__future__"}, outside
