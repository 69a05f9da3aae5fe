"""The command-line sources of the three programs, read the way the ecosystem tests need them."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from ostree_autocleanup.generator.docs import clidoc


def _parser_words(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield path, name
                yield from _parser_words(sub, (*path, name))
        else:
            for flag in action.option_strings:
                yield path, flag


def _spec_words(
    spec: Mapping[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    for option in spec.get("options") or ():
        for flag in option["flags"]:
            yield path, flag
    for command in spec.get("commands") or ():
        yield path, command["name"]
        yield from _spec_words(command, (*path, command["name"]))


def source_words(program: clidoc.Program) -> list[tuple[tuple[str, ...], str]]:
    """(subcommand path, option or subcommand name) read straight from the module's parser or
    CLI_SPEC, without clidoc, so that a word clidoc drops is noticed."""
    module = importlib.import_module(program.module)
    build = getattr(module, "build_parser", None)
    if callable(build):
        return list(_parser_words(build(), ()))
    return list(_spec_words(module.CLI_SPEC, ()))


# A hand-parsed command's description, shaped as the helper's and the generator's are expected to
# be, so that the CLI_SPEC path is exercised whatever those modules look like today.
SAMPLE_SPEC: dict[str, Any] = {
    "prog": "sample-helper",
    "summary": "stamp and clean a sysroot",
    "description": "Runs from the units.\n\nSecond paragraph with `--sysroot` in it.",
    "options": [
        {"flags": ["-h", "--help"], "help": "show this help and exit"},
        {"flags": ["--version"], "help": "print the version and exit"},
    ],
    "commands": [
        {
            "name": "mark",
            "help": "write the stamp",
            "options": [
                {"flags": ["--sysroot"], "metavar": "DIR", "help": "the sysroot"},
                {"flags": ["--stamp"], "metavar": "FILE", "help": "the stamp file"},
            ],
        },
        {
            "name": "cleanup",
            "help": "clean the sysroot while the stamp exists",
            "options": [
                {"flags": ["--sysroot"], "metavar": "DIR", "help": "the sysroot"},
                {
                    "flags": ["--mode"],
                    "metavar": "MODE",
                    "choices": ["full", "prune"],
                    "help": "what to clean",
                },
                {"flags": ["--max-attempts"], "metavar": "N", "help": "boots to retry on"},
            ],
        },
    ],
}
