"""Property: every config the validator accepts renders units that systemd accepts as written.

Configs are generated across every setting (hypothesis), with values that are right, nearly
right and wrong: odd numbers, time spans, names near the length limits, paths with '$' or '%',
sandbox directives with values from their own vocabulary and near it. Each accepted config is
rendered and its cleanup unit and the finalize unit with our drop-in are loaded by the real
``systemd-analyze verify`` of Debian 12 (systemd 252) and Debian 13 (systemd 257), among that
era's own units and the real upstream ostree units: it must print nothing at all.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.generator.config import directives, filenames
from ostree_autocleanup.generator.config.scalars import Number
from ostree_autocleanup.generator.config.validate import build_config
from ostree_autocleanup.generator.config.yamlsource import Located, SourceFile
from ostree_autocleanup.generator.errors import ConfigErrors, Mark
from support.directive_words import values as directive_values
from support.systemd_eras import Era, eras
from support.verify_config import verifier

MARK = Mark("prop.yaml", 2, 1)
LONGEST = filenames.longest_prefix()

_NAME_CHARS = st.sampled_from([*list("abcz09-_.:@ %$/"), "é"])
_NAMES = st.one_of(
    st.sampled_from(["ostree", "eos-updater", "my.os", "a", "x" * LONGEST, "x" * (LONGEST + 1)]),
    st.text(_NAME_CHARS, min_size=1, max_size=12),
)
_PATH_CHARS = st.sampled_from([*list("abc/._-$%:; @"), "${X}", "//", "/..", "é", "\\"])
_PATHS = st.one_of(
    st.sampled_from(["/sysroot", "/srv/os", "/", "/var/lib/os"]),
    st.lists(_PATH_CHARS, max_size=10).map(lambda t: "/" + "".join(t)),
)
_NUMBER_TEXTS = ["010", "0x10", "0b11", "1:30", "1_0", "1.0", "2.5", ".inf", "+5", "7", "-1:00"]


def _number(text: str) -> Number:
    import yaml

    value = yaml.safe_load(text)
    return Number(text, value) if isinstance(value, (int, float)) else Number(text, 0)


_INTEGERS = st.one_of(
    st.integers(-30, 120),
    st.sampled_from(_NUMBER_TEXTS).map(_number),
    st.sampled_from([True, "3", None]),
)
_TIMESPANS = st.one_of(
    st.sampled_from(
        ["30min", "1h 30min", "90", "infinity", "0", "1.5.5s", "584942y", "5s5", ".5s", "5 mo"]
    ),
    st.sampled_from(_NUMBER_TEXTS).map(_number),
    st.integers(0, 100000),
    st.text(st.sampled_from(list("0123456789 .smhinyM")), min_size=1, max_size=8),
)
_UNITS = st.one_of(
    st.sampled_from(["ostree-finalize-staged.service", "my-finalize.service", "a:b.service"]),
    st.text(_NAME_CHARS, min_size=1, max_size=8).map(lambda t: t + ".service"),
    st.just("f" * (filenames.longest_unit_with(".d") - len(".service")) + ".service"),
    st.sampled_from(["@x.service", "x@.service", "x@y.service", "x@y@z.service", ".x.service"]),
)
_TARGETS = st.one_of(
    st.sampled_from(["multi-user.target", "graphical.target", "-.target", "a:b.target"]),
    st.just("t" * (filenames.longest_unit_with(".wants") - len(".target")) + ".target"),
)
_DIRECTIVES = st.dictionaries(
    st.sampled_from(sorted(directives.DIRECTIVES)), st.none(), max_size=3
).flatmap(
    lambda chosen: st.fixed_dictionaries(
        {
            name: st.one_of(
                directive_values(name),
                st.lists(directive_values(name), min_size=1, max_size=2),
                st.none(),
                st.booleans(),
            )
            for name in chosen
        }
    )
)

SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    "name": _NAMES,
    "sysroot": _PATHS,
    "stamp": st.one_of(_PATHS, _PATHS.map(lambda p: "/sysroot" + p)),
    "sysroot-readonly": st.sampled_from([True, False, "yes", "no", "auto"]),
    "finalize.unit": _UNITS,
    "finalize.path-unit": st.sampled_from(["auto", "yes", "no", True]),
    "cleanup.mode": st.sampled_from(["full", "prune", "fast"]),
    "cleanup.backend": st.sampled_from(["helper", "ostree-cli"]),
    "cleanup.max-attempts": _INTEGERS,
    "cleanup.timeout": _TIMESPANS,
    "cleanup.helper-path": _PATHS,
    "cleanup.ostree-path": _PATHS,
    "scheduling.io-class": st.sampled_from(["idle", "best-effort"]),
    "scheduling.io-priority": _INTEGERS,
    "scheduling.pacing": st.sampled_from(["on", "off", True]),
    "scheduling.cpu-policy": st.sampled_from(["idle", "batch", "other"]),
    "scheduling.nice": _INTEGERS,
    "sandbox.read-write-paths": st.lists(_PATHS, min_size=1, max_size=3),
    "sandbox.directives": _DIRECTIVES,
    "install.wanted-by": _TARGETS,
    "install.preset-priority": _INTEGERS,
}
# sandbox.directives is drawn more often: it has the most values of its own.
_KEYS = st.sampled_from([*sorted(SETTINGS), *["sandbox.directives"] * 4])
_CONFIGS = st.dictionaries(_KEYS, st.none(), max_size=7).flatmap(
    lambda keys: st.fixed_dictionaries({key: SETTINGS[key] for key in keys})
)


def _located(key: str, value: Any) -> Located:
    if key == "sandbox.directives":
        items = tuple(((n, v, MARK, ()), MARK) for n, v in value.items())
        return Located(value, MARK, items)
    if isinstance(value, list):
        return Located(value, MARK, tuple((v, MARK) for v in value))
    return Located(value, MARK)


def configs(count: int) -> tuple[list[Any], int]:
    """Accepted configs among ``count`` generated ones, and how many were refused."""
    chosen: list[Any] = []
    refused = 0

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_CONFIGS)
    def collect(raw: dict[str, Any]) -> None:
        nonlocal refused
        source = SourceFile("prop.yaml", {k: _located(k, v) for k, v in raw.items()}, [])
        try:
            chosen.append(build_config([source]))
        except ConfigErrors:
            refused += 1

    collect()
    for raw in EXPLICIT:
        source = SourceFile("prop.yaml", {k: _located(k, v) for k, v in raw.items()}, [])
        chosen.append(build_config([source]))
    return list(dict.fromkeys(chosen)), refused


# Always in the property, whatever is generated: every name at its longest.
_LONG_UNIT = "f" * (filenames.longest_unit_with(".d") - len(".service")) + ".service"
_LONG_TARGET = "t" * (filenames.longest_unit_with(".wants") - len(".target")) + ".target"
EXPLICIT: list[dict[str, Any]] = [
    {"name": "n" * LONGEST},
    {"name": "n" * LONGEST, "finalize.unit": _LONG_UNIT, "install.wanted-by": _LONG_TARGET},
    {"finalize.unit": _LONG_UNIT, "install.preset-priority": 0},
    {"name": "x" * LONGEST, "cleanup.mode": "prune", "sysroot-readonly": True},
]


ACCEPTED, REFUSED = configs(600)


def test_the_generated_configs_exercise_both_sides() -> None:
    assert len(ACCEPTED) >= 100, (len(ACCEPTED), REFUSED)
    assert REFUSED >= 100
    # Among the accepted: overrides of the sandbox, odd names and timeouts, both modes.
    assert sum(bool(c.sandbox.directives) for c in ACCEPTED) >= 30
    assert {c.cleanup.mode for c in ACCEPTED} == {"full", "prune"}
    assert any(len(c.name) == LONGEST for c in ACCEPTED)


@pytest.mark.parametrize(("era_id", "era", "why"), eras(), ids=[e[0] for e in eras()])
def test_every_accepted_config_verifies_without_a_warning(
    era_id: str, era: Era | None, why: str
) -> None:
    if era is None:
        pytest.skip(why)
    failures = []
    with verifier(era) as check:
        for config in ACCEPTED:
            result = check.verify(config)
            if result.returncode != 0 or result.stderr:
                failures.append((config, result.stderr.strip()))
    assert not failures, f"{len(failures)} of {len(ACCEPTED)} warned, e.g. {failures[:3]}"
