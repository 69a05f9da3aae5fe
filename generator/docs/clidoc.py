"""What a command line offers (commands, options, arguments), read from the command's own source.

Man pages and shell completions are rendered from this model, and the model is read from the
same objects that produce ``--help``, so neither can drift from the commands.

A command module provides one of:

- ``build_parser() -> argparse.ArgumentParser``: the parser its ``main`` uses;
- ``CLI_SPEC``: for a command that parses its argv by hand (the generator and the helper run at
  boot and shutdown, where importing argparse costs time), a plain literal that its ``--help``
  is printed from too::

      CLI_SPEC = {
          "prog": "ostree-autocleanup-helper",
          "summary": "one line for the NAME section",
          "description": "paragraphs, separated by blank lines",
          "usage": ["mark [--sysroot DIR] [--stamp FILE]"],      # optional; else derived
          "arguments": [{"name": "DIR", "help": "...", "optional": False, "repeat": False}],
          "options": [
              {"flags": ["--mode"], "metavar": "MODE", "choices": ["full", "prune"],
               "help": "...", "repeat": False},
              {"flags": ["-h", "--help"], "help": "show this help and exit"},
          ],
          "commands": [{"name": "mark", "help": "...", "description": "...",
                        "arguments": [...], "options": [...]}],
      }

  Only ``prog`` and ``summary`` are required; an option without ``metavar`` takes no value.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    metavar: str | None = None  # None: a switch that takes no value
    choices: tuple[str, ...] = ()
    repeat: bool = False
    required: bool = False

    @property
    def takes_value(self) -> bool:
        return self.metavar is not None

    @property
    def value_kind(self) -> str:
        """What a shell should offer for the value: choices, dir, file or nothing."""
        if self.choices:
            return "choices"
        if self.metavar is None:
            return "none"
        kind = _kind_of_metavar(self.metavar)
        if kind == "none":
            # argparse's default metavar is the option's name (SYSROOT, STAMP): go by the name.
            kind = _kind_of_metavar(max(self.flags, key=len).lstrip("-"))
        return kind


@dataclass(frozen=True)
class Argument:
    name: str
    help: str
    choices: tuple[str, ...] = ()
    optional: bool = False
    repeat: bool = False

    @property
    def value_kind(self) -> str:
        if self.choices:
            return "choices"
        return _kind_of_metavar(self.name)


@dataclass(frozen=True)
class Command:
    prog: str  # the full command line that reaches it: "ostree-autocleanup render"
    summary: str
    description: str = ""
    usage: tuple[str, ...] = ()  # synopsis lines after prog; empty: derived
    options: tuple[Option, ...] = ()
    arguments: tuple[Argument, ...] = ()
    commands: tuple[Command, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.prog.split()[-1]

    def synopsis(self) -> tuple[str, ...]:
        """Usage lines, each without the leading prog."""
        if self.usage:
            return self.usage
        if self.commands:
            head = " ".join(
                _usage_item(o) if o.required else f"[{_usage_item(o)}]"
                for o in self.options
                if not {"-h", "--help", "--version"} & set(o.flags)
            )
            return tuple(
                " ".join(filter(None, [head, c.name, _usage_line(c)])) for c in self.commands
            )
        return (_usage_line(self),)


_DIR_WORDS = ("DIR", "ROOT", "BOOT", "OUTPUT")
_FILE_WORDS = ("FILE", "PATH", "STAMP", "CONFIG")


def _kind_of_metavar(metavar: str | None) -> str:
    if metavar is None:
        return "none"
    upper = metavar.upper()
    if any(word in upper for word in _DIR_WORDS):
        return "dir"
    if any(word in upper for word in _FILE_WORDS):
        return "file"
    return "none"


def _usage_item(option: Option) -> str:
    flag = option.flags[0]
    return f"{flag} {option.metavar}" if option.metavar else flag


def _usage_line(command: Command) -> str:
    parts: list[str] = []
    for option in command.options:
        if "--help" in option.flags:
            continue
        item = _usage_item(option)
        item = item if option.required else f"[{item}]"
        parts.append(item + ("..." if option.repeat else ""))
    for argument in command.arguments:
        item = f"[{argument.name}]" if argument.optional else argument.name
        parts.append(item + ("..." if argument.repeat else ""))
    return " ".join(parts)


# --- from argparse ---------------------------------------------------------------------------

_REPEATING = (argparse._AppendAction, argparse._ExtendAction, argparse._CountAction)


def _expand(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        values: dict[str, Any] = dict(vars(action), prog=parser.prog)
        if action.choices is not None:
            values["choices"] = ", ".join(str(c) for c in action.choices)
        text = text % values
    return text


def _metavar(action: argparse.Action) -> str:
    metavar = action.metavar
    if isinstance(metavar, tuple):
        return " ".join(metavar)
    if metavar:
        return metavar
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def from_parser(parser: argparse.ArgumentParser, summary: str | None = None) -> Command:
    """The model of an argparse parser and its subparsers (suppressed entries left out)."""
    options: list[Option] = []
    arguments: list[Argument] = []
    commands: list[Command] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias
                    continue
                seen.add(id(sub))
                if name not in helps:
                    continue  # a command registered without help is hidden, as in --help
                commands.append(from_parser(sub, helps[name]))
            continue
        choices = tuple(str(c) for c in action.choices) if action.choices is not None else ()
        if action.option_strings:
            options.append(
                Option(
                    flags=tuple(action.option_strings),
                    help=_expand(parser, action),
                    metavar=None if action.nargs == 0 else _metavar(action),
                    choices=choices,
                    repeat=isinstance(action, _REPEATING),
                    required=action.required,
                )
            )
        else:
            arguments.append(
                Argument(
                    name=_metavar(action),
                    help=_expand(parser, action),
                    choices=choices,
                    optional=action.nargs in ("?", "*"),
                    repeat=action.nargs in ("*", "+"),
                )
            )
    description = parser.description or ""
    return Command(
        prog=parser.prog,
        summary=summary if summary is not None else _first_sentence(description),
        description=description,
        options=tuple(options),
        arguments=tuple(arguments),
        commands=tuple(commands),
    )


def _first_sentence(text: str) -> str:
    head = text.split(". ")[0].strip()
    head = head[:-1] if head.endswith(".") else head
    return head[:1].lower() + head[1:]


# --- from a structured description -------------------------------------------------------------


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{where}: expected a list of strings")
    items = tuple(value)
    if not all(isinstance(i, str) for i in items):
        raise TypeError(f"{where}: expected a list of strings")
    return items


def _text(spec: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = spec.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {key!r} must be a string")
    return value


def _option_from_spec(spec: Mapping[str, Any], where: str) -> Option:
    flags = _strings(spec.get("flags"), f"{where}.flags")
    if not flags or not all(f.startswith("-") for f in flags):
        raise TypeError(f"{where}: 'flags' must list option strings starting with '-'")
    metavar = spec.get("metavar")
    if metavar is not None and not isinstance(metavar, str):
        raise TypeError(f"{where}: 'metavar' must be a string")
    return Option(
        flags=flags,
        help=_text(spec, "help", where),
        metavar=metavar,
        choices=_strings(spec.get("choices"), f"{where}.choices"),
        repeat=bool(spec.get("repeat", False)),
        required=bool(spec.get("required", False)),
    )


def _argument_from_spec(spec: Mapping[str, Any], where: str) -> Argument:
    return Argument(
        name=_text(spec, "name", where, required=True),
        help=_text(spec, "help", where),
        choices=_strings(spec.get("choices"), f"{where}.choices"),
        optional=bool(spec.get("optional", False)),
        repeat=bool(spec.get("repeat", False)),
    )


def from_spec(spec: Mapping[str, Any], prog: str | None = None) -> Command:
    """The model of a ``CLI_SPEC`` literal (see the module docstring); TypeError if malformed."""
    where = prog or str(spec.get("prog", "CLI_SPEC"))
    full_prog = prog if prog is not None else _text(spec, "prog", where, required=True)
    summary = _text(spec, "summary", where) or _text(spec, "help", where)
    if not summary:
        raise TypeError(f"{where}: 'summary' is required")
    return Command(
        prog=full_prog,
        summary=summary,
        description=_text(spec, "description", where),
        usage=_strings(spec.get("usage"), f"{where}.usage"),
        options=tuple(
            _option_from_spec(o, f"{where}.options[{i}]")
            for i, o in enumerate(spec.get("options") or ())
        ),
        arguments=tuple(
            _argument_from_spec(a, f"{where}.arguments[{i}]")
            for i, a in enumerate(spec.get("arguments") or ())
        ),
        commands=tuple(
            from_spec(c, f"{full_prog} {_text(c, 'name', where, required=True)}")
            for c in spec.get("commands") or ()
        ),
    )


# --- the project's three commands --------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    prog: str
    module: str  # where build_parser() or CLI_SPEC lives


PROGRAMS: tuple[Program, ...] = (
    Program("ostree-autocleanup", "ostree_autocleanup.generator.cli"),
    Program("ostree-autocleanup-generator", "ostree_autocleanup.generator.boot.main"),
    Program("ostree-autocleanup-helper", "ostree_autocleanup.helper.cli"),
)


class NoCommandSource(TypeError):
    """The module of a command is there but offers neither build_parser() nor CLI_SPEC."""


def load(program: Program) -> Command:
    """The model of ``program``, from its module's ``build_parser()`` or ``CLI_SPEC``."""
    module = importlib.import_module(program.module)
    build = getattr(module, "build_parser", None)
    if callable(build):
        parser = build()
        if not isinstance(parser, argparse.ArgumentParser):
            raise TypeError(f"{program.module}.build_parser() did not return an ArgumentParser")
        return from_parser(parser)
    spec = getattr(module, "CLI_SPEC", None)
    if isinstance(spec, Mapping):
        return from_spec(spec)
    raise NoCommandSource(f"{program.module} has neither build_parser() nor CLI_SPEC")


def loaded() -> list[tuple[Program, Command]]:
    """Every program with its model, in PROGRAMS order."""
    return [(program, load(program)) for program in PROGRAMS]


def walk(command: Command) -> Sequence[Command]:
    """The command and every subcommand under it, depth first."""
    out = [command]
    for sub in command.commands:
        out.extend(walk(sub))
    return out
