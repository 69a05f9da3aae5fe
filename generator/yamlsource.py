"""Reading one config file: a single YAML parser pass that keeps line:column for every node.

The file is composed into PyYAML nodes (which carry their marks) and walked against the
settings table; values are only constructed for scalars, so a crafted file cannot make us build
large objects. Aliases are refused outright: an alias is how "billion laughs" files grow, and a
config has no use for them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from . import settings
from .errors import ConfigError, Mark

try:  # libyaml's parser is several times faster; fall back when PyYAML was built without it
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Located:
    """A setting's raw value with the place it came from (list items keep their own marks)."""

    value: Any
    mark: Mark
    items: tuple[tuple[Any, Mark], ...] = ()


@dataclass
class SourceFile:
    """The settings one file sets, keyed by dotted setting key, and its problems."""

    path: str
    values: dict[str, Located]
    errors: list[ConfigError]


def _mark(path: str, node: yaml.Node) -> Mark:
    return Mark(path, node.start_mark.line + 1, node.start_mark.column + 1)


def _error_mark(path: str, error: yaml.YAMLError) -> Mark:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        position = getattr(error, "position", None)  # ReaderError: a byte offset only
        return Mark(path, 1, (position or 0) + 1)
    return Mark(path, mark.line + 1, mark.column + 1)


def read_source(path: str, display: str | None = None) -> SourceFile:
    """Parse and structurally check one file; ``display`` is the name used in messages."""
    name = display or path
    result = SourceFile(name, {}, [])
    top = Mark(name, 1, 1)
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
    try:
        root = yaml.compose(data, Loader=_Loader)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        result.errors.append(
            ConfigError(_error_mark(name, error), "(file)", f"invalid YAML: {problem}")
        )
        return result
    if root is None:
        result.errors.append(
            ConfigError(
                top, "(file)", "is empty", f"start with 'version: {settings.CONFIG_VERSION}'"
            )
        )
        return result
    _Walker(name, result).document(root)
    return result


class _Walker:
    def __init__(self, path: str, result: SourceFile) -> None:
        self.path = path
        self.result = result
        self.seen: set[int] = set()

    def error(self, node: yaml.Node, key: str, message: str, hint: str | None = None) -> None:
        self.result.errors.append(ConfigError(_mark(self.path, node), key, message, hint))

    def fresh(self, node: yaml.Node, key: str) -> bool:
        # The composer hands back the anchored node again for every alias: a node met twice
        # is an alias.
        if id(node) in self.seen:
            self.error(node, key, "YAML aliases are not allowed in a config")
            return False
        self.seen.add(id(node))
        return True

    def document(self, root: yaml.Node) -> None:
        if not isinstance(root, yaml.MappingNode):
            self.error(root, "(file)", "the document is not a mapping of settings")
            return
        pairs = self.pairs(root, "")
        if pairs is None:
            return
        version = pairs.get("version")
        if version is None:
            self.error(root, "version", "is missing", f"add 'version: {settings.CONFIG_VERSION}'")
            return
        _, version_node = version
        value = self.scalar(version_node, "version")
        if value != settings.CONFIG_VERSION or isinstance(value, bool):
            # Keys mean different things in other versions: check nothing else.
            self.error(
                version_node,
                "version",
                f"unsupported config version {value!r}",
                f"this ostree-autocleanup reads version {settings.CONFIG_VERSION}",
            )
            return
        self.mapping(pairs, None)

    def pairs(
        self, node: yaml.MappingNode, prefix: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if not self.fresh(node, prefix.rstrip(".") or "(file)"):
            return None
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
                inner = self.pairs(value_node, full + ".")
                if inner is not None:
                    self.mapping(inner, key)
                continue
            self.leaf(full, value_node)

    def leaf(self, key: str, node: yaml.Node) -> None:
        if not self.fresh(node, key):
            return
        mark = _mark(self.path, node)
        if isinstance(node, yaml.SequenceNode):
            items: list[tuple[Any, Mark]] = []
            for item in node.value:
                if not self.fresh(item, key):
                    return
                if not isinstance(item, yaml.ScalarNode):
                    self.error(item, key, "list items must be plain values")
                    return
                value = self.scalar(item, key)
                if value is _INVALID:
                    return
                items.append((value, _mark(self.path, item)))
            self.result.values[key] = Located([v for v, _ in items], mark, tuple(items))
        elif isinstance(node, yaml.MappingNode):
            self.error(node, key, "expected a value, got a mapping")
        else:
            value = self.scalar(node, key)
            if value is not _INVALID:
                self.result.values[key] = Located(value, mark)

    def scalar(self, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, key, "expected a plain value")
            return _INVALID
        try:
            return _CONSTRUCTOR.construct_object(node)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "cannot read this value"
            self.error(node, key, problem)
            return _INVALID


_INVALID = object()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
