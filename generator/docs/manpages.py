"""Man pages in roff, rendered from the command-line models (``clidoc``) and the settings table.

Nothing here is written by hand per option or per key: the pages of the three commands come from
the parsers (or ``CLI_SPEC``) that their ``--help`` comes from, and ostree-autocleanup.yaml(5)
from the table that validation and the JSON Schema come from. Only the few sections that no
parser knows (exit status, files, see also) are kept here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ...helper.version import VERSION
from ..config import settings
from ..config.layering import CONFIG_DIRS, DROPIN_DIR, DROPIN_SUFFIX, MAIN_NAME
from . import clidoc

CONFIG_PAGE = "ostree-autocleanup.yaml"
_MANUAL = "ostree-autocleanup"

# Sections that parsers do not carry: (title, paragraphs), per program.
_EXIT_STATUS = (
    "0 when the work is done (or there was nothing to do);",
    "1 when the work failed;",
    "2 on bad usage or a bad configuration.",
)
_CONFIG_FILES = tuple(f"{d}/{MAIN_NAME}" for d in CONFIG_DIRS) + tuple(
    f"{d}/{DROPIN_DIR}/*{DROPIN_SUFFIX}" for d in CONFIG_DIRS
)
_SEE_ALSO = {
    "ostree-autocleanup": ("ostree-autocleanup-generator(8)", "ostree-autocleanup-helper(8)"),
    "ostree-autocleanup-generator": ("ostree-autocleanup(8)", "systemd.generator(7)"),
    "ostree-autocleanup-helper": ("ostree-autocleanup(8)", "ostree-admin-cleanup(1)"),
}
_SEE_ALSO_COMMON = (f"{CONFIG_PAGE}(5)", "ostree(1)", "systemd.preset(5)")


# --- roff text --------------------------------------------------------------------------------

_CODE = re.compile(r"`([^`]+)`")
_WORD_DASH = re.compile(r"(?:(?<=^)|(?<=[\s(\[=,/|]))-")


def _escape_plain(text: str) -> str:
    """Escape roff's specials; a dash that starts a word is an option dash (``\\-``)."""
    text = text.replace("\\", "\\e")
    return _WORD_DASH.sub(r"\\-", text)


def _escape_code(text: str) -> str:
    return text.replace("\\", "\\e").replace("-", "\\-")


def inline(text: str) -> str:
    """Help text to roff: `code` spans become bold, dashes and backslashes are escaped."""
    out: list[str] = []
    last = 0
    for match in _CODE.finditer(text):
        out.append(_escape_plain(text[last : match.start()]))
        out.append(f"\\fB{_escape_code(match.group(1))}\\fR")
        last = match.end()
    out.append(_escape_plain(text[last:]))
    return "".join(out)


def _lines(text: str) -> str:
    """One roff text block; a line starting with a control character is protected."""
    joined = " ".join(text.split())
    if joined[:1] in (".", "'"):
        joined = "\\&" + joined
    return joined


def _paragraphs(text: str) -> list[str]:
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        if paragraph.strip():
            out += [".PP", _lines(inline(paragraph))]
    return out


_USAGE_TOKEN = re.compile(r"(--?[A-Za-z0-9][A-Za-z0-9-]*)|([A-Z][A-Z0-9_]*(?:\|[A-Z0-9_]+)*)")


def _usage(prog: str, line: str) -> str:
    """A synopsis line: the command and option names bold, placeholders italic."""
    out = [f"\\fB{_escape_code(prog)}\\fR"]
    rest: list[str] = []
    last = 0
    for match in _USAGE_TOKEN.finditer(line):
        rest.append(_escape_code(line[last : match.start()]))
        if match.group(1):
            rest.append(f"\\fB{_escape_code(match.group(1))}\\fR")
        else:
            rest.append(f"\\fI{_escape_code(match.group(2))}\\fR")
        last = match.end()
    rest.append(_escape_code(line[last:]))
    tail = "".join(rest).strip()
    if tail:
        out.append(tail)
    return " ".join(out)


def _option_head(option: clidoc.Option) -> str:
    names = ", ".join(f"\\fB{_escape_code(f)}\\fR" for f in option.flags)
    if option.metavar:
        names += f" \\fI{_escape_code(option.metavar)}\\fR"
    return names


def _option_body(option: clidoc.Option) -> str:
    text = inline(option.help) if option.help else ""
    if option.choices and not all(c in option.help for c in option.choices):
        text += " One of: " + ", ".join(f"\\fB{_escape_code(c)}\\fR" for c in option.choices)
        text += "."
    if option.repeat and "repeat" not in option.help.lower():
        text = text.rstrip(".") + ". May be given more than once."
    return _lines(text.strip()) or "\\&"


def _items(options: Iterable[clidoc.Option], arguments: Iterable[clidoc.Argument]) -> list[str]:
    out: list[str] = []
    for argument in arguments:
        out += [".TP", f"\\fI{_escape_code(argument.name)}\\fR", _lines(inline(argument.help))]
    for option in options:
        out += [".TP", _option_head(option), _option_body(option)]
    return out


def _header(title: str, section: int, source: str) -> list[str]:
    # The header line holds the title twice and the manual's name between; on an 80-column
    # terminal a long title leaves no room for the name, which would then be cut mid-word.
    fits = 2 * len(f"{title}({section})") + len(_MANUAL) + 4 <= 78
    manual = _MANUAL if fits else "\\&"
    return [
        f'.\\" Automatically generated by ostree-autocleanup {VERSION} from {source}.',
        '.\\" Do not edit: change the source and generate the page again.',
        f'.TH "{_escape_code(title.upper())}" "{section}" "" "{_MANUAL} {VERSION}" "{manual}"',
        # Option names and paths must stay whole: no hyphenation, no stretched lines.
        ".nh",
        ".ad l",
    ]


def _section(title: str) -> str:
    return f'.SH "{title}"' if " " in title else f".SH {title}"


def _see_also(names: Sequence[str]) -> list[str]:
    refs = []
    for name in names:
        page, _, rest = name.partition("(")
        refs.append(f"\\fB{_escape_code(page)}\\fR({rest}")
    return [_section("SEE ALSO"), ",\n".join(refs)]


def _list(items: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out += [".IP \\(bu 2", _lines(inline(item))]
    return out


def command_page(command: clidoc.Command, source: str) -> str:
    """The section 8 page of one program."""
    lines = _header(command.prog, 8, source)
    lines += [_section("NAME"), f"{_escape_code(command.prog)} \\- {inline(command.summary)}"]
    lines += [_section("SYNOPSIS")]
    for i, usage in enumerate(command.synopsis()):
        if i:
            lines.append(".br")
        lines.append(_usage(command.prog, usage))
    if command.description:
        lines += [_section("DESCRIPTION"), *_paragraphs(command.description)]
    if command.options or command.arguments:
        lines += [_section("OPTIONS"), *_items(command.options, command.arguments)]
    if command.commands:
        lines.append(_section("COMMANDS"))
        for sub in clidoc.walk(command)[1:]:
            name = sub.prog[len(command.prog) :].strip()
            lines += [f'.SS "{_escape_code(name)}"', _usage(sub.prog, sub.synopsis()[0])]
            for extra in sub.synopsis()[1:]:
                lines += [".br", _usage(sub.prog, extra)]
            lines += _paragraphs(sub.description or sub.summary)
            lines += _items(sub.options, sub.arguments)
    lines += [_section("EXIT STATUS"), *_list(_EXIT_STATUS)]
    if command.prog != "ostree-autocleanup-helper":
        lines += [
            _section("FILES"),
            ".PP",
            "The configuration, described in",
            f"\\fB{_escape_code(CONFIG_PAGE)}\\fR(5):",
            *_list([f"`{path}`" for path in _CONFIG_FILES]),
        ]
    lines += _see_also((*_SEE_ALSO.get(command.prog, ()), *_SEE_ALSO_COMMON))
    return "\n".join(lines) + "\n"


# --- ostree-autocleanup.yaml(5) -----------------------------------------------------------------


def _default_yaml(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _key_entry(setting: settings.Setting) -> list[str]:
    leaf = setting.key.split(".")[-1]
    default = setting.default_doc or _default_yaml(setting.default)
    return [
        ".TP",
        f"\\fB{_escape_code(leaf)}:\\fR \\fI{inline(setting.kind.describe())}\\fR",
        _lines(inline(setting.help)),
        ".br",
        f"Default: \\fB{_escape_code(default)}\\fR.",
    ]


def _example() -> list[str]:
    """The embedded default written out as YAML: every key with its default."""
    example = ["version: 1"]
    section = None
    for setting in settings.SETTINGS:
        if callable(setting.default):
            continue
        value = _default_yaml(setting.default)
        if setting.section is None:
            example.append(f"{setting.key}: {value}")
            continue
        if setting.section != section:
            section = setting.section
            example.append(f"{section}:")
        example.append(f"  {setting.key.split('.', 1)[1]}: {value}")
    return [".PP", ".nf", ".RS 4", *(_escape_code(line) for line in example), ".RE", ".fi"]


def config_page() -> str:
    """ostree-autocleanup.yaml(5): where the files are, how they layer, and every key."""
    lines = _header(CONFIG_PAGE, 5, "the settings table")
    lines += [
        _section("NAME"),
        f"{_escape_code(CONFIG_PAGE)} \\- ostree\\-autocleanup configuration",
    ]
    lines += [_section("SYNOPSIS"), ".nf", *(_escape_code(p) for p in _CONFIG_FILES), ".fi"]
    lines += [_section("DESCRIPTION")]
    lines += _paragraphs(
        "One YAML file describes how the system reclaims the disk space that staged OSTree "
        "deployments leave behind: the stamp that a successful finalization writes, the "
        "cleanup unit that runs at the next boot while the stamp exists, its sandbox and "
        "scheduling, and how it is enabled. `ostree-autocleanup render` and `install` and "
        "the generator all read it."
    )
    lines += _paragraphs(
        f"`{MAIN_NAME}` is read from the first of the directories {', '.join(CONFIG_DIRS)} "
        f"that has one. Drop-ins `{DROPIN_DIR}/*{DROPIN_SUFFIX}` are collected from all three "
        "directories (a name in a higher directory masks the same name in a lower one) and "
        "applied after the main file in lexical order of their names; a key set in a later "
        "file overrides it. With no file anywhere, the embedded default applies. "
        "`ostree-autocleanup -c FILE` reads the given files instead."
    )
    lines += _paragraphs(
        "Unknown keys, values of the wrong type and values that cannot be written safely "
        "into a unit file are errors, reported as `FILE:LINE:COLUMN: error: KEY: message`. "
        "`ostree-autocleanup schema` prints the JSON Schema of the file, which editors with "
        "a YAML language server use for completion and checking."
    )
    lines += [_section("KEYS"), ".TP", "\\fBversion:\\fR \\fIinteger\\fR"]
    lines += [
        f"Config format version; required, and \\fB{settings.CONFIG_VERSION}\\fR for this format."
    ]
    current: str | None = None
    for setting in settings.SETTINGS:
        if setting.section != current and setting.section is not None:
            current = setting.section
            lines += [
                f'.SS "{_escape_code(current)}:"',
                ".PP",
                f"Keys of the \\fB{current}\\fR mapping.",
            ]
        lines += _key_entry(setting)
    lines += [_section("EXAMPLE"), ".PP"]
    derived = ", ".join(
        f"\\fB{_escape_code(s.key)}\\fR" for s in settings.SETTINGS if callable(s.default)
    )
    lines += [
        "The embedded default. Keys with a derived default are left out, so that they keep",
        f"following the keys they are derived from: {derived}.",
    ]
    lines += _example()
    lines += _see_also(
        ("ostree-autocleanup(8)", "ostree-autocleanup-generator(8)", "systemd.unit(5)")
    )
    return "\n".join(lines) + "\n"


def all_pages() -> dict[str, str]:
    """File name -> roff for every page."""
    pages: dict[str, str] = {}
    for program, command in clidoc.loaded():
        pages[f"{program.prog}.8"] = command_page(command, f"the command line of {program.module}")
    pages[f"{CONFIG_PAGE}.5"] = config_page()
    return pages
