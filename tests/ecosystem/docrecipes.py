"""The recipes and command lines of docs/*.md, as the tests that exercise them read them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs"

_RECIPE = re.compile(r"<!-- recipe: (\S+) -->\n```[^\n]*\n(.*?)```", re.S)
_FENCED = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
# A command starts a line (or a Containerfile RUN); prose that names the tool is not one.
_COMMAND = re.compile(
    r"^\s*(?:RUN\s+)?(ostree-autocleanup(?:-generator|-helper)?|python3 -m ostree_autocleanup\.\S+)\s"
)


def recipes() -> dict[str, str]:
    """Named recipe blocks (``<!-- recipe: NAME -->`` before a fenced block) of packaging.md."""
    return {m.group(1): m.group(2) for m in _RECIPE.finditer((DOCS / "packaging.md").read_text())}


def _code_lines(text: str) -> list[str]:
    lines: list[str] = []
    for block in _FENCED.findall(text):
        lines += block.splitlines()
    prose = _FENCED.sub("", text)
    lines += [line[4:] for line in prose.splitlines() if line.startswith("    ")]
    lines += _INLINE.findall(prose)
    return lines


def command_lines() -> list[tuple[str, list[str]]]:
    """(program, argv) of every command line that the docs show, from code blocks, indented
    blocks and inline code; shell operators and redirections end a command."""
    found: list[tuple[str, list[str]]] = []
    for doc in sorted(DOCS.glob("*.md")):
        for line in _code_lines(doc.read_text()):
            match = _COMMAND.search(line)
            if not match:
                continue
            rest = re.split(r"\s(?:&&|\|\||;|\|)\s|\s>|\s2>", line[match.end() :])[0]
            argv = shlex.split(rest, comments=True)
            found.append((match.group(1), argv))
    return found
