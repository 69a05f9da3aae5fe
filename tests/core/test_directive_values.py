"""sandbox.directives values, checked against the real systemd-analyze of both eras.

- every name the checks know (system calls, capabilities, address families...) is known to
  systemd 252 and 257;
- which directives expand % specifiers is what systemd does, for every overridable directive;
- every directive, with % values: what the validator accepts, systemd reads without a warning;
- a generated corpus of values per directive (hypothesis): every value the validator accepts
  loads without a warning in both, and the common spellings are accepted.

Units are verified in batches (one systemd-analyze call for many unit files).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.generator.config import directives, systemdnames
from support.directive_words import WORDS, values
from support.systemd_eras import Era, eras

ERAS = eras()
ERA_IDS = [e[0] for e in ERAS]


def _era(era: Era | None, why: str) -> Era:
    if era is None:
        pytest.skip(why)
    return era


def unit(*lines: str) -> str:
    return "[Service]\nType=oneshot\nExecStart=/bin/true\n" + "".join(f"{x}\n" for x in lines)


def accepted(name: str, value: str) -> bool:
    try:
        directives.value_text(name, value)
    except ValueError:
        return False
    return True


# --- the name tables ---------------------------------------------------------------------

TABLES = {
    "SystemCallFilter": sorted(systemdnames.SYSCALLS | systemdnames.SYSCALL_GROUPS),
    "SystemCallLog": sorted(systemdnames.SYSCALLS | systemdnames.SYSCALL_GROUPS),
    "RestrictAddressFamilies": sorted(systemdnames.ADDRESS_FAMILIES),
    "SystemCallArchitectures": sorted(systemdnames.ARCHITECTURES),
    "RestrictFileSystems": sorted(systemdnames.FILESYSTEM_GROUPS),
}


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_every_listed_name_is_known_to_systemd(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    units = {f"{name}.service": unit(f"{name}={' '.join(words)}") for name, words in TABLES.items()}
    # One line each: an unknown error name is reported line by line.
    units["errno.service"] = unit(
        *(f"SystemCallErrorNumber={e}" for e in sorted(systemdnames.ERRNO_NAMES))
    )
    assert era.verify_files(units) == {**{name: [] for name in units}, "": []}
    # systemd ignores unknown capability and filesystem names without a word: compare with
    # the lists it prints instead.
    listed = era.run("capability", "--no-pager").stdout.split()
    assert {word.upper() for word in listed} >= systemdnames.CAPABILITIES
    filesystems = era.run("filesystems", "--no-pager")
    if filesystems.returncode == 0:  # systemd 252 of Debian 12 is built without the BPF LSM
        assert set(re.findall(r"^    (\S+)", filesystems.stdout, re.M)) >= systemdnames.FILESYSTEMS


def test_the_tables_are_not_empty() -> None:
    assert len(systemdnames.SYSCALLS) > 400 and len(systemdnames.CAPABILITIES) == 41
    assert {"@system-service", "@privileged"} <= systemdnames.SYSCALL_GROUPS


# --- % specifiers --------------------------------------------------------------------------


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_specifier_expansion_is_systemds(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    # %k is no specifier: a directive that expands specifiers says it cannot resolve it.
    units = {
        f"{name}-{i}.service": unit(f"{name}={value}")
        for name in sorted(directives.DIRECTIVES)
        for i, value in enumerate(("%k", "/%k"))
    }
    found = era.verify_files(units)
    for name, directive in sorted(directives.DIRECTIVES.items()):
        said = " ".join(found[f"{name}-0.service"] + found[f"{name}-1.service"])
        assert ("specifiers" in said) == directive.specifiers, (name, said)


PERCENT_VALUES = ["%k", "%n", "/%k", "50%", "20%", "100%", "50%%", "0%", "1.5%", "%"]


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_every_directive_with_a_percent_value(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    cases = [(n, v) for n in sorted(directives.DIRECTIVES) for v in PERCENT_VALUES]
    ours = {case: accepted(*case) for case in cases}
    for name, value in cases:
        if directives.DIRECTIVES[name].specifiers:
            assert not ours[name, value], (name, value)  # refused, never escaped
    # What systemd takes literally is written as given, and read without a warning.
    literal = [case for case, ok in ours.items() if ok]
    units = {f"p{i}.service": unit(f"{n}={v}") for i, (n, v) in enumerate(literal)}
    assert era.verify_files(units) == {**{name: [] for name in units}, "": []}
    assert {("CPUQuota", "50%"), ("MemoryMax", "20%"), ("TasksMax", "50%")} <= set(literal)
    assert ("MemoryHigh", "1.5%") in literal
    assert ("CPUQuota", "50%%") not in literal  # systemd: "Invalid CPU quota"


# --- generated values, per directive --------------------------------------------------------


def corpus(per_directive: int) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    @settings(
        max_examples=per_directive * len(directives.DIRECTIVES),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(
        st.sampled_from(sorted(directives.DIRECTIVES)).flatmap(
            lambda name: st.tuples(st.just(name), values(name))
        )
    )
    def collect(pair: tuple[str, str]) -> None:
        found.append(pair)

    collect()
    # Every listed word on its own, too.
    for name, (good, near) in WORDS.items():
        found += [(name, w) for w in good + near]
    return list(dict.fromkeys(found))


CORPUS = corpus(40)


@pytest.mark.parametrize(("era_id", "era", "why"), ERAS, ids=ERA_IDS)
def test_accepted_values_load_without_a_warning(era_id: str, era: Era | None, why: str) -> None:
    era = _era(era, why)
    chosen = [(n, v) for n, v in CORPUS if accepted(n, v)]
    units = {f"v{i}.service": unit(f"{n}={v}") for i, (n, v) in enumerate(chosen)}
    found = era.verify_files(units)
    warned = [(chosen[i], found[f"v{i}.service"]) for i in range(len(chosen))]
    warned = [w for w in warned if w[1]]
    assert not warned, f"{len(warned)} accepted values warned, e.g. {warned[:5]}"
    assert found[""] == [], found[""]
    # The corpus exercises every directive on both sides of the line.
    for name in directives.DIRECTIVES:
        mine = [v for n, v in CORPUS if n == name]
        assert any(accepted(name, v) for v in mine), name
        assert not all(accepted(name, v) for v in mine), name


@pytest.mark.parametrize(
    ("name", "value"),
    [(n, w) for n, (good, _near) in sorted(WORDS.items()) for w in good],
    ids=lambda x: str(x),
)
def test_common_spellings_are_accepted(name: str, value: str) -> None:
    # Each of these is read by both eras without a warning (the test above loads them all).
    assert accepted(name, value), directives.value_text(name, value)


def test_a_list_for_a_single_valued_directive_is_refused(tmp_path: Any) -> None:
    from ostree_autocleanup.generator.config.load import load_config
    from ostree_autocleanup.generator.errors import ConfigErrors

    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nsandbox:\n  directives:\n    ProtectSystem: [full, strict]\n")
    with pytest.raises(ConfigErrors, match="takes one value"):
        load_config([str(path)])


def test_every_directive_has_generated_values() -> None:
    by_name = {n: [v for m, v in CORPUS if m == n] for n in directives.DIRECTIVES}
    assert all(len(v) >= 20 for v in by_name.values()), {n: len(v) for n, v in by_name.items()}
    assert len(list(itertools.chain(*by_name.values()))) == len(CORPUS)
