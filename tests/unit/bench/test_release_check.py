"""The release gate reads the figures and goals benches print, and a missed goal fails it."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

from tests.conftest import REPO


def release_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_check", REPO / "bench" / "release_check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["release_check"] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_printed_goals_are_judged_on_the_number_before_them() -> None:
    rc = release_check()
    text = (
        "frames: 20,000 (3.1 MB), records out: 41,000, best of 2\n"
        "ratio parse/json: 1.07  (goal <= 2.0)\n"
        "ratio            :     12.3x warm, 7.4x first run (goal >= 10x)\n"
        "ratio polars/pandas at 1,000,000 rows: 8.5x (goal >= 10x)\n"
        "per kind (us/frame json.loads -> parse_ws_frame, ratio):\n"
    )
    figures = rc.figures_from_text("b", text)
    judged = [(f.value, f.goal, f.met) for f in figures if f.goal]
    assert judged == [(1.07, "<= 2.0", True), (12.3, ">= 10", True), (8.5, ">= 10", False)]
    assert figures[0].value == 20000.0
    assert figures[0].goal is None
    report = rc.Report("now", figures=figures)
    assert not report.ok  # one missed goal fails the gate
    assert "| b | ratio polars/pandas at 1,000,000 rows | 8.5 | >= 10 | **no** |" in rc.markdown(report)


def test_json_figures_carry_their_goals() -> None:
    rc = release_check()
    payload = {"figures": {"speedup": 1.6, "runs": 7, "requests": {"x": 1}}, "goals": {"speedup": ">= 1.0"}}
    figures = {f.name: f for f in rc.figures_from_json("bench_backfill", "noise\n" + json.dumps(payload))}
    assert figures["speedup"].met is True
    assert figures["runs"].goal is None
    assert figures["requests"].value is None
    assert rc.Report("now", figures=list(figures.values())).ok
