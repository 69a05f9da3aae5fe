"""Property: whatever string value the validator accepts, the rendered files parse back into
exactly the directives we meant to write, with the value whole inside each directive it
belongs to.

Every setting that takes free text is covered (name, the paths, the unit names, the time span,
the list of writable paths and sandbox directive values). If a value could smuggle a line
break, a section header, a continuation or a comment into a unit, the parsed structure would
differ from the baseline's; if it were split, quoted or rewritten on its way, it would not be
found whole where it belongs. Both are asserted for every accepted value.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.generator.config.model import Config
from ostree_autocleanup.generator.config.validate import build_config
from ostree_autocleanup.generator.config.yamlsource import Located, SourceFile
from ostree_autocleanup.generator.errors import ConfigErrors, Mark
from ostree_autocleanup.generator.units.render import render
from support.unitfile import parse_unit

# Characters that matter to systemd's parser, mixed into otherwise ordinary text.
_TRICKY = [*list("\n\r\t\x00\x0b\x0c\x1b\x7f\x85\u2028 %\\[]#;=\"'$`/.-_@:~"), "\\\n", "%n", "\n["]
_CHARS = st.one_of(st.sampled_from(_TRICKY), st.characters(codec="utf-8"))
_TEXT = st.lists(_CHARS, max_size=24).map("".join)
MARK = Mark("prop.yaml", 2, 1)

Units = dict[str, list[tuple[str, str, str]]]


def _role(path: str) -> str:
    if path.endswith(".preset"):
        return "preset"
    return "drop-in" if path.endswith(".conf") else "service"


def _units(config: Config) -> Units:
    """The rendered files by role, parsed (the preset as its lines)."""
    out: Units = {}
    for path, text in render(config).items():
        if path.endswith(".preset"):
            lines = [line for line in text.splitlines() if line and not line.startswith("#")]
            out["preset"] = [("", "preset", line) for line in lines]
        else:
            out[_role(path)] = parse_unit(text)
    return out


def _tokens(text: str) -> list[str]:
    """The words of a directive value, also without a leading '-' or an option's '--x='."""
    words = text.split(" ")
    return [t for word in words for t in (word, word.lstrip("-"), word.split("=", 1)[-1])]


def _shape(units: Units, skip: str = "") -> dict[str, list[tuple[str, str]]]:
    return {role: [(s, k) for s, k, _ in ds if k != skip] for role, ds in units.items()}


class Case:
    """One free-text setting: how to generate its values, the settings it needs beside it, and
    where an accepted value must appear (directive -> how it appears there)."""

    def __init__(
        self,
        values: st.SearchStrategy[Any],
        where: Callable[[Any, Config, Units], None],
        companions: dict[str, Any] | None = None,
    ) -> None:
        self.values = values
        self.where = where
        self.companions = companions or {}


def _in_every(*directives: str) -> Callable[[Any, Config, Units], None]:
    def check(value: Any, config: Config, units: Units) -> None:
        for directive in directives:
            found = [v for ds in units.values() for _s, k, v in ds if k == directive]
            assert any(value in _tokens(text) for text in found), (directive, found, value)

    return check


def _name(value: Any, config: Config, units: Units) -> None:
    assert f"usr/lib/systemd/system/{value}-autocleanup.service" in render(config)
    assert f"enable {value}-autocleanup.service" in [v for _s, _k, v in units["preset"]]


def _finalize_unit(value: Any, config: Config, units: Units) -> None:
    assert any(p.startswith(f"usr/lib/systemd/system/{value}.d/") for p in render(config))


def _read_write_paths(value: Any, config: Config, units: Units) -> None:
    (found,) = [v for _s, k, v in units["service"] if k == "ReadWritePaths"]
    assert found.split(" ") == value, (found, value)


def _timeout(value: Any, config: Config, units: Units) -> None:
    assert [v for _s, k, v in units["service"] if k == "TimeoutStartSec"] == [value]


def _directive(name: str) -> Callable[[Any, Config, Units], None]:
    def check(value: Any, config: Config, units: Units) -> None:
        lines = [v for _s, k, v in units["service"] if k == name]
        assert lines == [value], (name, lines, value)

    return check


def _suffixed(base: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(_TEXT, st.sampled_from(base).flatmap(lambda b: _TEXT.map(lambda t: b + t)))


_PATH = _TEXT.map(lambda t: "/" + t)
CASES: dict[str, Case] = {
    "name": Case(_TEXT, _name),
    "sysroot": Case(_PATH, _in_every("ExecStart", "ExecStop", "RequiresMountsFor", "ReadWritePaths")),
    "stamp": Case(_TEXT.map(lambda t: "/sysroot/" + t), _in_every("ConditionPathExists", "ExecStart", "ExecStop")),
    "cleanup.helper-path": Case(_PATH, _in_every("ExecStart", "ExecStop")),
    "cleanup.ostree-path": Case(_PATH, _in_every("ExecStart"), {"cleanup.backend": "ostree-cli"}),
    "cleanup.timeout": Case(_suffixed(["30min", "1h 5min", "2.5h", "90"]), _timeout),
    "finalize.unit": Case(_TEXT.map(lambda t: t + ".service"), _finalize_unit),
    "install.wanted-by": Case(_TEXT.map(lambda t: t + ".target"), _in_every("WantedBy")),
    "sandbox.read-write-paths": Case(
        st.lists(_PATH, min_size=1, max_size=3).map(lambda p: ["/sysroot", *p]), _read_write_paths
    ),
    "sandbox.directives.ReadOnlyPaths": Case(_PATH, _directive("ReadOnlyPaths")),
    "sandbox.directives.CPUQuota": Case(
        st.one_of(_suffixed(["50%", "5", "150%"]), st.integers(1, 9999).map(lambda n: f"{n}%")),
        _directive("CPUQuota"),
    ),
    "sandbox.directives.SystemCallFilter": Case(
        st.one_of(
            _suffixed(["@system-service", "~@mount", "mount"]),
            st.lists(st.sampled_from(["@mount", "mount", "kill:EPERM", "@privileged"]), min_size=1)
            .map(lambda words: "~" + " ".join(words)),
        ),
        _directive("SystemCallFilter"),
    ),
    "sandbox.directives.User": Case(_suffixed(["root", "svc"]), _directive("User")),
    "sandbox.directives.UMask": Case(
        st.one_of(_suffixed(["0", "07"]), st.from_regex(r"[0-7]{1,4}", fullmatch=True)),
        _directive("UMask"),
    ),
}  # fmt: skip


def _config(key: str, value: Any) -> Config | None:
    values: dict[str, Located] = {k: Located(v, MARK) for k, v in CASES[key].companions.items()}
    if key.startswith("sandbox.directives."):
        name = key.rsplit(".", 1)[1]
        item = ((name, value, MARK, ()), MARK)
        values["sandbox.directives"] = Located({name: value}, MARK, (item,))
    elif isinstance(value, list):
        values[key] = Located(value, MARK, tuple((v, MARK) for v in value))
    else:
        values[key] = Located(value, MARK)
    try:
        return build_config([SourceFile("prop.yaml", values, [])])
    except ConfigErrors:
        return None


@pytest.mark.parametrize("key", sorted(CASES))
def test_accepted_values_render_exactly_the_intended_directives(key: str) -> None:
    case = CASES[key]
    baseline = _units(
        build_config(
            [SourceFile("b.yaml", {k: Located(v, MARK) for k, v in case.companions.items()}, [])]
        )
    )
    skip = key.rsplit(".", 1)[1] if key.startswith("sandbox.directives.") else ""
    accepted: list[Any] = []

    # derandomize: the same examples on every run, so the count of accepted values below is a
    # property of the strategy, not of the run's luck.
    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case.values)
    def check(value: Any) -> None:
        config = _config(key, value)
        if config is None:
            return
        accepted.append(value)
        units = _units(config)
        assert _shape(units, skip) == _shape(baseline, skip), (
            f"{key}={value!r} changed the directives"
        )
        case.where(value, config, units)

    check()
    # The property must have been exercised on accepted values, not only on rejected ones.
    assert len(accepted) >= 5, f"only {len(accepted)} accepted values were generated for {key}"
