"""The reference of every config key, in Markdown, built from the settings table."""

from __future__ import annotations

from ..config import settings


def _default_text(setting: settings.Setting) -> str:
    if setting.default_doc:
        return setting.default_doc
    default = setting.default
    if isinstance(default, tuple):
        return "[" + ", ".join(default) + "]"
    return str(default)


def markdown_reference() -> str:
    """One table row per key: key, type, default, meaning."""
    lines = [
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
        f"| `version` | integer | (required) | Config format version: `{settings.CONFIG_VERSION}`. |",
    ]
    for s in settings.SETTINGS:
        lines.append(f"| `{s.key}` | {s.kind.describe()} | `{_default_text(s)}` | {s.help} |")
    return "\n".join(lines) + "\n"
