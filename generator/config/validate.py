"""From the settings that files set to a frozen Config, collecting every problem at once."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ConfigErrors
from . import directives, settings, unitsafe
from .model import (
    CleanupConfig,
    Config,
    FinalizeConfig,
    InstallConfig,
    SandboxConfig,
    SchedulingConfig,
)
from .yamlsource import Located, SourceFile


def merge(sources: Sequence[SourceFile]) -> dict[str, Located]:
    """Later files override earlier ones key by key; a list replaces the whole list, a mapping
    of directives is merged directive by directive."""
    merged: dict[str, Located] = {}
    for source in sources:
        for key, located in source.values.items():
            earlier = merged.get(key)
            if earlier is not None and isinstance(settings.BY_KEY[key].kind, settings.DirectiveMap):
                # Directive overrides merge directive by directive, so that a drop-in can
                # change one without repeating the others.
                located = _merge_directives(earlier, located)
            merged[key] = located
    return merged


def _merge_directives(earlier: Located, later: Located) -> Located:
    items = {item[0][0]: item for item in earlier.items}
    items.update({item[0][0]: item for item in later.items})
    value = {name: item[0][1] for name, item in items.items()}
    return Located(value, later.mark, tuple(items.values()))


def build_config(sources: Sequence[SourceFile], origins: tuple[str, ...] = ()) -> Config:
    """Validate the settings of ``sources``; raise ConfigErrors listing every problem.

    Every file's values are checked where they stand, also those that a later file overrides:
    a bad value is a mistake in its file, which is reported, as systemd reports a bad line
    that a drop-in overrides. Later files then override earlier ones key by key.
    """
    errors: list[ConfigError] = [e for s in sources for e in s.errors]
    chosen: dict[str, Any] = {}
    for source in sources:
        for key, located in source.values.items():
            setting = settings.BY_KEY[key]
            value = _check(setting, located, errors)
            if value is _FAILED:
                continue
            if isinstance(setting.kind, settings.DirectiveMap) and key in chosen:
                value = tuple({**dict(chosen[key]), **dict(value)}.items())
            chosen[key] = value
    values: dict[str, Any] = {}
    for setting in settings.SETTINGS:
        if setting.key in chosen:
            values[setting.key] = chosen[setting.key]
        else:
            values[setting.key] = setting.default_for(values)
    failed = {e.key for e in errors}
    errors.extend(_cross_checks(values, merge(sources), failed))
    if errors:
        raise ConfigErrors(errors)
    return _assemble(values, origins)


_FAILED = object()


def _check(setting: settings.Setting, located: Located, errors: list[ConfigError]) -> Any:
    try:
        value = setting.kind.parse(located.value)
    except settings.Problem as problem:
        errors.append(ConfigError(located.mark, setting.key, problem.message, problem.hint))
        return _FAILED
    if isinstance(setting.kind, settings.PathList):
        return _check_items(setting, located, errors)
    if isinstance(setting.kind, settings.DirectiveMap):
        return _check_directives(setting, located, errors)
    return value


def _check_items(
    setting: settings.Setting, located: Located, errors: list[ConfigError]
) -> tuple[str, ...]:
    assert isinstance(setting.kind, settings.PathList)
    good: list[str] = []
    for value, mark in located.items:
        try:
            path = setting.kind.item.parse(value)
        except settings.Problem as problem:
            errors.append(ConfigError(mark, setting.key, problem.message, problem.hint))
            continue
        if path in good:
            errors.append(ConfigError(mark, setting.key, f"{path!r} is listed twice"))
            continue
        good.append(path)
    return tuple(good)


def _check_directives(
    setting: settings.Setting, located: Located, errors: list[ConfigError]
) -> tuple[directives.Override, ...]:
    out: list[directives.Override] = []
    for (name, value, name_mark, item_marks), value_mark in located.items:
        key = f"{setting.key}.{name}"
        problem = directives.name_problem(name)
        if problem is not None:
            errors.append(ConfigError(name_mark, key, problem[0], problem[1]))
            continue
        if value is None:
            out.append((name, None))
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            errors.append(
                ConfigError(
                    value_mark,
                    key,
                    "is an empty list, which writes no line and so removes the directive",
                    "write null to remove it, or '' for an empty value",
                )
            )
            continue
        if isinstance(value, list) and len(value) > 1 and not directives.DIRECTIVES[name].many:
            errors.append(
                ConfigError(
                    value_mark,
                    key,
                    f"takes one value: with several {name}= lines, systemd uses only the last",
                )
            )
            continue
        lines = []
        for item, item_mark in zip(values, item_marks or (value_mark,)):
            try:
                lines.append(directives.value_text(name, item))
            except ValueError as problem_text:
                errors.append(ConfigError(item_mark, key, str(problem_text)))
        if len(lines) == len(values):
            out.append((name, tuple(lines)))
    return tuple(out)


def _where(given: dict[str, Located], *keys: str) -> Located | None:
    for key in keys:
        if key in given:
            return given[key]
    return None


def _cross_checks(
    values: dict[str, Any], given: dict[str, Located], failed: set[str]
) -> list[ConfigError]:
    """Rules between settings; each is reported at the value the user wrote.

    A rule whose inputs already failed their own checks is skipped: one mistake, one message.
    """
    errors: list[ConfigError] = []
    if (
        values["sysroot-readonly"] == "yes"
        and values["cleanup.backend"] == "ostree-cli"
        and not failed & {"sysroot-readonly", "cleanup.backend"}
    ):
        at = _where(given, "sysroot-readonly", "cleanup.backend")
        if at is not None:
            errors.append(
                ConfigError(
                    at.mark,
                    "sysroot-readonly",
                    "the ostree-cli backend cannot clean a read-only sysroot: its touch and rm "
                    "of the stamp run where the sysroot stays read-only, and `ostree prune` "
                    "never remounts it",
                    "use cleanup.backend: helper",
                )
            )
    if failed & {"sysroot", "stamp"}:
        return errors
    sysroot, stamp = values["sysroot"], values["stamp"]
    if not unitsafe.is_within(stamp, sysroot):
        at = _where(given, "stamp", "sysroot")
        if at is not None:
            key = "stamp" if "stamp" in given else "sysroot"
            errors.append(
                ConfigError(
                    at.mark,
                    key,
                    f"stamp {stamp!r} is not inside the sysroot {sysroot!r}",
                    f"for example '{os.path.join(sysroot, '.cleanup')}'",
                )
            )
        return errors
    if "sandbox.read-write-paths" in failed:
        return errors
    paths = values["sandbox.read-write-paths"]
    stamp_dir = os.path.dirname(stamp)
    if not any(stamp_dir == p or unitsafe.is_within(stamp_dir, p) for p in paths):
        at = _where(given, "sandbox.read-write-paths", "stamp", "sysroot", "cleanup.mode")
        if at is not None:
            errors.append(
                ConfigError(
                    at.mark,
                    "sandbox.read-write-paths",
                    f"does not include {stamp_dir!r}, the directory of the stamp",
                    "the cleanup must be able to remove the stamp, or it runs again at every boot",
                )
            )
    return errors


def _assemble(v: dict[str, Any], origins: tuple[str, ...]) -> Config:
    return Config(
        name=v["name"],
        sysroot=v["sysroot"],
        stamp=v["stamp"],
        finalize=FinalizeConfig(unit=v["finalize.unit"], path_unit=v["finalize.path-unit"]),
        cleanup=CleanupConfig(
            mode=v["cleanup.mode"],
            backend=v["cleanup.backend"],
            max_attempts=v["cleanup.max-attempts"],
            timeout=v["cleanup.timeout"],
            helper_path=v["cleanup.helper-path"],
            ostree_path=v["cleanup.ostree-path"],
        ),
        scheduling=SchedulingConfig(
            io_class=v["scheduling.io-class"],
            io_priority=v["scheduling.io-priority"],
            pacing=v["scheduling.pacing"],
            cpu_policy=v["scheduling.cpu-policy"],
            nice=v["scheduling.nice"],
            on_battery=v["scheduling.on-battery"],
            delay=v["scheduling.delay"],
        ),
        sandbox=SandboxConfig(
            read_write_paths=tuple(v["sandbox.read-write-paths"]),
            directives=tuple(v["sandbox.directives"]) if v["sandbox.directives"] else (),
        ),
        install=InstallConfig(
            wanted_by=v["install.wanted-by"], preset_priority=v["install.preset-priority"]
        ),
        sources=origins,
        sysroot_readonly=v["sysroot-readonly"] == "yes",
    )


def default_config() -> Config:
    """The embedded default: every setting at its default."""
    return build_config(())
