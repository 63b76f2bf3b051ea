"""The sections of a postmortem, each built from the warehouse's frames of one market, as markdown lines.

Every section either shows numbers or says which input is missing (a line starting ``Missing:``), so a market
without a price path or a trust history still gets a whole report. Numbers are printed with 4 decimals and
times as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC) so a reader, and the tests, can read them back exactly as printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

import polars as pl

from mca_core.cutoffs import HORIZONS
from mca_core.postmortem_catch import CatchThresholds, catch_table

MISSING: Final = "Missing:"
#: components where a high value is bad (the trust score uses 1 - value), for the weakest-component rule
INVERTED_COMPONENTS: Final = ("manipulation",)
TRUST_COMPONENTS: Final = ("liquidity", "stability", "clarity", "manipulation", "time_to_expiry", "track_record")
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


def horizons_section(
    cutoffs: pl.DataFrame, y: int, segment: str, scoreboard: pl.DataFrame | None, window: str
) -> list[str]:
    """Price, staleness and Brier at each horizon against the Brier of the market's category at that horizon."""
    lines = [f"Segment: category `{segment}`, scoreboard window `{window}` as of the cohort day."]
    seg = None
    if scoreboard is None:
        lines += missing("calib.scoreboard is not in the warehouse; no segment averages")
    else:
        seg = scoreboard.filter(
            (pl.col("window") == window) & (pl.col("segment_type") == "category") & (pl.col("segment") == segment)
        )
        if seg.is_empty():
            lines += missing(f"no scoreboard row for category `{segment}` in window `{window}`")
    by_horizon = {row["horizon"]: row for row in cutoffs.iter_rows(named=True)}
    rows, absent = [], []
    for horizon in HORIZONS:
        cut = by_horizon.get(horizon)
        if cut is None:
            absent.append(horizon)
            continue
        brier = (cut["p_yes"] - y) ** 2
        at = seg.filter(pl.col("horizon") == horizon) if seg is not None else None
        seg_row = at.row(0, named=True) if at is not None and at.height else {"brier": None, "n": None}
        seg_brier = seg_row["brier"]
        versus = brier - seg_brier if seg_brier is not None else None
        staleness_h = cut["staleness_seconds"] / 3600
        rows.append((horizon, cut["cutoff_ts"], cut["p_yes"], staleness_h, brier, seg_brier, seg_row["n"], versus))
    header = ("horizon", "cutoff_ts", "p_yes", "staleness_h", "brier", "segment_brier", "segment_n", "vs_segment")
    lines += table(header, rows)
    if absent:
        lines += missing(f"no cutoff price at {', '.join(absent)} (no price before the cutoff, or too stale)")
    return lines


def largest_moves(path: pl.DataFrame, window_hours: int, count: int) -> pl.DataFrame:
    """The largest ``window_hours`` moves of the path, one per UTC day (the day's largest), largest first."""
    ordered = path.select("ts", "p").sort("ts")
    earlier = ordered.rename({"ts": "start_ts", "p": "p_start"})
    moves = (
        ordered.with_columns((pl.col("ts") - timedelta(hours=window_hours)).alias("start_ts"))
        .join_asof(earlier, on="start_ts", strategy="backward")
        .drop_nulls("p_start")
        .with_columns((pl.col("p") - pl.col("p_start")).alias("change"))
        .with_columns(pl.col("ts").dt.date().alias("_day"))
    )
    daily = moves.sort(pl.col("change").abs(), "ts", descending=[True, False]).unique("_day", keep="first")
    return daily.sort(pl.col("change").abs(), "ts", descending=[True, False]).head(count).drop("_day")


def moves_section(path: pl.DataFrame | None, snapshots: pl.DataFrame | None, window_hours: int,
                  count: int) -> list[str]:  # fmt: skip
    """Volume and open interest at the start and end of the largest moves (the last snapshot at or before)."""
    if path is None or path.is_empty():
        return missing("no price path, so no moves to put in context")
    moves = largest_moves(path, window_hours, count)
    if moves.is_empty():
        return missing(f"the path is shorter than {window_hours}h, so no {window_hours}h move")
    lines = [f"The {moves.height} largest {window_hours}h moves of the YES price (one per day), with the market's "
             "volume and open interest at the last snapshot at or before the move's start and end."]  # fmt: skip
    context = pl.DataFrame(schema={"snap_ts": pl.Datetime("us", "UTC"), "volume_usd": pl.Float64,
                                   "open_interest_usd": pl.Float64})  # fmt: skip
    if snapshots is None or snapshots.is_empty():
        lines += missing("no volume or open-interest snapshots for this market in core.market_snapshots")
    else:
        context = snapshots.select(pl.col("ts").alias("snap_ts"), "volume_usd", "open_interest_usd").sort("snap_ts")

    def at(column: str, suffix: str) -> pl.DataFrame:
        keyed = moves.select(pl.col(column).alias("snap_ts"), pl.col("ts").alias("_move")).sort("snap_ts")
        found = keyed.join_asof(context, on="snap_ts", strategy="backward")
        return found.select("_move", pl.col("volume_usd").alias(f"volume_{suffix}"),
                            pl.col("open_interest_usd").alias(f"oi_{suffix}"))  # fmt: skip

    joined = moves.join(at("start_ts", "start"), left_on="ts", right_on="_move").join(
        at("ts", "end"), left_on="ts", right_on="_move"
    )
    joined = joined.sort(pl.col("change").abs(), "ts", descending=[True, False])
    header = ("move_end", "p_start", "p_end", "change", "volume_start", "volume_end", "oi_start", "oi_end")
    rows = joined.select("ts", "p_start", "p", "change", "volume_start", "volume_end", "oi_start", "oi_end").rows()
    return lines + table(header, rows)


def clarity_section(trust: pl.DataFrame | None) -> list[str]:
    """The latest clarity score of the market up to resolution, with its reason codes."""
    if trust is None:
        return missing("trust.trust_scores is not in the warehouse, so no clarity score")
    if "clarity" not in trust.columns:
        return missing("trust.trust_scores has no clarity column")
    scored = trust.filter(pl.col("clarity").is_not_null()).sort("dt")
    if scored.is_empty():
        return missing("no clarity score for this market")
    last = scored.row(-1, named=True)
    reasons = codes(last.get("clarity_reasons"))
    return table(("scored_dt", "clarity", "reason_codes"), [(str(last["dt"]), last["clarity"], reasons)])


def _weakest(row: dict[str, object], components: Sequence[str]) -> tuple[str, float] | None:
    """The component that costs the score most: the lowest ``c``, or highest for inverted ones (as ``1 - c``)."""
    values = {}
    for name in components:
        value = row.get(name)
        if isinstance(value, int | float):
            values[name] = 1.0 - float(value) if name in INVERTED_COMPONENTS else float(value)
    if not values:
        return None
    name = min(values, key=lambda k: (values[k], k))
    return name, values[name]


def trust_section(trust: pl.DataFrame | None) -> list[str]:
    """The market's trust score per day up to resolution and the weakest component of the last score."""
    if trust is None:
        return missing("trust.trust_scores is not in the warehouse, so no trust history")
    if trust.is_empty():
        return missing("no trust history for this market")
    history = trust.sort("dt")
    components = [c for c in TRUST_COMPONENTS if c in history.columns]
    rows = []
    for row in history.iter_rows(named=True):
        weakest = _weakest(row, components)
        rows.append((str(row["dt"]), row["trust_score"], row.get("low_confidence"),
                     weakest[0] if weakest else "n/a", weakest[1] if weakest else None))  # fmt: skip
    lines = table(("dt", "trust_score", "low_confidence", "weakest_component", "weakest_value"), rows)
    last = history.row(-1, named=True)
    weakest = _weakest(last, components)
    if weakest:
        lines.append(f"Weakest component on {last['dt']}: `{weakest[0]}` at {num(weakest[1])} (as it enters the score"
                     f"{', 1 - value' if weakest[0] in INVERTED_COMPONENTS else ''}).")  # fmt: skip
    return lines


def alerts_section(alerts: pl.DataFrame | None, resolved_ts: datetime) -> list[str]:
    """Every alert of the market raised before its resolution time, oldest first."""
    if alerts is None:
        return missing("alerts.alerts is not in the warehouse")
    before = alerts.filter(pl.col("ts") < resolved_ts).sort("ts", "alert_id")
    if before.is_empty():
        return ["No alert fired for this market before resolution."]
    rows = [(r["ts"], (resolved_ts - r["ts"]).total_seconds() / 3600, r["severity"], r["source"],
             codes(r["reason_codes"]), r["message"]) for r in before.iter_rows(named=True)]  # fmt: skip
    return table(("ts", "lead_h", "severity", "source", "reason_codes", "message"), rows)


def calibration_section(scoreboard: pl.DataFrame | None, window: str, horizon: str,
                        segments: Sequence[tuple[str, str]]) -> list[str]:  # fmt: skip
    """The scoreboard's rows of the market's segments at the judged horizon."""
    if scoreboard is None:
        return missing("calib.scoreboard is not in the warehouse")
    lines = [f"Scoreboard window `{window}`, horizon `{horizon}`, as of the cohort day."]
    rows, absent = [], []
    for segment_type, segment in segments:
        keys = {"window": window, "horizon": horizon, "segment_type": segment_type, "segment": segment}
        found = scoreboard.filter(**keys)
        if found.is_empty():
            absent.append(f"{segment_type}={segment}")
            continue
        r = found.row(0, named=True)
        rows.append((segment_type, segment, *(r[c] for c in CALIBRATION_COLUMNS), r["low_confidence"]))
    lines += table(("segment_type", "segment", *CALIBRATION_COLUMNS, "low_confidence"), rows)
    if absent:
        lines += missing(f"no scoreboard row for {', '.join(absent)}")
    return lines


def catch_section(*, resolved_ts: datetime, y: int, path: pl.DataFrame | None, features: pl.DataFrame | None,
                  bands: pl.DataFrame | None, trust: pl.DataFrame | None,
                  thresholds: CatchThresholds) -> list[str]:  # fmt: skip
    """Per alert signal, the loosest threshold that fires before resolution, and a candidate rule for next time."""
    trust_points = None
    if trust is not None:
        # a day's score is known at the end of its day
        trust_points = trust.with_columns((pl.col("dt").cast(pl.Datetime("us", "UTC")) + timedelta(days=1)).alias("ts"))
    result = catch_table(resolved_ts=resolved_ts, y=y, path=path, features=features, bands=bands,
                         trust=trust_points, thresholds=thresholds)  # fmt: skip
    lines = ["For each signal: `loosest_threshold` is the most alarming value seen before resolution (any "
             "threshold up to it, or down to it for floors, would have fired); `first_at_default` is when the "
             "default threshold was first crossed."]  # fmt: skip
    header = ("rule", "signal", "loosest_threshold", "default", "fires_at_default", "first_at_default",
              "lead_h", "before_1d_cutoff", "status")  # fmt: skip
    lines += table(header, result.rows())
    fired = result.filter(pl.col("fires_at_default")).sort("first_ts", "rule")
    if fired.height:
        r = fired.row(0, named=True)
        when = "before" if r["before_1d_cutoff"] else "after"
        lines.append(f"Candidate rule: `{r['rule']}` at its default threshold {num(r['default_threshold'])} "
                     f"would have alerted first, at {stamp(r['first_ts'])}, {num(r['lead_hours'], 1)} h before "
                     f"resolution ({when} the 1d cutoff).")  # fmt: skip
    else:
        lines.append("Candidate rule: none of the rules fires at its default threshold before resolution.")
    return lines
