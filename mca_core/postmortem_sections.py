"""The sections of a postmortem as markdown lines, each printed from one market's rows of the day's inputs.

Every section either shows numbers or says which input is missing (a line starting ``Missing:``), so a market
without a price path or a trust history still gets a whole report. Numbers are printed with 4 decimals and
times as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC) so a reader, and the tests, can read them back exactly as printed. The
rows come from `mca_core.postmortem_frames` (computed for all markets at once); here they are only printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final

from mca_core.cutoffs import HORIZONS
from mca_core.postmortem_frames import INVERTED_COMPONENTS

MISSING: Final = "Missing:"
CALIBRATION_COLUMNS: Final = ("n", "brier", "brier_ci_low", "brier_ci_high", "ece", "slope", "intercept")


def num(value: object, digits: int = 4) -> str:
    """A number as printed in reports; ``n/a`` for a missing one."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def stamp(value: datetime | None) -> str:
    return "n/a" if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def cell(value: object) -> str:
    """A table cell: numbers via `num`, times via `stamp`, text with pipes and newlines escaped."""
    if isinstance(value, datetime):
        return stamp(value)
    if value is None or isinstance(value, int | float):
        return num(value)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A markdown table as its own block (blank lines around it; the renderer collapses repeated blank lines)."""
    lines = ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows] + [""]


def missing(what: str) -> list[str]:
    return ["", f"{MISSING} {what}.", ""]


def codes(value: object) -> str:
    """Reason codes stored as a list or as a comma/JSON string, printed as a comma list (``none`` if empty)."""
    if value is None:
        return "none"
    if isinstance(value, str):
        items = [v.strip(" \"'[]") for v in value.split(",")]
        return ", ".join(v for v in items if v) or "none"
    return ", ".join(str(v) for v in value) or "none"  # type: ignore[attr-defined]


#: a scoreboard row of one segment as the sections read it, keyed by column name
ScoreRow = Mapping[str, object]


def horizons_section(cutoffs: Mapping[str, ScoreRow], y: int, segment: str,
                     segment_rows: Mapping[str, ScoreRow] | None, window: str) -> list[str]:  # fmt: skip
    """Price, staleness and Brier at each horizon against the Brier of the market's category at that horizon.

    ``cutoffs``: the market's cutoff rows by horizon; ``segment_rows``: the category's scoreboard rows by horizon
    (None when calib.scoreboard is absent, empty when the category has no row in ``window``).
    """
    lines = [f"Segment: category `{segment}`, scoreboard window `{window}` as of the cohort day."]
    if segment_rows is None:
        lines += missing("calib.scoreboard is not in the warehouse; no segment averages")
    elif not segment_rows:
        lines += missing(f"no scoreboard row for category `{segment}` in window `{window}`")
    rows, absent = [], []
    for horizon in HORIZONS:
        cut = cutoffs.get(horizon)
        if cut is None:
            absent.append(horizon)
            continue
        brier = (cut["p_yes"] - y) ** 2  # type: ignore[operator]
        seg_row = (segment_rows or {}).get(horizon) or {"brier": None, "n": None}
        seg_brier = seg_row["brier"]
        versus = brier - seg_brier if seg_brier is not None else None  # type: ignore[operator]
        staleness_h = cut["staleness_seconds"] / 3600  # type: ignore[operator]
        rows.append((horizon, cut["cutoff_ts"], cut["p_yes"], staleness_h, brier, seg_brier, seg_row["n"], versus))
    header = ("horizon", "cutoff_ts", "p_yes", "staleness_h", "brier", "segment_brier", "segment_n", "vs_segment")
    lines += table(header, rows)
    if absent:
        lines += missing(f"no cutoff price at {', '.join(absent)} (no price before the cutoff, or too stale)")
    return lines


def moves_section(moves: Sequence[Sequence[object]] | None, has_snapshots: bool, window_hours: int) -> list[str]:
    """Volume and open interest at the start and end of the largest moves (``MOVE_COLUMNS`` rows; None: no path)."""
    if moves is None:
        return missing("no price path, so no moves to put in context")
    if not moves:
        return missing(f"the path is shorter than {window_hours}h, so no {window_hours}h move")
    lines = [f"The {len(moves)} largest {window_hours}h moves of the YES price (one per day), with the market's "
             "volume and open interest at the last snapshot at or before the move's start and end."]  # fmt: skip
    if not has_snapshots:
        lines += missing("no volume or open-interest snapshots for this market in core.market_snapshots")
    header = ("move_end", "p_start", "p_end", "change", "volume_start", "volume_end", "oi_start", "oi_end")
    return lines + table(header, moves)


def clarity_section(trust_present: bool, clarity_column: bool, latest: Sequence[object] | None) -> list[str]:
    """The latest clarity score of the market up to resolution, with its reason codes: (dt, clarity, reasons)."""
    if not trust_present:
        return missing("trust.trust_scores is not in the warehouse, so no clarity score")
    if not clarity_column:
        return missing("trust.trust_scores has no clarity column")
    if latest is None:
        return missing("no clarity score for this market")
    scored_dt, clarity, reasons = latest
    return table(("scored_dt", "clarity", "reason_codes"), [(str(scored_dt), clarity, codes(reasons))])


def trust_section(trust_present: bool, history: Sequence[Sequence[object]]) -> list[str]:
    """The market's trust score per day up to resolution and the weakest component of the last score.

    ``history``: (dt, trust_score, low_confidence, weakest_component, weakest_value) rows, oldest first.
    """
    if not trust_present:
        return missing("trust.trust_scores is not in the warehouse, so no trust history")
    if not history:
        return missing("no trust history for this market")
    rows = [(str(dt), score, low, weakest or "n/a", value) for dt, score, low, weakest, value in history]
    lines = table(("dt", "trust_score", "low_confidence", "weakest_component", "weakest_value"), rows)
    last_dt, _, _, weakest, value = history[-1]
    if weakest:
        lines.append(f"Weakest component on {last_dt}: `{weakest}` at {num(value)} (as it enters the score"
                     f"{', 1 - value' if weakest in INVERTED_COMPONENTS else ''}).")  # fmt: skip
    return lines


def alerts_section(alerts_present: bool, alerts: Sequence[Sequence[object]], resolved_ts: datetime) -> list[str]:
    """Every alert of the market raised before its resolution time: (ts, severity, source, reason_codes, message)
    rows, oldest first."""
    if not alerts_present:
        return missing("alerts.alerts is not in the warehouse")
    if not alerts:
        return ["No alert fired for this market before resolution."]
    rows = [(ts, (resolved_ts - ts).total_seconds() / 3600, severity, source, codes(reasons), message)  # type: ignore[operator]
            for ts, severity, source, reasons, message in alerts]  # fmt: skip
    return table(("ts", "lead_h", "severity", "source", "reason_codes", "message"), rows)


def calibration_section(scoreboard: Mapping[tuple[str, str], ScoreRow] | None, window: str, horizon: str,
                        segments: Sequence[tuple[str, str]]) -> list[str]:  # fmt: skip
    """The scoreboard's rows of the market's segments at the judged horizon, keyed by (segment_type, segment)."""
    if scoreboard is None:
        return missing("calib.scoreboard is not in the warehouse")
    lines = [f"Scoreboard window `{window}`, horizon `{horizon}`, as of the cohort day."]
    rows, absent = [], []
    for segment_type, segment in segments:
        r = scoreboard.get((segment_type, segment))
        if r is None:
            absent.append(f"{segment_type}={segment}")
            continue
        rows.append((segment_type, segment, *(r[c] for c in CALIBRATION_COLUMNS), r["low_confidence"]))
    lines += table(("segment_type", "segment", *CALIBRATION_COLUMNS, "low_confidence"), rows)
    if absent:
        lines += missing(f"no scoreboard row for {', '.join(absent)}")
    return lines


def catch_section(rows: Sequence[Sequence[object]]) -> list[str]:
    """Per alert signal, the loosest threshold that fires before resolution (`mca_core.postmortem_catch` rows),
    and a candidate rule for next time: the rule that fired first at its default."""
    lines = ["For each signal: `loosest_threshold` is the most alarming value seen before resolution (any "
             "threshold up to it, or down to it for floors, would have fired); `first_at_default` is when the "
             "default threshold was first crossed."]  # fmt: skip
    header = ("rule", "signal", "loosest_threshold", "default", "fires_at_default", "first_at_default",
              "lead_h", "before_1d_cutoff", "status")  # fmt: skip
    lines += table(header, rows)
    fired = [r for r in rows if r[4]]
    if fired:
        rule, _, _, default, _, first_ts, lead, before, _ = min(fired, key=lambda r: (r[5], r[0]))
        when = "before" if before else "after"
        lines.append(f"Candidate rule: `{rule}` at its default threshold {num(default)} would have alerted first, "
                     f"at {stamp(first_ts)}, {num(lead, 1)} h before resolution ({when} the 1d cutoff).")  # type: ignore[arg-type]  # fmt: skip
    else:
        lines.append("Candidate rule: none of the rules fires at its default threshold before resolution.")
    return lines
