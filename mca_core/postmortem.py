"""Postmortems of a day's resolved cohort: which markets get one, and the markdown report of each.

Selection (``select_markets``): every resolved market that was confidently wrong at the judged horizon
(``|p_yes - y| >= wrong_threshold`` at the 1d cutoff by default), largest error first, then the largest-volume
others up to ``max_others``. VOID and UNRESOLVED markets have no outcome to be wrong about and are not selected.

A report (``build_reports``) is deterministic markdown from the warehouse's frames only: the same frames give
byte-identical text, and its chart (`mca_core.postmortem_chart`) is returned as data to render apart (rendering
is most of the cost, and it can run in other processes). Each input is reshaped once for the whole day
(`mca_core.postmortem_frames`, `mca_core.postmortem_catch`) and each report only prints its market's rows
(`mca_core.postmortem_sections`); an input that is absent (``None``: the table is not in the warehouse) or has no
rows for the market yields the section saying what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

import polars as pl

from mca_core.labels import RESOLVED_LABELS
from mca_core.postmortem_catch import CatchThresholds, catch_rows
from mca_core.postmortem_chart import PathChart
from mca_core.postmortem_frames import (
    MOVE_COLUMNS,
    chart_coordinates,
    largest_moves,
    path_spans,
    rows_by,
    weakest_values,
)
from mca_core.postmortem_sections import (
    ScoreRow,
    alerts_section,
    calibration_section,
    catch_section,
    clarity_section,
    horizons_section,
    missing,
    moves_section,
    num,
    stamp,
    table,
    trust_section,
)

__all__ = ["SECTIONS", "DayInputs", "PostmortemConfig", "Report", "build_reports", "report_stem", "select_markets"]

#: The section headings of every report, in order.
SECTIONS: Final = (
    "Summary",
    "Probability path",
    "Prices and Brier by horizon",
    "Volume and open interest around the largest moves",
    "Question clarity",
    "Trust history",
    "Alerts before resolution",
    "Segment calibration",
    "What would have caught it",
)
CONFIDENTLY_WRONG, TOP_VOLUME = "confidently_wrong", "top_volume"


@dataclass(frozen=True)
class PostmortemConfig:
    """Who gets a report and how it is judged (defaults documented in docs/postmortems.md)."""

    wrong_threshold: float = 0.7  # |p_yes - y| at the judged horizon from which a market is confidently wrong
    max_others: int = 50  # largest-volume other resolved markets reported per day
    judged_horizon: str = "1d"
    segment_window: str = "90d"  # scoreboard window of the segment comparisons
    largest_moves: int = 3  # moves put in volume / open-interest context
    catch: CatchThresholds = field(default_factory=CatchThresholds)

    def __post_init__(self) -> None:
        if not 0.0 < self.wrong_threshold <= 1.0:
            raise ValueError(f"wrong_threshold must be in (0, 1], got {self.wrong_threshold}")
        if self.max_others < 0:
            raise ValueError(f"max_others must be >= 0, got {self.max_others}")


@dataclass(frozen=True)
class DayInputs:
    """The warehouse's rows for one cohort day; ``None`` marks a table absent from the warehouse.

    ``resolutions``/``cutoffs``: the day's partitions; ``markets``: core.markets of the day for the cohort's events
    (siblings included) with each market's ``label`` when known; ``path``: (market_id, ts, p); ``snapshots``:
    (market_id, ts, volume_usd, open_interest_usd); ``features``: (market_id, ts, volume_velocity, oi_change);
    ``scoreboard``: the day's calib.scoreboard; ``bands``: (market_id, ts, band_calibration, y, q10, q90);
    ``trust``: trust.trust_scores rows of the cohort up to the day; ``alerts``: alerts.alerts of the cohort.
    """

    dt: date
    resolutions: pl.DataFrame
    cutoffs: pl.DataFrame
    markets: pl.DataFrame | None = None
    path: pl.DataFrame | None = None
    snapshots: pl.DataFrame | None = None
    features: pl.DataFrame | None = None
    scoreboard: pl.DataFrame | None = None
    bands: pl.DataFrame | None = None
    trust: pl.DataFrame | None = None
    alerts: pl.DataFrame | None = None


@dataclass(frozen=True)
class Report:
    """One market's postmortem: its markdown, and its chart to render (None without a price path)."""

    dt: date
    market_id: str
    reason: str
    abs_error: float | None
    markdown: str
    chart: PathChart | None

    @property
    def stem(self) -> str:
        return report_stem(self.market_id, self.dt)


def report_stem(market_id: str, dt: date) -> str:
    """``<market_id>_<YYYY-MM-DD>`` with any character unsafe in a file name replaced by ``-``."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '-', market_id)}_{dt.isoformat()}"


def select_markets(resolutions: pl.DataFrame, cutoffs: pl.DataFrame, config: PostmortemConfig) -> pl.DataFrame:
    """The markets to report, in report order: (market_id, reason, p_judged, abs_error, volume_usd)."""
    judged = cutoffs.filter(pl.col("horizon") == config.judged_horizon).select(
        "market_id", pl.col("p_yes").alias("p_judged")
    )
    resolved = (
        resolutions.filter(pl.col("label").is_in(RESOLVED_LABELS))
        .select("market_id", "y", "volume_usd")
        .join(judged, on="market_id", how="left")
        .with_columns((pl.col("p_judged") - pl.col("y")).abs().alias("abs_error"))
    )
    is_wrong = pl.col("abs_error") >= config.wrong_threshold
    wrong = resolved.filter(is_wrong).sort(["abs_error", "market_id"], descending=[True, False])
    others = (
        resolved.filter(~is_wrong.fill_null(False))
        .sort(["volume_usd", "market_id"], descending=[True, False], nulls_last=True)
        .head(config.max_others)
    )
    columns = ("market_id", "reason", "p_judged", "abs_error", "volume_usd")
    return pl.concat(
        [wrong.with_columns(pl.lit(CONFIDENTLY_WRONG).alias("reason")).select(columns),
         others.with_columns(pl.lit(TOP_VOLUME).alias("reason")).select(columns)]
    )  # fmt: skip


def _summary(res: dict[str, object], market: dict[str, object] | None, siblings: list[tuple[object, ...]] | None,
             selected: dict[str, object], horizon: str) -> list[str]:  # fmt: skip
    y = int(res["y"])  # type: ignore[call-overload]
    rows = [
        ("question", market["question"] if market else "n/a"),
        ("market_id", res["market_id"]),
        ("outcome", f"{'YES' if y == 1 else 'NO'} (y = {y})"),
        ("label", res["label"]),
        ("resolution time", stamp(res["resolved_ts"])),  # type: ignore[arg-type]
        ("category", res["category"]),
        ("liquidity bucket", res["liquidity_bucket"]),
        ("volume_usd", res["volume_usd"]),
        ("event", res["event_id"] or "none"),
        ("selected", f"{selected['reason']} (|p - y| at {horizon} = {num(selected['abs_error'])})"),
    ]
    lines = table(("field", "value"), rows)
    if market is None:
        lines += missing("the market is not in core.markets of the cohort day (no question or event)")
    elif market.get("neg_risk") and siblings is not None:
        others = [row for row in siblings if row[0] != res["market_id"]]
        lines += ["", f"negRisk event `{res['event_id']}`: {len(others)} sibling markets."]
        if others:
            lines += table(("market_id", "question", "label", "p_yes"), others)
    return lines


@dataclass(frozen=True)
class _Day:
    """The day's inputs reshaped once for every selected market: plain rows by market, lookups by segment."""

    siblings: Mapping[str, list[tuple[object, ...]]]  # event_id -> (market_id, question, label, p_yes), by id
    markets: Mapping[str, dict[str, object]]
    spans: Mapping[str, tuple[object, ...]]  # (points, first ts, last ts) of the path
    coordinates: Mapping[str, tuple[Sequence[float], Sequence[float]]]
    cutoffs: Mapping[str, dict[str, ScoreRow]]  # market -> horizon -> cutoff row
    category: Mapping[str, dict[str, ScoreRow]] | None  # category -> horizon -> scoreboard row
    calibration: Mapping[tuple[str, str], ScoreRow] | None  # (segment_type, segment) at the judged horizon
    moves: Mapping[str, list[tuple[object, ...]]]
    with_snapshots: frozenset[str]
    trust: Mapping[str, list[tuple[object, ...]]] | None
    clarity: Mapping[str, tuple[object, ...]] | None
    alerts: Mapping[str, list[tuple[object, ...]]] | None
    catch: Mapping[str, list[tuple[object, ...]]]


def _first_rows(frame: pl.DataFrame, key: Sequence[str]) -> dict[tuple[object, ...], ScoreRow]:
    """key values -> the first row with them (in the frame's order)."""
    out: dict[tuple[object, ...], ScoreRow] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault(tuple(row[k] for k in key), row)
    return out


def _scoreboard(scoreboard: pl.DataFrame | None, config: PostmortemConfig) -> tuple[
        dict[str, dict[str, ScoreRow]] | None, dict[tuple[str, str], ScoreRow] | None]:  # fmt: skip
    if scoreboard is None:
        return None, None
    window = scoreboard.filter(pl.col("window") == config.segment_window)
    category: dict[str, dict[str, ScoreRow]] = {}
    for (segment, horizon), row in _first_rows(window.filter(segment_type="category"), ("segment", "horizon")).items():
        category.setdefault(str(segment), {})[str(horizon)] = row
    at_horizon = _first_rows(window.filter(horizon=config.judged_horizon), ("segment_type", "segment"))
    return category, {(str(k[0]), str(k[1])): row for k, row in at_horizon.items()}


def _trust(trust: pl.DataFrame | None) -> tuple[dict[str, list[tuple[object, ...]]] | None,
                                                dict[str, tuple[object, ...]] | None]:  # fmt: skip
    """Trust history rows (dt, trust_score, low_confidence, weakest_component, weakest_value) and the latest
    clarity (dt, clarity, reasons) by market."""
    if trust is None:
        return None, None
    for column, dtype in (("low_confidence", pl.Boolean), ("clarity_reasons", pl.List(pl.String))):
        if column not in trust.columns:
            trust = trust.with_columns(pl.lit(None, dtype).alias(column))
    ordered = weakest_values(trust.sort("market_id", "dt", maintain_order=True))
    history = rows_by(ordered, ("dt", "trust_score", "low_confidence", "weakest_component", "weakest_value"))
    clarity = None
    if "clarity" in trust.columns:
        scored = ordered.filter(pl.col("clarity").is_not_null()).group_by("market_id").last()
        clarity = {str(r[0]): r[1:] for r in scored.select("market_id", "dt", "clarity", "clarity_reasons").rows()}
    return history, clarity


def _prepare(inputs: DayInputs, config: PostmortemConfig, selected: pl.DataFrame) -> _Day:
    """Every input of the selected markets reshaped in one pass each (`mca_core.postmortem_frames`)."""
    chosen = inputs.resolutions.filter(pl.col("market_id").is_in(selected["market_id"].implode()))

    def cohort(frame: pl.DataFrame | None) -> pl.DataFrame | None:
        return None if frame is None else frame.filter(pl.col("market_id").is_in(chosen["market_id"].implode()))

    path, snapshots, trust, alerts = (cohort(f) for f in (inputs.path, inputs.snapshots, inputs.trust, inputs.alerts))
    markets = inputs.markets
    siblings = {}
    if markets is not None:
        with_event = markets.filter(pl.col("event_id").is_not_null()).sort("event_id", "market_id", maintain_order=True)
        siblings = rows_by(with_event, ("market_id", "question", "label", "p_yes"), key="event_id")
    cutoffs: dict[str, dict[str, ScoreRow]] = {}
    in_cohort = inputs.cutoffs.filter(pl.col("market_id").is_in(chosen["market_id"].implode()))
    for row in in_cohort.iter_rows(named=True):
        cutoffs.setdefault(str(row["market_id"]), {})[str(row["horizon"])] = row
    category, calibration = _scoreboard(inputs.scoreboard, config)
    moves: dict[str, list[tuple[object, ...]]] = {}
    if path is not None:
        window, count = config.catch.move_window_hours, config.largest_moves
        moves = rows_by(largest_moves(path, snapshots, window, count), MOVE_COLUMNS)
    history, clarity = _trust(trust)
    by_alert = None
    if alerts is not None:
        before = alerts.join(chosen.select("market_id", "resolved_ts"), on="market_id").filter(
            pl.col("ts") < pl.col("resolved_ts")).sort("market_id", "ts", "alert_id")  # fmt: skip
        by_alert = rows_by(before, ("ts", "severity", "source", "reason_codes", "message"))
    trust_points = None
    if trust is not None:  # a day's score is known at the end of its day
        trust_points = trust.with_columns((pl.col("dt").cast(pl.Datetime("us", "UTC")) + timedelta(days=1)).alias("ts"))
    catch = catch_rows(markets=chosen.select("market_id", "resolved_ts", "y"), path=path,
                       features=cohort(inputs.features), bands=cohort(inputs.bands), trust=trust_points,
                       thresholds=config.catch)  # fmt: skip
    has_path = path is not None and path.height > 0
    return _Day(
        siblings=siblings,
        markets={str(r["market_id"]): r for r in markets.iter_rows(named=True)} if markets is not None else {},
        spans=path_spans(path) if has_path else {},  # type: ignore[arg-type]
        coordinates=chart_coordinates(path, chosen) if has_path else {},  # type: ignore[arg-type]
        cutoffs=cutoffs, category=category, calibration=calibration, moves=moves,
        with_snapshots=frozenset(snapshots["market_id"].unique()) if snapshots is not None else frozenset(),
        trust=history, clarity=clarity, alerts=by_alert, catch=catch,
    )  # fmt: skip


def build_reports(inputs: DayInputs, config: PostmortemConfig | None = None) -> list[Report]:
    """The day's reports in selection order (worst miss first)."""
    config = config or PostmortemConfig()
    selected = select_markets(inputs.resolutions, inputs.cutoffs, config)
    day = _prepare(inputs, config, selected)
    resolutions = {r["market_id"]: r for r in inputs.resolutions.iter_rows(named=True)}
    return [_report(inputs.dt, config, sel, resolutions[sel["market_id"]], day)
            for sel in selected.iter_rows(named=True)]  # fmt: skip


def _report(dt: date, config: PostmortemConfig, sel: dict[str, object], res: dict[str, object], day: _Day) -> Report:
    """One report, printed from its market's rows of ``day``."""
    market_id, y = str(res["market_id"]), int(res["y"])  # type: ignore[call-overload]
    resolved_ts: datetime = res["resolved_ts"]  # type: ignore[assignment]
    market = day.markets.get(market_id)
    cutoffs = day.cutoffs.get(market_id, {})
    stem = report_stem(market_id, dt)
    question = str(market["question"]) if market else market_id
    chart = None
    path_lines = missing("no price history for this market in core.price_history")
    if market_id in day.spans:
        points, first_ts, last_ts = day.spans[market_id]
        hours, prices = day.coordinates[market_id]
        marks: list[tuple[datetime, str, float]] = sorted((c["cutoff_ts"], h, c["p_yes"]) for h, c in cutoffs.items())  # type: ignore[misc]
        at = [(h, (ts - resolved_ts).total_seconds() / 3600, p) for ts, h, p in marks]
        chart = PathChart(title=question[:90], y=y, hours=hours, p=prices, cutoffs=at)
        path_lines = [f"![probability path]({stem}.svg)", "",
                      f"{points} price points from {stamp(first_ts)} to {stamp(last_ts)}; "  # type: ignore[arg-type]
                      f"dotted lines mark the cutoffs, the dashed line the outcome."]  # fmt: skip
    category, bucket = str(res["category"]), str(res["liquidity_bucket"])
    segments = [("all", "all"), ("category", category), ("liquidity_bucket", bucket)]
    window = config.catch.move_window_hours
    bodies = [
        _summary(res, market, day.siblings.get(str(res["event_id"])), sel, config.judged_horizon),
        path_lines,
        horizons_section(cutoffs, y, category, None if day.category is None else day.category.get(category, {}),
                         config.segment_window),
        moves_section(day.moves.get(market_id, []) if market_id in day.spans else None,
                      market_id in day.with_snapshots, window),
        clarity_section(day.trust is not None, day.clarity is not None,
                        day.clarity.get(market_id) if day.clarity is not None else None),
        trust_section(day.trust is not None, day.trust.get(market_id, []) if day.trust is not None else []),
        alerts_section(day.alerts is not None, day.alerts.get(market_id, []) if day.alerts is not None else [],
                       resolved_ts),
        calibration_section(day.calibration, config.segment_window, config.judged_horizon, segments),
        catch_section(day.catch[market_id]),
    ]  # fmt: skip
    lines = [f"# Postmortem: {question}", "",
             f"Market `{market_id}`, cohort {dt.isoformat()}, resolved {stamp(resolved_ts)}."]  # fmt: skip
    for heading, body in zip(SECTIONS, bodies, strict=True):
        lines += ["", f"## {heading}", "", *body]
    abs_error = sel["abs_error"]
    return Report(dt, market_id, str(sel["reason"]), float(abs_error) if abs_error is not None else None,  # type: ignore[arg-type]
                  re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n", chart)  # fmt: skip
