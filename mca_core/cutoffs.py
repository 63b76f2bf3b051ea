"""Cutoff snapshots: the YES price a market showed a fixed horizon before it resolved.

For each resolved market (label ``RESOLVED_TRUE``/``RESOLVED_FALSE``) and each horizon ``h``:

- ``cutoff_ts = resolved_ts - h`` (UTC; ``1m`` is 30 days, no calendar months);
- the forecast is the LAST observed YES price with ``ts <= cutoff_ts`` (a backward as-of per
  market: a price at exactly the cutoff counts, a price one microsecond after never does);
- ``staleness_seconds = cutoff_ts - snapshot_ts`` (seconds, float, >= 0).

A (market, horizon) with no price at or before the cutoff is dropped as
``no_price_before_cutoff``; one whose staleness exceeds the horizon's limit (strictly greater) is
dropped as ``too_stale``. Nothing is ever filled from later prices. ``VOID``/``UNRESOLVED`` rows
and rows with a null label are ignored (they are not scored, so they are not "dropped").

Staleness limits (configuration, ``MCA_CUTOFF_MAX_STALENESS``; defaults in `mca_resources.settings`)
stay well below their horizon so that a row labelled "1d before resolution" really is a 1-day-ahead
forecast and not, say, a 2-day one: by default at most 100% of the horizon for ``1h`` (hourly price
history puts a point within the hour of any cutoff in an active market, so one missed point is
tolerated), 50% for ``4h``, 25% for ``1d``, 1/7 for ``1w`` and 1/10 for ``1m``. Longer horizons get
smaller fractions because a quiet market's old price is still informative there, while near
resolution every hour matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import polars as pl

from mca_core.labels import RESOLVED_LABELS

__all__ = [
    "CUTOFF_COLUMNS",
    "DROPPED_COLUMNS",
    "DROP_REASONS",
    "HORIZONS",
    "CutoffResult",
    "cutoff_snapshots",
]

#: Horizon name -> seconds before resolution, in reporting order (``1m`` = 30 days).
HORIZONS: dict[str, int] = {"1h": 3600, "4h": 14400, "1d": 86400, "1w": 604800, "1m": 2592000}

DROP_REASONS: Final = ("no_price_before_cutoff", "too_stale")
#: Columns of ``CutoffResult.rows`` (the ``core.cutoff_snapshots`` table), in order.
CUTOFF_COLUMNS: Final = (
    "dt",
    "market_id",
    "event_id",
    "horizon",
    "cutoff_ts",
    "snapshot_ts",
    "p_yes",
    "staleness_seconds",
    "y",
)
#: Columns of ``CutoffResult.dropped``, in order.
DROPPED_COLUMNS: Final = ("dt", "market_id", "horizon", "reason")

_UTC_US: Final = pl.Datetime("us", "UTC")


@dataclass(frozen=True, slots=True)
class CutoffResult:
    """Output of ``cutoff_snapshots``.

    ``rows``: columns ``CUTOFF_COLUMNS`` (``dt`` Date, ``market_id``/``event_id``/``horizon``
    String, ``cutoff_ts``/``snapshot_ts`` Datetime(us, UTC), ``p_yes`` Float64 in [0, 1],
    ``staleness_seconds`` Float64 >= 0, ``y`` Int8 in {0, 1}), sorted by ``dt``, ``market_id``,
    then horizon in the order given (``1h`` .. ``1m``); unique on (dt, market_id, horizon).
    ``dropped``: columns ``DROPPED_COLUMNS`` (``reason`` in ``DROP_REASONS``), same order.
    """

    rows: pl.DataFrame
    dropped: pl.DataFrame

    def dropped_counts(self) -> dict[str, int]:
        """Dropped (market, horizon) pairs per reason; every reason present, zero included."""
        counts = {reason: 0 for reason in DROP_REASONS}
        for reason, n in self.dropped.group_by("reason").len().iter_rows():
            counts[reason] = int(n)
        return counts


def _utc_us(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as ``Datetime(us, UTC)``; naive datetimes are taken as UTC."""
    dtype = frame.schema[name]
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        col = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
    return col.cast(_UTC_US)


def _require(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(f"cutoff_snapshots: {what} lacks column(s) {missing}")


def _horizon_frame(horizons: Mapping[str, int], max_staleness: Mapping[str, int]) -> pl.DataFrame:
    if not horizons:
        raise ValueError("cutoff_snapshots: no horizons given")
    for name, seconds in horizons.items():
        if seconds <= 0:
            raise ValueError(f"cutoff_snapshots: horizon {name!r} must be positive seconds, got {seconds}")
        if name not in max_staleness:
            raise ValueError(f"cutoff_snapshots: no staleness limit for horizon {name!r}")
        if max_staleness[name] < 0:
            raise ValueError(f"cutoff_snapshots: staleness limit of {name!r} is negative")
    names = list(horizons)
    return pl.DataFrame(
        {
            "horizon": names,
            "_order": list(range(len(names))),
            "_horizon_us": [horizons[name] * 1_000_000 for name in names],
            "_max_stale_us": [max_staleness[name] * 1_000_000 for name in names],
        },
        schema={"horizon": pl.String, "_order": pl.Int32, "_horizon_us": pl.Int64, "_max_stale_us": pl.Int64},
    )


def _resolved(resolutions: pl.DataFrame) -> pl.DataFrame:
    """The scored rows, typed; raises on a contract breach a silent drop would hide."""
    _require(resolutions, ("dt", "market_id", "event_id", "resolved_ts", "label", "y"), "resolutions")
    frame = resolutions.filter(pl.col("label").cast(pl.String).is_in(list(RESOLVED_LABELS))).select(
        pl.col("dt").cast(pl.Date),
        pl.col("market_id").cast(pl.String),
        pl.col("event_id").cast(pl.String),
        _utc_us(resolutions, "resolved_ts").alias("resolved_ts"),
        pl.col("label").cast(pl.String),
        pl.col("y").cast(pl.Int8),
    )
    bad = frame.filter(
        pl.col("dt").is_null()
        | pl.col("market_id").is_null()
        | pl.col("resolved_ts").is_null()
        | (pl.col("y") != pl.when(pl.col("label") == "RESOLVED_TRUE").then(1).otherwise(0)).fill_null(True)
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(
            f"cutoff_snapshots: resolved market {row['market_id']!r} (dt={row['dt']}) needs dt, resolved_ts "
            f"and y matching its label; got resolved_ts={row['resolved_ts']}, label={row['label']}, y={row['y']}"
        )
    dupes = frame.filter(pl.struct("dt", "market_id").is_duplicated())
    if dupes.height:
        row = dupes.row(0, named=True)
        raise ValueError(f"cutoff_snapshots: market {row['market_id']!r} appears twice in cohort {row['dt']}")
    return frame


def _price_points(prices: pl.DataFrame, market_ids: pl.DataFrame) -> pl.DataFrame:
    """Prices of the given markets, typed and sorted by (market_id, ts); raises on bad points."""
    _require(prices, ("market_id", "ts", "p"), "prices")
    points = (
        prices.select(
            pl.col("market_id").cast(pl.String),
            _utc_us(prices, "ts").alias("ts"),
            pl.col("p").cast(pl.Float64),
        )
        .join(market_ids, on="market_id", how="semi")
        .sort("market_id", "ts")
    )
    p = pl.col("p")
    bad = points.filter(pl.col("ts").is_null() | p.is_null() | p.is_nan() | (p < 0.0) | (p > 1.0))
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(f"cutoff_snapshots: bad price point for market {row['market_id']!r}: {row}")
    same_key = (pl.col("market_id") == pl.col("market_id").shift(1)) & (pl.col("ts") == pl.col("ts").shift(1))
    dupes = points.filter(same_key.fill_null(False))
    if dupes.height:
        row = dupes.row(0, named=True)
        raise ValueError(f"cutoff_snapshots: two prices for market {row['market_id']!r} at {row['ts']}")
    return points.rename({"ts": "snapshot_ts", "p": "p_yes"})


def cutoff_snapshots(
    resolutions: pl.DataFrame,
    prices: pl.DataFrame,
    max_staleness: Mapping[str, int],
    horizons: Mapping[str, int] = HORIZONS,
) -> CutoffResult:
    """The last YES price at or before ``resolved_ts - horizon`` for every resolved market.

    ``resolutions``: ``dt`` (Date, the cohort), ``market_id``, ``event_id``, ``resolved_ts``
    (Datetime UTC), ``label``, ``y``; only ``RESOLVED_TRUE``/``RESOLVED_FALSE`` rows are used and
    they must have ``dt``, ``resolved_ts`` and ``y`` (1 for TRUE, 0 for FALSE), unique per
    (dt, market_id). ``prices``: ``market_id``, ``ts`` (Datetime UTC), ``p`` (YES price in
    [0, 1]), unique per (market_id, ts), any order. ``horizons``: name -> seconds (> 0), output
    in this order; ``max_staleness``: name -> seconds (>= 0) for every horizon. Naive datetimes
    are taken as UTC. Breaches of these rules raise ``ValueError`` naming the market.
    """
    horizon_frame = _horizon_frame(horizons, max_staleness)
    resolved = _resolved(resolutions)
    points = _price_points(prices, resolved.select("market_id").unique())

    grid = (
        resolved.join(horizon_frame, how="cross")
        .with_columns(
            (pl.col("resolved_ts") - pl.duration(microseconds=pl.col("_horizon_us"))).alias("cutoff_ts"),
        )
        .sort("market_id", "cutoff_ts")
    )
    joined = grid.join_asof(
        points,
        left_on="cutoff_ts",
        right_on="snapshot_ts",
        by="market_id",
        strategy="backward",
        check_sortedness=False,
    ).with_columns((pl.col("cutoff_ts") - pl.col("snapshot_ts")).alias("_staleness"))

    too_stale = pl.col("_staleness") > pl.duration(microseconds=pl.col("_max_stale_us"))
    reason = (
        pl.when(pl.col("snapshot_ts").is_null())
        .then(pl.lit("no_price_before_cutoff"))
        .when(too_stale)
        .then(pl.lit("too_stale"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    joined = joined.with_columns(reason.alias("reason")).sort("dt", "market_id", "_order")

    rows = joined.filter(pl.col("reason").is_null()).select(
        "dt",
        "market_id",
        "event_id",
        "horizon",
        "cutoff_ts",
        "snapshot_ts",
        "p_yes",
        pl.col("_staleness").dt.total_seconds(fractional=True).cast(pl.Float64).alias("staleness_seconds"),
        "y",
    )
    dropped = joined.filter(pl.col("reason").is_not_null()).select(DROPPED_COLUMNS)
    return CutoffResult(rows=rows, dropped=dropped)
