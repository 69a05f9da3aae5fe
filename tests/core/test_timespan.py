"""Time spans: the validator reads them as systemd does, proven against the real thing.

A generated corpus of strings (hypothesis) is read by timespan.parse and by the real
``systemd-analyze timespan`` of Debian 12 (systemd 252) and Debian 13 (systemd 257): both must
agree on every string, accepted or refused, and on the microseconds. Then the setting itself
(cleanup.timeout, and any later time-span setting built on the same kind) must accept only
strings that systemd accepts, and refuse one that systemd accepts only for a reason it names.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.generator.config import timespan
from ostree_autocleanup.generator.config.settings import Problem, TimeSpan
from support.systemd_eras import Era, eras

# Strings shaped like time spans, with the mistakes people make and the corners of systemd's
# parser: numbers in every form, optional whitespace, units and things near units.
_UNITS = [unit for unit, _usec in timespan.UNITS]
_DIGITS = st.from_regex(r"[0-9]{1,4}", fullmatch=True)
_PLAIN_NUMBER = st.one_of(
    _DIGITS, st.builds(lambda a, b: f"{a}.{b}", _DIGITS, _DIGITS), _DIGITS.map(lambda d: "." + d)
)
_ODD_NUMBER = st.one_of(
    _DIGITS.map(lambda d: d + "."),
    _DIGITS.map(lambda d: "+" + d),
    _DIGITS.map(lambda d: "-" + d),
    st.sampled_from(
        ["0", "00", "584542", "584541", "9223372036854775807", "9223372036854775808",
         "18446744073709551615", "18446744073709"]
    ),
)  # fmt: skip
_ODD_UNIT = st.sampled_from(["x", "mo", "sx", "e3", "S", "Min", ":30", "_000", "%", ".", "s."])
_SPACE = st.sampled_from(["", "", " ", "  "])


def _spans(number: st.SearchStrategy[str], unit: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    part = st.builds(lambda n, b, u: n + b + u, number, _SPACE, unit)
    return st.lists(st.tuples(_SPACE, part), min_size=1, max_size=3).map(
        lambda parts: "".join(space + p if i else p for i, (space, p) in enumerate(parts))
    )


_GOOD = _spans(_PLAIN_NUMBER, st.one_of(st.sampled_from(_UNITS), st.just("")))
_ODD = _spans(
    st.one_of(_PLAIN_NUMBER, _ODD_NUMBER),
    st.one_of(st.sampled_from(_UNITS), st.just(""), _ODD_UNIT),
)
# Whitespace systemd skips (\t \n \r) or that only strtoll() skips (\v \f), anywhere.
_SPACED = st.builds(
    lambda text, i, c: text[: i % (len(text) + 1)] + c + text[i % (len(text) + 1) :],
    _ODD,
    st.integers(0, 20),
    st.sampled_from(["\t", "\v", "\f", "\n", "\r", " "]),
)
_STRINGS = st.one_of(
    _GOOD,
    _ODD,
    _SPACED,
    st.builds(lambda a, b: a + "infinity" + b, _SPACE, st.sampled_from(["", " ", "x", " 5"])),
    st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=6),
)


# Found by hand in systemd's parser; kept so that they are always in the corpus.
EDGES = [
    "1.5.5s", "584942y", "584542y", "584541y", "1:30", "5 5", "5s5", "12.34s.56", ".5s", "5.",
    "+5s", " 5s", "5s ", "\v5", "5 \v5", "5 mo", "5µs", "5μs", "infinity", " infinity ",
    "infinityx", "0", "-0", "\v-0", "\v-5", "5 min", "5M", "1e3", "00005", "3.s", "3. s", ".",
    "9223372036854775807us", "9223372036854775808us", "18446744073709551614us", "+-5", "+.5",
    "0.0000001s", "18446744073709.551615s", "18446744073709.551614s", "5 infinity", "",
]  # fmt: skip


def corpus(size: int) -> list[str]:
    found: list[str] = []

    @settings(
        max_examples=size,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(_STRINGS)
    def collect(text: str) -> None:
        found.append(text)

    collect()
    return list(dict.fromkeys(EDGES + found))


def ours(text: str) -> int | None:
    try:
        return timespan.parse(text)
    except timespan.Invalid:
        return None


CORPUS = corpus(800)
_THEIRS: dict[str, list[int | None]] = {}


def theirs(era_id: str, era: Era | None, why: str) -> list[int | None]:
    """systemd's reading of the corpus, once per era."""
    if era is None:
        pytest.skip(why)
    if era_id not in _THEIRS:
        _THEIRS[era_id] = era.timespans(CORPUS)
    return _THEIRS[era_id]


@pytest.mark.parametrize(("era_id", "era", "why"), eras(), ids=[e[0] for e in eras()])
def test_the_grammar_agrees_with_systemd_analyze(era_id: str, era: Era | None, why: str) -> None:
    values = theirs(era_id, era, why)
    disagree = [(t, ours(t), s) for t, s in zip(CORPUS, values) if ours(t) != s]
    disagree.sort(key=lambda d: len(d[0]))
    assert not disagree, f"{len(disagree)} of {len(CORPUS)} differ, e.g. {disagree[:5]}"
    # The corpus must exercise both outcomes, plentifully.
    accepted = sum(s is not None for s in values)
    assert accepted > 200 and len(CORPUS) - accepted > 200, accepted


# Why the setting may refuse a string that systemd reads: it cannot stand in a unit file as
# written (whitespace systemd would strip, control characters, a leading '['), or it is zero,
# which systemd reads as "no limit" for a timeout.
def _refusal_reason(message: str) -> bool:
    return any(
        reason in message
        for reason in (
            "leading or trailing whitespace",
            "control character",
            "line break",
            "must be longer than zero",
            "starts with '['",
        )
    )


@pytest.mark.parametrize(("era_id", "era", "why"), eras(), ids=[e[0] for e in eras()])
def test_the_setting_accepts_only_what_systemd_reads(
    era_id: str, era: Era | None, why: str
) -> None:
    kind = TimeSpan()
    accepted = 0
    for text, value in zip(CORPUS, theirs(era_id, era, why)):
        try:
            kind.parse(text)
        except Problem as problem:
            if value is not None:
                assert _refusal_reason(problem.message), (text, value, problem.message)
            continue
        accepted += 1
        assert value is not None and value > 0, (text, value)
    assert accepted > 100


def test_zero_is_allowed_where_the_minimum_says_so() -> None:
    # A later setting such as a start delay takes 0 ("at once"); a timeout does not.
    assert TimeSpan(minimum=0).parse("0") == "0"
    with pytest.raises(Problem, match="must be longer than zero"):
        TimeSpan().parse("0")
    with pytest.raises(Problem, match="must be longer than zero"):
        TimeSpan().parse("0.0000001s")  # systemd rounds it to 0 microseconds


def test_values_are_those_of_systemd_time_7() -> None:
    assert timespan.parse("1h 30min") == 5400 * 10**6
    assert timespan.parse("2.5") == 2_500_000
    assert timespan.parse("1y") == 31_557_600 * 10**6
    assert timespan.parse("1M") == 2_629_800 * 10**6
    assert timespan.parse("infinity") == timespan.USEC_INFINITY
