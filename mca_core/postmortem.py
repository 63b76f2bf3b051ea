"""Postmortems of a day's resolved cohort: which markets get one, and the markdown report of each.

Selection (``select_markets``): every resolved market that was confidently wrong at the judged horizon
(``|p_yes - y| >= wrong_threshold`` at the 1d cutoff by default), largest error first, then the largest-volume
others up to ``max_others``. VOID and UNRESOLVED markets have no outcome to be wrong about and are not selected.

A report (``build_reports``) is deterministic markdown from the warehouse's frames only: the same frames give
byte-identical text, and its chart (`mca_core.postmortem_chart`) is returned as data to render apart (rendering
is most of the cost, and it can run in other processes). Sections are built in `mca_core.postmortem_sections`;
an input that is absent (``None``: the table is not in the warehouse) or has no rows for the market yields the
section saying what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

import polars as pl

from mca_core.labels import RESOLVED_LABELS
from mca_core.postmortem_catch import CatchThresholds
from mca_core.postmortem_chart import PathChart
from mca_core.postmortem_sections import (
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


def _by_market(frame: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    if frame is None or frame.is_empty():
        return {}
    return {str(k[0]): v for k, v in frame.partition_by("market_id", as_dict=True, maintain_order=True).items()}


def _part(frame: pl.DataFrame | None, parts: dict[str, pl.DataFrame], market_id: str) -> pl.DataFrame | None:
    """The market's rows of an input; None when the whole input is absent, an empty frame when the market has none."""
    if frame is None:
        return None
    return parts.get(market_id, frame.clear())


def _summary(res: dict[str, object], market: dict[str, object] | None, siblings: pl.DataFrame | None,
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
        others = siblings.filter(pl.col("market_id") != res["market_id"]).sort("market_id")
        lines += ["", f"negRisk event `{res['event_id']}`: {others.height} sibling markets."]
        if others.height:
            lines += table(("market_id", "question", "label", "p_yes"),
                           others.select("market_id", "question", "label", "p_yes").rows())  # fmt: skip
    return lines


def build_reports(inputs: DayInputs, config: PostmortemConfig | None = None) -> list[Report]:
    """The day's reports in selection order (worst miss first)."""
    config = config or PostmortemConfig()
    selected = select_markets(inputs.resolutions, inputs.cutoffs, config)
    resolutions = {r["market_id"]: r for r in inputs.resolutions.iter_rows(named=True)}
    parts = {name: _by_market(getattr(inputs, name))
             for name in ("cutoffs", "path", "snapshots", "features", "bands", "trust", "alerts")}  # fmt: skip
    markets = {r["market_id"]: r for r in inputs.markets.iter_rows(named=True)} if inputs.markets is not None else {}
    events = {}
    if inputs.markets is not None and inputs.markets.height:
        with_event = inputs.markets.filter(pl.col("event_id").is_not_null())
        events = {str(k[0]): v for k, v in with_event.partition_by("event_id", as_dict=True).items()}
    reports = []
    for sel in selected.iter_rows(named=True):
        market_id = sel["market_id"]
        res = resolutions[market_id]

        def part(name: str, market_id: str = market_id) -> pl.DataFrame | None:
            return _part(getattr(inputs, name), parts[name], market_id)

        reports.append(_report(inputs, config, sel, res, markets.get(market_id), events.get(str(res["event_id"])),
                               part))  # fmt: skip
    return reports


def _report(inputs: DayInputs, config: PostmortemConfig, sel: dict[str, object], res: dict[str, object],
            market: dict[str, object] | None, siblings: pl.DataFrame | None,
            get: Callable[[str], pl.DataFrame | None]) -> Report:  # fmt: skip
    """One report; ``get(name)`` is the market's rows of input ``name``."""
    market_id, y = str(res["market_id"]), int(res["y"])  # type: ignore[call-overload]
    resolved_ts: datetime = res["resolved_ts"]  # type: ignore[assignment]
    cutoffs = get("cutoffs")
    path, trust = get("path"), get("trust")
    stem = report_stem(market_id, inputs.dt)
    question = str(market["question"]) if market else market_id
    chart = None
    path_lines = missing("no price history for this market in core.price_history")
    if path is not None and path.height:
        ordered = path.sort("ts")
        cut_rows = cutoffs.sort("cutoff_ts").rows(named=True) if cutoffs is not None else []
        chart = PathChart(title=question[:90], resolved_ts=resolved_ts, y=y, ts=ordered["ts"].to_list(),
                          p=ordered["p"].to_list(),
                          cutoffs=[(c["horizon"], c["cutoff_ts"], c["p_yes"]) for c in cut_rows])  # fmt: skip
        path_lines = [f"![probability path]({stem}.svg)", "",
                      f"{ordered.height} price points from {stamp(ordered['ts'][0])} to {stamp(ordered['ts'][-1])}; "
                      f"dotted lines mark the cutoffs, the dashed line the outcome."]  # fmt: skip
    segments = [("all", "all"), ("category", str(res["category"])), ("liquidity_bucket", str(res["liquidity_bucket"]))]
    bodies = [
        _summary(res, market, siblings, sel, config.judged_horizon),
        path_lines,
        horizons_section(cutoffs if cutoffs is not None else inputs.cutoffs.clear(), y, str(res["category"]),
                         inputs.scoreboard, config.segment_window),
        moves_section(path, get("snapshots"), config.catch.move_window_hours, config.largest_moves),
        clarity_section(trust),
        trust_section(trust),
        alerts_section(get("alerts"), resolved_ts),
        calibration_section(inputs.scoreboard, config.segment_window, config.judged_horizon, segments),
        catch_section(resolved_ts=resolved_ts, y=y, path=path, features=get("features"),
                      bands=get("bands"), trust=trust, thresholds=config.catch),
    ]  # fmt: skip
    lines = [f"# Postmortem: {question}", "",
             f"Market `{market_id}`, cohort {inputs.dt.isoformat()}, resolved {stamp(resolved_ts)}."]  # fmt: skip
    for heading, body in zip(SECTIONS, bodies, strict=True):
        lines += ["", f"## {heading}", "", *body]
    abs_error = sel["abs_error"]
    return Report(inputs.dt, market_id, str(sel["reason"]), float(abs_error) if abs_error is not None else None,  # type: ignore[arg-type]
                  re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n", chart)  # fmt: skip
