"""The benchmark's verdicts decide its exit status, the fast path against a C generator too."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "generator.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generator", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ms as (min, median); warm and cold well within their targets against `python -c pass`.
WITHIN = {"python -c pass": (10.0, 11.0), "warm": (12.0, 13.0), "cold": (50.0, 55.0)}


@pytest.mark.parametrize(
    ("fast", "c_generator", "ok"),
    [
        ((1.0, 1.2), (2.0, 2.5), True),
        ((2.0, 2.2), (2.0, 2.5), True),
        ((3.0, 3.1), (2.0, 2.5), False),
    ],
)
def test_fast_path_against_the_c_generator_sets_the_verdict(
    fast: tuple[float, float],
    c_generator: tuple[float, float],
    ok: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    times = {**WITHIN, "fast": fast, "C generator": c_generator}
    assert _bench().report("regular install", "python", times) is ok
    assert ("goal <= 1: ok" in capsys.readouterr().out) is ok


def test_warm_and_cold_targets_set_the_verdict() -> None:
    report = _bench().report
    assert report("x", "python", {**WITHIN, "fast": (1.0, 1.0)}) is True
    assert report("x", "python", {**WITHIN, "fast": (1.0, 1.0), "cold": (81.0, 90.0)}) is False
