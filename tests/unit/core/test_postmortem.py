"""Postmortem selection, sections and determinism on a synthetic day, against plain-Python references."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mca_core.postmortem import SECTIONS, PostmortemConfig, build_reports, select_markets
from mca_core.postmortem_chart import render_svgs
from tests.unit.core.postmortem_day import DT, day


def _reference_selection(inputs, threshold: float, max_others: int) -> list[tuple[str, str]]:
    """Row by row: resolved markets, wrong ones (error desc) first, then the others by volume."""
    p1d = {r["market_id"]: r["p_yes"] for r in inputs.cutoffs.iter_rows(named=True) if r["horizon"] == "1d"}
    resolved = [r for r in inputs.resolutions.iter_rows(named=True) if r["label"].startswith("RESOLVED_")]
    errors = {r["market_id"]: abs(p1d[r["market_id"]] - r["y"]) if r["market_id"] in p1d else None for r in resolved}
    wrong = sorted((m for m, e in errors.items() if e is not None and e >= threshold), key=lambda m: (-errors[m], m))
    rest = [r for r in resolved if r["market_id"] not in wrong]
    rest.sort(key=lambda r: (-(r["volume_usd"] or 0.0), r["market_id"]))
    return [(m, "confidently_wrong") for m in wrong] + [(r["market_id"], "top_volume") for r in rest[:max_others]]


def test_selection_matches_a_row_by_row_reference() -> None:
    inputs = day()
    for threshold, max_others in ((0.7, 50), (0.8, 1), (0.1, 0), (1.0, 2)):
        chosen = select_markets(inputs.resolutions, inputs.cutoffs, PostmortemConfig(threshold, max_others))
        assert list(zip(chosen["market_id"], chosen["reason"], strict=True)) == _reference_selection(
            inputs, threshold, max_others
        )


def test_every_section_present_and_missing_inputs_named() -> None:
    reports = {r.market_id: r for r in build_reports(day(with_trust=False))}
    assert set(reports) == {"w", "r", "v"}  # the VOID market gets none
    for report in reports.values():
        headings = [line[3:] for line in report.markdown.splitlines() if line.startswith("## ")]
        assert headings == list(SECTIONS)
    no_path = reports["v"]
    assert no_path.chart is None
    assert "Missing: no price history for this market in core.price_history." in no_path.markdown
    assert "Missing: trust.trust_scores is not in the warehouse, so no trust history." in no_path.markdown
    assert "Missing: alerts.alerts is not in the warehouse." in no_path.markdown
    present = {r.market_id: r for r in build_reports(day(with_trust=True))}
    assert "Missing: no trust history for this market." in present["v"].markdown
    assert "Weakest component on 2026-09-09: `manipulation` at 0.1000" in present["w"].markdown


def test_brier_and_catch_numbers_follow_the_inputs() -> None:
    inputs = day()
    report = next(r for r in build_reports(inputs) if r.market_id == "w")
    p1d = inputs.cutoffs.filter(market_id="w", horizon="1d")["p_yes"][0]
    assert f"| 1d | 2026-09-09T12:00:00Z | {p1d:.4f} | 0.0000 | {(p1d - 0) ** 2:.4f} | 0.1200 | 40 |" in report.markdown
    # features: velocity 6.0 is the largest, first >= 2 at 30 h before resolution
    assert "| volume_spike | 24h volume velocity | 6.0000 | 2.0000 | yes | 2026-09-09T06:00:00Z | 30.0000 | yes |" in (
        report.markdown
    )
    # the alert after resolution is not listed
    assert "after resolution" not in report.markdown
    assert "Candidate rule: `clarity_floor`" in report.markdown


def test_reports_and_charts_are_byte_identical_across_runs_and_workers() -> None:
    first, second = build_reports(day()), build_reports(day())
    assert [r.markdown for r in first] == [r.markdown for r in second]
    charts = [r.chart for r in first if r.chart] * 3
    assert render_svgs(charts) == render_svgs(charts, workers=2)


_WRITER = """
import sys
from datetime import date
from pathlib import Path
from mca_assets.postmortem.files import publish_day
out = Path(sys.argv[1])
files = {f"m{i:04d}_2026-09-10.md": (f"# report {i}\\n" + "x" * 200_000 + "\\nEND\\n").encode() for i in range(400)}
publish_day(out, date(2026, 9, 10), files)
"""


def test_a_killed_writer_and_a_rerun_leave_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "postmortem"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_WRITER), str(out)], cwd=os.getcwd())
    while not (out.exists() and len(list(out.glob("*.md"))) >= 3):
        assert proc.poll() is None, "the writer finished before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finals = list(out.glob("*.md"))
    assert 3 <= len(finals) < 400
    for path in finals:  # a final name only ever holds a whole report
        assert path.read_bytes().endswith(b"\nEND\n")
    subprocess.run([sys.executable, "-c", textwrap.dedent(_WRITER), str(out)], check=True, cwd=os.getcwd())
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"m{i:04d}_{DT}.md" for i in range(400)]
    assert all(p.read_bytes().endswith(b"\nEND\n") for p in out.iterdir())
