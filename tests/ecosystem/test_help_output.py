"""`--help` of each installed command names every option and subcommand that its man page and
completion are generated from, so that the three cannot tell different stories. For the
commands that parse argv by hand this holds their help text to their CLI_SPEC."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from clisources import source_words

from ostree_autocleanup.generator.docs import clidoc


def help_text(prog: str, *path: str) -> str:
    script = Path(sys.executable).parent / prog
    result = subprocess.run(
        [str(script), *path, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"{prog} {' '.join(path)} --help: {result.stderr}"
    return result.stdout


def test_help_names_every_option(program: clidoc.Program) -> None:
    clidoc.load(program)
    top = help_text(program.prog)
    cache: dict[tuple[str, ...], str] = {(): top}
    for path, word in source_words(program):
        if path not in cache:
            cache[path] = help_text(program.prog, *path)
        # A subcommand's options may be listed in its own help or in the program's.
        assert word in cache[path] or word in top, (
            f"{word} ({' '.join(path) or 'top level'}) missing from {program.prog} --help"
        )
