""" "What would have caught it": for each alert signal, the loosest threshold that fires before resolution, and when.

A postmortem should end with a candidate rule for next time, computed from the market's own data rather than
written by hand. For every signal the alert rules use (band breach, volume spike, open-interest drop, trust floor,
clarity, price move) this module finds, over the market's observations strictly before its resolution time:

- ``extreme``: the most alarming value observed, which is the loosest threshold under which the rule would have
  fired at least once (a band margin up to the largest breach, a spike ratio up to the largest ratio, a trust
  floor above the lowest score, ...);
- ``first_ts``: the first time the signal crossed the configured default threshold (``CatchThresholds``), with
  the lead in hours before resolution and whether that was before the 1d cutoff (where the price was judged).

Signals read what the warehouse has; a signal without data is one row with ``status`` saying what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import polars as pl

__all__ = ["CATCH_COLUMNS", "CatchThresholds", "catch_table"]

#: Columns of ``catch_table``, in order.
CATCH_COLUMNS: Final = (
    "rule",
    "signal",
    "extreme",
    "default_threshold",
    "fires_at_default",
    "first_ts",
    "lead_hours",
    "before_1d_cutoff",
    "status",
)
_DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class CatchThresholds:
    """Default thresholds of the alert signals (the seed's alert gates where it has one, DESIGN.md §5).

    ``band_margin``: probability points outside [q10, q90] (0 = any breach); ``volume_spike_ratio``: 24 h volume
    velocity (seed gate 2); ``oi_drop``: relative 24 h open-interest fall (seed: -0.15); ``trust_floor``: trust
    score below which a market is flagged (seed's min_trust_score 60); ``clarity_floor``: clarity below which a
    question is ambiguous (`mca_core.clarity.AMBIGUOUS_BELOW`); ``price_move``: points moved toward the final
    outcome within ``move_window_hours``.
    """

    band_margin: float = 0.0
    volume_spike_ratio: float = 2.0
    oi_drop: float = 0.15
    trust_floor: float = 60.0
    clarity_floor: float = 0.75
    price_move: float = 0.20
    move_window_hours: int = 24


@dataclass(frozen=True)
class _Signal:
    rule: str
    signal: str
    default: float
    higher_alarms: bool  # True: values at or above the threshold fire; False: values at or below


def _row(spec: _Signal, **values: object) -> dict[str, object]:
    return {"rule": spec.rule, "signal": spec.signal, "default_threshold": spec.default, "extreme": None,
            "fires_at_default": False, "first_ts": None, "lead_hours": None, "before_1d_cutoff": None,
            "status": "ok"} | values  # fmt: skip


def _judge(spec: _Signal, series: pl.DataFrame | None, resolved_ts: datetime, missing: str) -> dict[str, object]:
    """One rule's row from ``series`` (columns ts, value), keeping only values strictly before resolution."""
    if series is None:
        return _row(spec, status=f"missing: {missing}")
    before = series.filter((pl.col("ts") < resolved_ts) & pl.col("value").is_not_null() & pl.col("value").is_finite())
    if before.is_empty():
        return _row(spec, status=f"missing: {missing} before resolution")
    value = pl.col("value")
    extreme = before["value"].max() if spec.higher_alarms else before["value"].min()
    fired = before.filter(value >= spec.default if spec.higher_alarms else value <= spec.default).sort("ts")
    if fired.is_empty():
        return _row(spec, extreme=extreme)
    first: datetime = fired["ts"][0]
    lead = (resolved_ts - first).total_seconds() / 3600
    return _row(spec, extreme=extreme, fires_at_default=True, first_ts=first, lead_hours=lead,
                before_1d_cutoff=first <= resolved_ts - _DAY)  # fmt: skip


def _band_breach(bands: pl.DataFrame) -> pl.DataFrame:
    """Probability points outside the band per forecast time, the conformal bands when the backtest has them."""
    calibrated = bands.filter(pl.col("band_calibration") == "conformal")
    chosen = calibrated if calibrated.height else bands
    outside = pl.max_horizontal(pl.col("q10") - pl.col("y"), pl.col("y") - pl.col("q90"), pl.lit(0.0))
    return chosen.group_by("ts").agg(outside.max().alias("value")).sort("ts")


def _toward_outcome(path: pl.DataFrame, y: int, window_hours: int) -> pl.DataFrame:
    """Points moved toward outcome ``y`` since ``window_hours`` earlier (the last price at or before then)."""
    ordered = path.select("ts", "p").sort("ts")
    earlier = ordered.rename({"ts": "ts_then", "p": "p_then"})
    shifted = ordered.with_columns((pl.col("ts") - timedelta(hours=window_hours)).alias("ts_then"))
    joined = shifted.join_asof(earlier, on="ts_then", strategy="backward")
    sign = 1.0 if y == 1 else -1.0
    return joined.select("ts", ((pl.col("p") - pl.col("p_then")) * sign).alias("value"))


def catch_table(
    *,
    resolved_ts: datetime,
    y: int,
    path: pl.DataFrame | None,
    features: pl.DataFrame | None,
    bands: pl.DataFrame | None,
    trust: pl.DataFrame | None,
    thresholds: CatchThresholds,
) -> pl.DataFrame:
    """One row per signal (``CATCH_COLUMNS``) for a market resolved at ``resolved_ts`` with outcome ``y``.

    ``path``: (ts, p) hourly prices; ``features``: (ts, volume_velocity, oi_change); ``bands``: the market's
    backtest bands (ts, band_calibration, y, q10, q90); ``trust``: (ts, trust_score, clarity) with ``ts`` the end
    of the scored day. None means the input is absent from the warehouse.
    """
    t = thresholds
    move = f"points toward the outcome within {t.move_window_hours}h"

    def series(frame: pl.DataFrame | None, column: str, scale: float = 1.0) -> pl.DataFrame | None:
        if frame is None or column not in frame.columns:
            return None
        return frame.select("ts", (pl.col(column).cast(pl.Float64) * scale).alias("value"))

    rows = [
        _judge(_Signal("band_breach", "points outside [q10, q90]", t.band_margin, True),
               _band_breach(bands) if bands is not None else None, resolved_ts, "no forecast bands"),
        _judge(_Signal("volume_spike", "24h volume velocity", t.volume_spike_ratio, True),
               series(features, "volume_velocity"), resolved_ts, "no volume velocity"),
        _judge(_Signal("oi_drop", "24h open-interest fall (share)", t.oi_drop, True),
               series(features, "oi_change", -1.0), resolved_ts, "no open-interest change"),
        _judge(_Signal("trust_floor", "trust score", t.trust_floor, False),
               series(trust, "trust_score"), resolved_ts, "no trust history"),
        _judge(_Signal("clarity_floor", "question clarity", t.clarity_floor, False),
               series(trust, "clarity"), resolved_ts, "no clarity score"),
        _judge(_Signal("price_move", move, t.price_move, True),
               _toward_outcome(path, y, t.move_window_hours) if path is not None and path.height else None,
               resolved_ts, "no price path"),
    ]  # fmt: skip
    schema = pl.Schema({"rule": pl.String(), "signal": pl.String(), "extreme": pl.Float64(),
                        "default_threshold": pl.Float64(), "fires_at_default": pl.Boolean(),
                        "first_ts": pl.Datetime("us", "UTC"), "lead_hours": pl.Float64(),
                        "before_1d_cutoff": pl.Boolean(), "status": pl.String()})  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(CATCH_COLUMNS)
