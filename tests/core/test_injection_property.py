"""Property: whatever string value the validator accepts, the rendered files parse back into
exactly the directives we meant to write, with the value inside the directive it belongs to.

If a value could smuggle a line break, a section header, a continuation or a comment into a
unit, the parsed structure would differ from the baseline's and this test would fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.generator.config.validate import build_config
from ostree_autocleanup.generator.config.yamlsource import Located, SourceFile
from ostree_autocleanup.generator.errors import ConfigErrors, Mark
from ostree_autocleanup.generator.units.render import render
from support.unitfile import parse_unit

# Characters that matter to systemd's parser, mixed into otherwise ordinary text.
_TRICKY = [*list("\n\r\t\x00\x0b\x0c\x1b\x7f\x85\u2028 %\\[]#;=\"'$`/.-_@:"), "\\\n", "%n", "\n["]
_CHARS = st.one_of(st.sampled_from(_TRICKY), st.characters(codec="utf-8"))
_TEXT = st.lists(_CHARS, max_size=24).map("".join)

# Which setting lands in which directives, and how the value appears there.
_WHERE: dict[str, tuple[str, ...]] = {
    "name": (),  # names the files
    "sysroot": ("ExecStart", "ExecStop", "RequiresMountsFor"),
    "stamp": ("ConditionPathExists", "ExecStart", "ExecStop"),
    "cleanup.helper-path": ("ExecStart", "ExecStop"),
    "cleanup.timeout": ("TimeoutStartSec",),
    "finalize.unit": (),  # names the drop-in directory
    "install.wanted-by": ("WantedBy",),
}


def _config(key: str, value: Any) -> Any:
    source = SourceFile("prop.yaml", {key: Located(value, Mark("prop.yaml", 2, 1))}, [])
    try:
        return build_config([source])
    except ConfigErrors:
        return None


def _units(config: Any) -> dict[str, list[tuple[str, str, str]]]:
    return {p: parse_unit(t) for p, t in render(config).items() if not p.endswith(".preset")}


BASELINE = _units(build_config([]))


def _shape(units: dict[str, list[tuple[str, str, str]]]) -> dict[str, list[tuple[str, str]]]:
    # Keyed by role, not path: name and finalize.unit change the paths themselves.
    return {
        ("drop-in" if path.endswith(".conf") else "service"): [(s, k) for s, k, _ in directives]
        for path, directives in units.items()
    }


def _value_strategy(key: str) -> st.SearchStrategy[str]:
    if key in ("sysroot", "cleanup.helper-path"):
        return _TEXT.map(lambda t: "/" + t)
    if key == "stamp":
        return _TEXT.map(lambda t: "/sysroot/" + t)
    if key == "cleanup.timeout":
        return st.one_of(
            _TEXT,
            st.sampled_from(["30min", "1h 5min", "2.5h", "90"]).flatmap(
                lambda base: _TEXT.map(lambda t: base + t)
            ),
        )
    if key in ("finalize.unit",):
        return _TEXT.map(lambda t: t + ".service")
    if key in ("install.wanted-by",):
        return _TEXT.map(lambda t: t + ".target")
    return _TEXT


@pytest.mark.parametrize("key", sorted(_WHERE))
def test_accepted_values_render_exactly_the_intended_directives(key: str) -> None:
    accepted: list[str] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_value_strategy(key))
    def check(value: str) -> None:
        config = _config(key, value)
        if config is None:
            return
        accepted.append(value)
        units = _units(config)
        assert _shape(units) == _shape(BASELINE), f"{key}={value!r} changed the directives"
        for directives in units.values():
            for _section, directive, text in directives:
                if directive in _WHERE[key]:
                    tokens = [
                        part for word in text.split() for part in (word, word.split("=", 1)[-1])
                    ]
                    tokens = [t.lstrip("-") for t in tokens]
                    if value in text:
                        assert value in tokens or text == value, (directive, text, value)
        if key == "name":
            assert f"{value}-autocleanup.service" in " ".join(sorted(units))

    check()
    # The property must have been exercised on accepted values, not only on rejected ones.
    assert accepted, f"no accepted value was generated for {key}"
