""" "What would have caught it": for each alert signal, the loosest threshold that fires before resolution, and when.

A postmortem should end with a candidate rule for next time, computed from the market's own data rather than
written by hand. For every signal the alert rules use (band breach, volume spike, open-interest change, trust
floor, clarity) and a price move toward the outcome, this module finds, over each market's observations strictly
before its resolution time:

- ``extreme``: the most alarming value observed, which is the loosest threshold under which the rule would have
  fired at least once (a band margin up to the largest breach, a spike ratio up to the largest ratio, a trust
  floor above the lowest score, ...);
- ``first_ts``: the first time the signal crossed the configured default threshold (``CatchThresholds``), with
  the lead in hours before resolution and whether that was before the 1d cutoff (where the price was judged).

All markets of a day are judged together, one Polars aggregation per signal (per-market frames cost more in
Polars call overhead than the work itself). Signals read what the warehouse has; a signal without data is one
row with ``status`` saying what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import polars as pl

from mca_core.alert_params import AlertConfig

__all__ = ["CATCH_COLUMNS", "CatchThresholds", "catch_rows"]

#: Columns of each row of ``catch_rows``, in order.
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
UTC_US: Final = pl.Datetime("us", "UTC")


_ALERTS: Final = AlertConfig()


@dataclass(frozen=True)
class CatchThresholds:
    """Default thresholds of the alert signals: the rule alerts' own (`mca_core.alert_params.AlertConfig`) where
    the alert stage has one, so "would have caught it" means "the platform's alerts would have said so".

    ``band_margin``: probability points outside [q10, q90] (0 = any breach, gate 1); ``volume_spike_ratio``: 24 h
    volume velocity (gate 2, ``volume_velocity_min``); ``oi_change``: relative 24 h open-interest change of either
    sign (gate 2, ``oi_change_min``); ``trust_floor``: trust score below which the alert stage distrusts a market
    (``min_trust_score``); ``clarity_floor``: clarity below which it calls a question ambiguous (gate 3,
    ``min_clarity``); ``price_move``: points moved toward the final outcome within ``move_window_hours`` (ours).
    """

    band_margin: float = 0.0
    volume_spike_ratio: float = _ALERTS.volume_velocity_min
    oi_change: float = _ALERTS.oi_change_min
    trust_floor: float = _ALERTS.min_trust_score
    clarity_floor: float = _ALERTS.min_clarity
    price_move: float = 0.20
    move_window_hours: int = 24

    @classmethod
    def of(cls, alerts: AlertConfig) -> CatchThresholds:
        """The thresholds of the alert config in force (``MCA_ALERT_RULES`` applied)."""
        return cls(volume_spike_ratio=alerts.volume_velocity_min, oi_change=alerts.oi_change_min,
                   trust_floor=alerts.min_trust_score, clarity_floor=alerts.min_clarity)  # fmt: skip


@dataclass(frozen=True)
class _Signal:
    rule: str
    signal: str
    default: float
    higher_alarms: bool  # True: values at or above the threshold fire; False: values at or below
    missing: str  # what the status names when the signal has no data


def _judged(spec: _Signal, series: pl.DataFrame, markets: pl.DataFrame) -> dict[str, tuple[float, datetime | None]]:
    """market_id -> (extreme, first ts at the default or None) from ``series`` (market_id, ts, value), before
    each market's resolution; markets without a value before resolution are absent."""
    value = pl.col("value")
    fires = value >= spec.default if spec.higher_alarms else value <= spec.default
    before = series.join(markets.select("market_id", "resolved_ts"), on="market_id").filter(
        (pl.col("ts") < pl.col("resolved_ts")) & value.is_not_null() & value.is_finite()
    )
    judged = before.group_by("market_id").agg(
        (value.max() if spec.higher_alarms else value.min()).alias("extreme"),
        pl.col("ts").filter(fires).min().alias("first_ts"),
    )
    return {m: (extreme, first) for m, extreme, first in judged.iter_rows()}


def _band_breach(bands: pl.DataFrame) -> pl.DataFrame:
    """Probability points outside the band per market and forecast time, from the conformal bands when the
    market's backtest has them."""
    conformal = pl.col("band_calibration") == "conformal"
    outside = pl.max_horizontal(pl.col("q10") - pl.col("y"), pl.col("y") - pl.col("q90"), pl.lit(0.0))
    chosen = bands.filter(conformal | ~conformal.any().over("market_id"))
    return chosen.group_by("market_id", "ts").agg(outside.max().alias("value"))


def _toward_outcome(path: pl.DataFrame, markets: pl.DataFrame, window_hours: int) -> pl.DataFrame:
    """Points moved toward each market's outcome since ``window_hours`` earlier (the last price at or before)."""
    ordered = path.select("market_id", "ts", "p").sort("ts")
    earlier = ordered.rename({"ts": "ts_then", "p": "p_then"})
    shifted = ordered.with_columns((pl.col("ts") - timedelta(hours=window_hours)).alias("ts_then")).sort("ts_then")
    joined = shifted.join_asof(earlier, on="ts_then", by="market_id", strategy="backward", check_sortedness=False)
    sign = pl.when(pl.col("y") == 1).then(1.0).otherwise(-1.0)
    with_y = joined.join(markets.select("market_id", "y"), on="market_id")
    return with_y.select("market_id", "ts", ((pl.col("p") - pl.col("p_then")) * sign).alias("value"))


def catch_rows(
    *,
    markets: pl.DataFrame,
    path: pl.DataFrame | None,
    features: pl.DataFrame | None,
    bands: pl.DataFrame | None,
    trust: pl.DataFrame | None,
    thresholds: CatchThresholds,
) -> dict[str, list[tuple[object, ...]]]:
    """market_id -> one row per signal (``CATCH_COLUMNS``), for each of ``markets`` (market_id, resolved_ts, y).

    ``path``: (market_id, ts, p) hourly prices; ``features``: (market_id, ts, volume_velocity, oi_change);
    ``bands``: backtest bands (market_id, ts, band_calibration, y, q10, q90); ``trust``: (market_id, ts,
    trust_score, clarity) with ``ts`` the end of the scored day. None means the input is absent from the warehouse.
    """
    t = thresholds

    def series(frame: pl.DataFrame | None, column: str, absolute: bool = False) -> pl.DataFrame | None:
        if frame is None or column not in frame.columns:
            return None
        value = pl.col(column).cast(pl.Float64)
        return frame.select("market_id", "ts", (value.abs() if absolute else value).alias("value"))

    with_path = set(path["market_id"].unique()) if path is not None else set()
    signals = [
        (_Signal("band_breach", "points outside [q10, q90]", t.band_margin, True, "no forecast bands"),
         _band_breach(bands) if bands is not None else None),
        (_Signal("volume_spike", "24h volume velocity", t.volume_spike_ratio, True, "no volume velocity"),
         series(features, "volume_velocity")),
        (_Signal("oi_change", "24h open-interest change, either sign (share)", t.oi_change, True,
                 "no open-interest change"),
         series(features, "oi_change", absolute=True)),
        (_Signal("trust_floor", "trust score", t.trust_floor, False, "no trust history"),
         series(trust, "trust_score")),
        (_Signal("clarity_floor", "question clarity", t.clarity_floor, False, "no clarity score"),
         series(trust, "clarity")),
        (_Signal("price_move", f"points toward the outcome within {t.move_window_hours}h", t.price_move, True,
                 "no price path"),
         _toward_outcome(path, markets, t.move_window_hours) if path is not None else None),
    ]  # fmt: skip
    judged = [(spec, _judged(spec, frame, markets) if frame is not None else None) for spec, frame in signals]
    out: dict[str, list[tuple[object, ...]]] = {}
    for market_id, resolved_ts in markets.select("market_id", "resolved_ts").iter_rows():
        rows: list[tuple[object, ...]] = []
        for spec, by_market in judged:
            head, default = (spec.rule, spec.signal), float(spec.default)
            if by_market is None or (spec.rule == "price_move" and market_id not in with_path):
                rows.append((*head, None, default, False, None, None, None, f"missing: {spec.missing}"))
            elif market_id not in by_market:
                rows.append((*head, None, default, False, None, None, None,
                             f"missing: {spec.missing} before resolution"))  # fmt: skip
            else:
                extreme, first = by_market[market_id]
                if first is None:
                    rows.append((*head, extreme, default, False, None, None, None, "ok"))
                else:
                    lead = (resolved_ts - first).total_seconds() / 3600
                    rows.append((*head, extreme, default, True, first, lead, first <= resolved_ts - _DAY, "ok"))
        out[market_id] = rows
    return out
