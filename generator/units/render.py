"""Config -> unit files. A pure function: no I/O but reading the templates, no clock, no host.

Every value that reaches a template went through the validator already; the ``finalize`` hook
below checks each rendered expression once more, so a validator bug cannot become an injected
directive.
"""

from __future__ import annotations

import os
from typing import Any

import jinja2

from ...helper.version import VERSION
from ..config import directives, unitsafe
from ..config.model import Config
from . import hardening

# ostree_autocleanup/, which holds templates/ and presets/ beside generator/.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE_DIRS = (os.path.join(_PACKAGE, "templates"), os.path.join(_PACKAGE, "presets"))

UNIT_DIR = "usr/lib/systemd/system"
PRESET_DIR = "usr/lib/systemd/system-preset"

SERVICE_TEMPLATE = "autocleanup.service.j2"
DROPIN_TEMPLATE = "finalize-dropin.conf.j2"
PRESET_TEMPLATE = "autocleanup.preset.j2"
TIMER_TEMPLATE = "autocleanup.timer.j2"


class RenderError(Exception):
    """A value that must not be written into a unit file reached a template."""


class _Literal(str):
    """The value of a directive that systemd reads without expanding % specifiers."""


def _checked(value: Any) -> Any:
    if isinstance(value, str):
        specifiers = not isinstance(value, _Literal)
        problem = unitsafe.line_problem(value.strip(), specifiers) if value.strip() else None
        if problem or "\n" in value:
            raise RenderError(f"refusing to render {value!r}: {problem or 'line break'}")
    return value


def _comment(value: str) -> str:
    # Config file names are not config values: make any odd character visible instead of
    # letting it end the comment line.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


def _expands(name: str) -> bool:
    known = directives.DIRECTIVES.get(name)
    return known is None or known.specifiers  # anything not in the table: assume it expands


_ENV: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATE_DIRS),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_checked,
        )
        env.filters["comment"] = _comment
        _ENV = env
    return _ENV


def _context(config: Config, source_path: str | None) -> dict[str, Any]:
    mounts = [config.sysroot] + (["/boot"] if config.cleanup.mode == "full" else [])
    return {
        "config": config,
        "version": VERSION,
        "source_path": source_path,
        "mounts": " ".join(mounts),
        "sandbox": [
            (name, value if _expands(name) else _Literal(value))
            for name, value in hardening.directives(config)
        ],
    }


def render_units(config: Config, source_path: str | None = None) -> dict[str, str]:
    """The unit, the finalize drop-in and, with scheduling.delay, the timer, keyed by path
    relative to a unit directory.

    ``source_path`` sets SourcePath=, which generators use to name the file they read.
    """
    env = environment()
    context = _context(config, source_path)
    units = {
        config.unit_name: env.get_template(SERVICE_TEMPLATE).render(context),
        f"{config.finalize.unit}.d/{config.dropin_name}": env.get_template(DROPIN_TEMPLATE).render(
            context
        ),
    }
    if config.scheduling.delayed:
        units[config.timer_name] = env.get_template(TIMER_TEMPLATE).render(context)
    return units


def render_preset(config: Config) -> str:
    return environment().get_template(PRESET_TEMPLATE).render(_context(config, None))


def render(config: Config) -> dict[str, str]:
    """All files for an image root, keyed by path relative to the root, in sorted order."""
    files = {f"{UNIT_DIR}/{path}": text for path, text in render_units(config).items()}
    files[f"{PRESET_DIR}/{config.preset_name}"] = render_preset(config)
    return dict(sorted(files.items()))
