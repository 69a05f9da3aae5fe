"""The README's commands as a reader copies them, so that tests run the README, not a copy of it.

A command is a Markdown code block indented by four spaces. The first two blocks are the
set-up-and-render command and the test-suite command; later ones are found by what they run.
"""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def code_blocks(text: str) -> list[str]:
    """Every indented code block (four spaces, after a blank line), without its indentation."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    previous_blank = True
    for line in text.splitlines():
        if current is not None:
            if line.startswith("    ") or not line.strip():
                current.append(line[4:])
                continue
            current = None
        if current is None and previous_blank and line.startswith("    ") and line.strip():
            current = [line[4:]]
            blocks.append(current)
        previous_blank = not line.strip()
    return ["\n".join(block).strip("\n") for block in blocks]


def commands() -> list[str]:
    return code_blocks(README.read_text())


def first_command() -> str:
    """The command that sets up the venv and renders the units."""
    return commands()[0]


def command_running(needle: str) -> str:
    """The one README command that mentions needle."""
    found = [command for command in commands() if needle in command]
    if len(found) != 1:
        raise AssertionError(f"README.md has {len(found)} commands mentioning {needle!r}")
    return found[0]
