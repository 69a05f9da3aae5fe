"""The JSON Schema and the README's key reference both come from the settings table."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from ostree_autocleanup.generator import cli
from ostree_autocleanup.generator.config import settings
from ostree_autocleanup.generator.docs.reference import markdown_reference
from ostree_autocleanup.generator.docs.schema import json_schema

TOP = Path(__file__).parents[2]


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["cleanup"]["properties"]["mode"]["enum"] == ["full", "prune"]
    assert set(schema["properties"]) == set(settings.TOP_LEVEL_KEYS)


@pytest.mark.parametrize("example", sorted((TOP / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_satisfy_the_schema(example: Path) -> None:
    jsonschema.validate(yaml.safe_load(example.read_text()), json_schema())


def test_schema_rejects_what_the_loader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    assert not validator.is_valid({"version": 1, "cleanup": {"mdoe": "full"}})
    assert not validator.is_valid({"version": 2})
    assert not validator.is_valid({"version": 1, "scheduling": {"nice": 20}})
    assert validator.is_valid({"version": 1, "finalize": {"path-unit": False}})


def test_readme_reference_is_generated_from_the_table() -> None:
    readme = (TOP / "README.md").read_text()
    match = re.search(
        r"<!-- BEGIN config reference -->\n(.*?)<!-- END config reference -->", readme, re.S
    )
    assert match, "README.md lacks the generated config reference"
    assert match[1] == markdown_reference(), "run: ostree-autocleanup schema --format=markdown"
    for setting in settings.SETTINGS:
        assert f"| `{setting.key}` |" in match[1]


@pytest.mark.parametrize("package", ["generator", "helper"])
def test_sources_are_python_3_9_syntax(package: str) -> None:
    for path in sorted((TOP / package).glob("*.py")):
        ast.parse(path.read_text(), str(path), feature_version=(3, 9))
