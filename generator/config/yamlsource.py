"""Reading one config file: a single YAML parser pass that keeps line:column for every node.

The parser's events are composed into PyYAML nodes (which carry their marks) and walked against
the settings table; values are only constructed for scalars, so a crafted file cannot make us
build large objects. Aliases are refused outright where they stand: an alias is how "billion
laughs" files grow, and a config has no use for them.
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

import yaml

from ..errors import ConfigError, Mark
from . import settings
from .scalars import Number, decimal, describe

try:  # libyaml's parser is several times faster; fall back when PyYAML was built without it
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 64 * 1024


class Located(NamedTuple):
    """A setting's raw value with the place it came from (list items keep their own marks)."""

    value: Any
    mark: Mark
    items: tuple[tuple[Any, Mark], ...] = ()


class SourceFile(NamedTuple):
    """The settings one file sets, keyed by dotted setting key, and its problems."""

    path: str
    values: dict[str, Located]
    errors: list[ConfigError]


def _mark(path: str, node: yaml.Node) -> Mark:
    return Mark(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``text[index]``, counting line breaks as
    YAML and editors do once U+0085, U+2028 and U+2029 are refused: \n, \r\n and \r."""
    before = text[:index]
    line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return line, index - start + 1


# What a person must look at for a parser error is the problem mark (where the parser gave up),
# except for a construct that was opened and never properly closed: the parser gives up at the
# end of the file or far below, and the place to look is where the construct starts.
_OPENED = {
    "while scanning a quoted scalar": "this quoted value is never closed",
    "while parsing a flow sequence": "this '[' list is never closed",
    "while parsing a flow mapping": "this '{' mapping is never closed",
    "while scanning a simple key": "this line has no ':' after its key",
}


def _yaml_error(path: str, error: yaml.YAMLError) -> ConfigError:
    problem_mark = getattr(error, "problem_mark", None)
    context_mark = getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    opened = _OPENED.get(getattr(error, "context", None) or "")
    if opened and context_mark is not None:
        hint = None
        if problem_mark is not None:
            where = f"line {problem_mark.line + 1}, column {problem_mark.column + 1}"
            if "end of stream" in problem:
                problem = "reached the end of the file"
            hint = f"the parser stopped at {where}: {problem}"
        mark = Mark(path, context_mark.line + 1, context_mark.column + 1)
        return ConfigError(mark, "(file)", f"invalid YAML: {opened}", hint)
    at = problem_mark or context_mark
    mark = Mark(path, at.line + 1, at.column + 1) if at is not None else Mark(path, 1, 1)
    return ConfigError(mark, "(file)", f"invalid YAML: {problem}")


# Characters YAML refuses (its printable set), plus the three that YAML 1.1 counts as line
# breaks and nobody else does: in a comment they would end it and turn the rest into settings,
# and they would shift every line number after them. Compiled only for a text that is not
# plainly printable: the generator reads configs at boot.
_REFUSED_CHARACTER = "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def _refused_character(text: str) -> re.Match[str] | None:
    if text.replace("\n", "").replace("\t", "").replace("\r", "").isprintable():
        return None  # str.isprintable() refuses every character YAML does, and more
    return re.search(_REFUSED_CHARACTER, text)


def _decode(data: bytes, path: str) -> tuple[str | None, ConfigError | None]:
    """The text of ``data``, or the error that names where it stops being a valid config text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        head = data[: error.start]
        line = head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1
        start = max(head.rfind(b"\n"), head.rfind(b"\r")) + 1
        column = len(head[start:].decode("utf-8", "replace")) + 1
        return None, ConfigError(
            Mark(path, line, column),
            "(file)",
            f"is not valid UTF-8 (byte 0x{data[error.start]:02X})",
            "save the file as UTF-8",
        )
    text = text.removeprefix("\ufeff")
    found = _refused_character(text)
    if found:
        line, column = _position(text, found.start())
        code = ord(found.group())
        if code in (0x85, 0x2028, 0x2029):
            message = (
                f"contains U+{code:04X}, which YAML 1.1 reads as a line break and editors do not"
            )
        else:
            message = f"contains the control character U+{code:04X}"
        return None, ConfigError(Mark(path, line, column), "(file)", message, "remove it")
    return text, None


def read_source(path: str, display: str | None = None, data: bytes | None = None) -> SourceFile:
    """Parse and structurally check one file; ``display`` is the name used in messages.

    ``data``: the file's bytes, already read (standard input, or bytes that must be the very
    ones shipped later); the file is then not opened again.
    """
    name = display or path
    result = SourceFile(name, {}, [])
    top = Mark(name, 1, 1)
    size = 0
    if data is None:
        try:
            with open(path, "rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                data = stream.read(MAX_BYTES + 1)
        except OSError as error:
            result.errors.append(ConfigError(top, "(file)", f"cannot read: {error.strerror}"))
            return result
    if max(size, len(data)) > MAX_BYTES:
        result.errors.append(
            ConfigError(
                top, "(file)", f"is larger than {MAX_BYTES} bytes", "a config is a few lines"
            )
        )
        return result
    text, bad = _decode(data, name)
    if bad is not None or text is None:
        result.errors.append(bad or ConfigError(top, "(file)", "cannot be read"))
        return result
    try:
        root = compose(text, name)
    except _Refused as refused:
        result.errors.append(ConfigError(refused.mark, "(file)", refused.message))
        return result
    except yaml.YAMLError as error:
        result.errors.append(_yaml_error(name, error))
        return result
    if root is None:
        hint = f"start with 'version: {settings.CONFIG_VERSION}'"
        result.errors.append(ConfigError(top, "(file)", "is empty", hint))
        return result
    _Walker(name, result).document(root)
    return result


class _Refused(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


_PLAIN_TAGS = frozenset(
    {None, "!"}
    | {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null", "float", "seq", "map")}
)
MAX_DEPTH = 32


def compose(data: str | bytes, name: str) -> yaml.Node | None:
    """Compose the single document of ``data`` into nodes, from the parser's events.

    PyYAML's own composer resolves an alias to the anchored node and forgets where the alias
    was; composing here refuses the alias at its own position, before anything is built from
    it, and refuses tags that would ask for a constructor other than the plain YAML types.
    """
    loader = _Loader(data)
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # document start
        root = _compose_node(loader, name, 0)
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            raise _Refused(
                _event_mark(name, loader.get_event()), "a config is a single YAML document"
            )
        return root
    finally:
        loader.dispose()


def _event_mark(name: str, event: Any) -> Mark:
    return Mark(name, event.start_mark.line + 1, event.start_mark.column + 1)


def _compose_node(loader: Any, name: str, depth: int) -> yaml.Node:
    # The C parser's events and marks are not the pure-Python classes the stubs describe.
    event: Any = loader.get_event()
    if isinstance(event, yaml.AliasEvent):
        raise _Refused(_event_mark(name, event), "YAML aliases are not allowed in a config")
    if depth > MAX_DEPTH:
        raise _Refused(_event_mark(name, event), f"nested deeper than {MAX_DEPTH} levels")
    start: Any = event.start_mark
    tag = getattr(event, "tag", None)
    if tag not in _PLAIN_TAGS:
        raise _Refused(_event_mark(name, event), f"the YAML tag {tag!r} is not allowed in a config")
    if isinstance(event, yaml.ScalarEvent):
        resolved = (
            tag
            if tag not in (None, "!")
            else loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        )
        return yaml.ScalarNode(resolved, event.value, start, start, event.style)
    if isinstance(event, yaml.SequenceStartEvent):
        items = []
        while not loader.check_event(yaml.SequenceEndEvent):
            items.append(_compose_node(loader, name, depth + 1))
        end: Any = loader.get_event()
        return yaml.SequenceNode("tag:yaml.org,2002:seq", items, start, end.end_mark)
    if isinstance(event, yaml.MappingStartEvent):
        pairs = []
        while not loader.check_event(yaml.MappingEndEvent):
            key = _compose_node(loader, name, depth + 1)
            pairs.append((key, _compose_node(loader, name, depth + 1)))
        end_map: Any = loader.get_event()
        return yaml.MappingNode("tag:yaml.org,2002:map", pairs, start, end_map.end_mark)
    raise _Refused(_event_mark(name, event), f"unexpected YAML event {type(event).__name__}")


class _Walker:
    def __init__(self, path: str, result: SourceFile) -> None:
        self.path = path
        self.result = result

    def error(self, node: yaml.Node, key: str, message: str, hint: str | None = None) -> None:
        self.result.errors.append(ConfigError(_mark(self.path, node), key, message, hint))

    def document(self, root: yaml.Node) -> None:
        if not isinstance(root, yaml.MappingNode):
            self.error(root, "(file)", "the document is not a mapping of settings")
            return
        pairs = self.pairs(root, "")
        version = pairs.get("version")
        if version is None:
            self.error(root, "version", "is missing", f"add 'version: {settings.CONFIG_VERSION}'")
            return
        _, version_node = version
        value = self.scalar(version_node, "version")
        if value is _INVALID:
            return  # already reported; keys mean different things in other versions
        if not (isinstance(value, Number) and decimal(value) == settings.CONFIG_VERSION):
            # Keys mean different things in other versions: check nothing else.
            self.error(
                version_node,
                "version",
                f"unsupported config version {describe(value)}",
                f"this ostree-autocleanup reads 'version: {settings.CONFIG_VERSION}'",
            )
            return
        self.mapping(pairs, None)

    def pairs(self, node: yaml.MappingNode, prefix: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.error(key_node, prefix.rstrip(".") or "(file)", "keys must be plain strings")
                continue
            key = key_node.value
            if key in out:
                self.error(key_node, prefix + key, "is set twice in this mapping")
                continue
            out[key] = (key_node, value_node)
        return out

    def mapping(self, pairs: dict[str, tuple[yaml.Node, yaml.Node]], section: str | None) -> None:
        allowed = settings.keys_in(section)
        prefix = f"{section}." if section else ""
        for key, (key_node, value_node) in pairs.items():
            full = prefix + key
            if key not in allowed:
                where = f"in '{section}'" if section else "at the top level"
                self.error(
                    key_node, full, f"unknown key {where}", settings.close_match(key, allowed)
                )
                continue
            if section is None and key == "version":
                continue
            if section is None and key in settings.SECTIONS:
                if not isinstance(value_node, yaml.MappingNode):
                    self.error(value_node, full, "expected a mapping of settings")
                    continue
                self.mapping(self.pairs(value_node, full + "."), key)
                continue
            self.leaf(full, value_node)

    def leaf(self, key: str, node: yaml.Node) -> None:
        mark = _mark(self.path, node)
        if isinstance(node, yaml.SequenceNode):
            # Every bad item is reported; the good ones are kept so that the validator reports
            # their problems too (an error on this key already makes the validator skip the
            # rules between settings that involve it).
            items: list[tuple[Any, Mark]] = []
            for item in node.value:
                value = self.item(item, key)
                if value is not _INVALID:
                    items.append((value, _mark(self.path, item)))
            self.result.values[key] = Located([v for v, _ in items], mark, tuple(items))
        elif isinstance(node, yaml.MappingNode):
            setting = settings.BY_KEY.get(key)
            if setting is not None and getattr(setting.kind, "accepts_mapping", False):
                self.mapping_leaf(key, node)
            else:
                self.error(node, key, "expected a value, got a mapping")
        else:
            value = self.scalar(node, key)
            if value is not _INVALID:
                self.result.values[key] = Located(value, mark)

    def mapping_leaf(self, key: str, node: yaml.MappingNode) -> None:
        """A setting whose value is a mapping of names to plain values or lists of them.

        Items are ((name, value, name mark, item marks), value mark), so that a bad name is
        reported at the name, a bad value at the value and a bad list item at the item.
        """
        pairs = self.pairs(node, key + ".")
        items: list[tuple[Any, Mark]] = []
        for name, (key_node, value_node) in pairs.items():
            value: Any
            marks: tuple[Mark, ...] = ()
            if isinstance(value_node, yaml.SequenceNode):
                kept = [(self.item(i, f"{key}.{name}"), i) for i in value_node.value]
                kept = [(v, i) for v, i in kept if v is not _INVALID]
                value = [v for v, _ in kept]
                marks = tuple(_mark(self.path, i) for _, i in kept)
            elif _is_blank(value_node):
                # YAML reads nothing as null, which drops the directive: with a
                # CapabilityBoundingSet that means every capability. Say which is meant.
                self.error(
                    value_node,
                    f"{key}.{name}",
                    "has no value",
                    "write null to remove the directive, or '' for an empty value",
                )
                continue
            else:
                value = self.scalar(value_node, f"{key}.{name}")
            if value is _INVALID:
                continue
            name_mark = _mark(self.path, key_node)
            items.append(((name, value, name_mark, marks), _mark(self.path, value_node)))
        mark = _mark(self.path, node)
        values = {item[0][0]: item[0][1] for item in items}
        self.result.values[key] = Located(values, mark, tuple(items))

    def item(self, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, key, "list items must be plain values")
            return _INVALID
        return self.scalar(node, key)

    def scalar(self, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, key, "expected a plain value")
            return _INVALID
        try:
            value = _CONSTRUCTOR.construct_object(node)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "cannot read this value"
            self.error(node, key, problem)
            return _INVALID
        if node.tag in _NUMBER_TAGS:
            # Keep the text: YAML 1.1 reads 010, 0x10, 1:30 and 1_0 in ways people do not.
            return Number(node.value, value)
        return value


def _is_blank(node: yaml.Node) -> bool:
    # A plain scalar: libyaml's events give it the style "", PyYAML's own parser None.
    return isinstance(node, yaml.ScalarNode) and not node.style and node.value == ""


_INVALID = object()
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
