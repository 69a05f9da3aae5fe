"""The JSON Schema of the config, built from the settings table."""

from __future__ import annotations

from typing import Any

from ..config import settings

SCHEMA_ID = "https://ostree-autocleanup.invalid/schema/config-v1.json"


def _describe(setting: settings.Setting) -> dict[str, Any]:
    out = dict(setting.kind.schema())
    out["description"] = setting.help
    if not callable(setting.default):
        default = setting.default
        out["default"] = list(default) if isinstance(default, tuple) else default
    return out


def json_schema() -> dict[str, Any]:
    """A draft 2020-12 schema; ``additionalProperties: false`` everywhere, as the loader is."""
    properties: dict[str, Any] = {
        "version": {"const": settings.CONFIG_VERSION, "description": "Config format version."}
    }
    for setting in settings.SETTINGS:
        if setting.section is None:
            properties[setting.key] = _describe(setting)
            continue
        section = properties.setdefault(
            setting.section,
            {"type": "object", "additionalProperties": False, "properties": {}},
        )
        section["properties"][setting.key.split(".", 1)[1]] = _describe(setting)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ostree-autocleanup configuration",
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "properties": properties,
    }
