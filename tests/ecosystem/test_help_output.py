"""`--help` of each installed command names every option and subcommand that its man page and
completion are generated from, so that the three cannot tell different stories. For the
commands that parse argv by hand this holds their help text to their CLI_SPEC."""

from __future__ import annotations

import re
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


# An option or subcommand as a whole word: "-c" is not in "--config", "stat" is not in "status".
_TOKEN = re.compile(r"(?<![\w-])-{0,2}\w[\w-]*")


def tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text))


def test_tokens_are_whole_words() -> None:
    words = tokens("usage: prog [-h] [--config FILE] {install,status}\n  --root=DIR, -r DIR")
    assert words >= {"-h", "--config", "FILE", "install", "status", "--root", "DIR", "-r"}
    assert not words & {"-c", "-config", "config", "stat", "-root", "root"}


def test_help_names_every_option(program: clidoc.Program) -> None:
    clidoc.load(program)
    top = help_text(program.prog)
    cache: dict[tuple[str, ...], set[str]] = {(): tokens(top)}
    for path, word in source_words(program):
        if path not in cache:
            cache[path] = tokens(help_text(program.prog, *path))
        # A subcommand's options may be listed in its own help or in the program's.
        assert word in cache[path] or word in cache[()], (
            f"{word} ({' '.join(path) or 'top level'}) missing from {program.prog} --help"
        )
