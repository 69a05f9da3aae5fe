"""The JSON Schema as editors get it: the file the examples' yaml-language-server modelines
point at is the output of `ostree-autocleanup schema`, editors limited to draft-07 can read all
of it, and it accepts the examples as an editor reads them (YAML 1.2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ostree_autocleanup.generator import cli
from ostree_autocleanup.generator.docs import distfiles
from ostree_autocleanup.generator.docs.schema import json_schema

TOP = Path(__file__).parents[2]
SCHEMA_FILE = TOP / "docs" / "config.schema.json"
EXAMPLES = sorted((TOP / "examples").glob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)

# Every keyword draft-07 defines (validation, applicators, annotations, core).
DRAFT7_KEYWORDS = {
    "$schema", "$id", "$ref", "$comment", "definitions", "title", "description", "default",
    "examples", "readOnly", "writeOnly", "type", "enum", "const", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "items", "additionalItems", "maxItems", "minItems", "uniqueItems", "contains",
    "maxProperties", "minProperties", "required", "properties", "patternProperties",
    "additionalProperties", "dependencies", "propertyNames", "if", "then", "else", "allOf",
    "anyOf", "oneOf", "not", "format", "contentMediaType", "contentEncoding",
}  # fmt: skip


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def test_schema_file_is_the_schema_command_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "docs/config.schema.json is stale: .venv/bin/ostree-autocleanup schema > docs/config.schema.json"
    )
    assert distfiles.schema_text() == schema_text()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_modeline_points_at_the_schema(example: Path) -> None:
    targets = MODELINE.findall(example.read_text())
    assert len(targets) == 1, f"{example.name}: needs one yaml-language-server modeline"
    assert (example.parent / targets[0]).resolve() == SCHEMA_FILE.resolve()


def _keywords(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                for sub in value.values():
                    _keywords(sub, out)
                continue
            out.add(key)
            _keywords(value, out)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, out)
    return out


def test_schema_uses_only_draft7_keywords() -> None:
    used = _keywords(json_schema(), set())
    assert used <= DRAFT7_KEYWORDS, f"not in draft-07: {sorted(used - DRAFT7_KEYWORDS)}"
    jsonschema.Draft7Validator.check_schema(
        {**json_schema(), "$schema": "http://json-schema.org/draft-07/schema#"}
    )


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans, as yaml-language-server reads a file: only true/false."""


Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_editor_accepts_the_examples(example: Path) -> None:
    document = yaml.load(example.read_text(), Loader=Yaml12Loader)
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    errors = [e.message for e in validator.iter_errors(document)]
    assert not errors, errors


def test_editor_flags_a_typo() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    assert not validator.is_valid({"version": 1, "cleanup": {"max-atempts": 3}})
    assert not validator.is_valid({"version": 1, "scheduling": {"io-class": "realtime"}})
