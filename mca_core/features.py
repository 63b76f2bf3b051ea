"""Per-snapshot market features: returns, volatility, volume and open-interest change, TTE, spread.

``build_features`` turns market snapshots (one row per market and observation time) into one
feature row per snapshot. A market's series is its rows ordered by ``ts`` (UTC); rows of other
markets never mix in, and no feature ever reads an observation later than its own ``ts``.
"Observation at or before T" always means the last row of the same market with ``ts <= T`` (a
backward as-of; nothing is interpolated); "24 h earlier" is that observation for ``T = ts - 24 h``.

Features (all Float64 unless noted):

- ``p_yes``: the YES price in [0, 1], as given.
- ``ret_1h``, ``ret_1d``: ``p_yes`` minus ``p_yes`` at the observation at or before ``ts - 1 h``
  (``ts - 24 h``); null when the market has no observation that old. Returns are differences in
  probability points, in [-1, 1], not log returns: prices are bounded probabilities that reach 0
  and 1 (where logs are undefined), a move from 0.01 to 0.02 is one point of belief rather than
  "+100%", and point moves add up and compare directly with Brier-type errors.
- ``vol_24h``: sample standard deviation (ddof = 1) of the consecutive ``p_yes`` differences of
  the observations in the trailing window ``(ts - 24 h, ts]``; only differences with both ends
  inside the window count, so ``k`` points give ``k - 1`` differences. Null with fewer than
  ``FeatureConfig.vol_min_points`` (default 3) points in the window.
- ``volume_velocity``: ``(V - V24) / max(V24, min_denominator_usd)`` where ``V`` is
  ``volume_usd`` (cumulative USD) now and ``V24`` at the observation 24 h earlier; null when
  either is unknown (null/NaN, or no observation 24 h earlier). The floor (default 1 USD) keeps
  markets that start from zero volume finite.
- ``oi_change``: the same relative change for ``open_interest_usd``.
- ``tte_hours``: ``(end_ts - ts)`` in hours, clipped at 0 (a snapshot after the scheduled end has
  no time left, and a negative value would mean "ended" twice over); null when ``end_ts`` is.
- ``liquidity_bucket`` (String): ``mca_core.segments.liquidity_bucket`` of ``volume_usd``; a
  null/NaN volume is ``LOW``.
- ``spread``: ``best_ask - best_bid`` when both are present (not null/NaN) and ``ask >= bid``;
  null otherwise (a one-sided or crossed book has no meaningful spread).
- ``liquidity_usd``: passed through unchanged (NaN becomes null) for the trust stage.

Input rules: ``dt``, ``market_id``, ``ts`` and ``p_yes`` must be present on every row, ``p_yes``
finite in [0, 1], and (``market_id``, ``ts``) unique; breaches raise ``ValueError`` naming the
market. Other float inputs may be null; NaN in them is read as null.
``dt`` is carried, not interpreted: the caller decides which days of context to pass in (for the
24 h features of day D, include day D - 1) and which rows to keep. Naive datetimes are taken as
UTC. The output is sorted by (``dt``, ``market_id``, ``ts``) and does not depend on input order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import polars as pl

from mca_core.segments import LiquidityEdges, liquidity_bucket

__all__ = ["FEATURE_COLUMNS", "FeatureConfig", "build_features"]

#: Output columns of ``build_features`` (the ``core.features`` table), in order.
FEATURE_COLUMNS: Final = (
    "dt",
    "market_id",
    "ts",
    "p_yes",
    "ret_1h",
    "ret_1d",
    "vol_24h",
    "volume_velocity",
    "oi_change",
    "tte_hours",
    "liquidity_bucket",
    "spread",
    "liquidity_usd",
)

_HOUR_US: Final = 3_600_000_000
_DAY_US: Final = 24 * _HOUR_US
_UTC_US: Final = pl.Datetime("us", "UTC")
_SERIES_COLUMNS: Final = ("ret_1h", "ret_1d", "vol_24h", "volume_velocity", "oi_change")
#: Upper bound of the internal (market, ts) sort key; markets are processed in pieces below it.
_MAX_KEY: Final = 2**62
_REQUIRED: Final = (
    "dt",
    "market_id",
    "ts",
    "p_yes",
    "best_bid",
    "best_ask",
    "volume_usd",
    "open_interest_usd",
    "liquidity_usd",
    "end_ts",
)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Tunable parts of ``build_features`` (the windows are fixed: they are in the column names).

    ``vol_min_points``: fewest observations in the 24 h window for ``vol_24h`` (>= 3, so that
    there are at least two differences). ``min_denominator_usd``: floor of the denominator of
    ``volume_velocity`` and ``oi_change`` (USD, > 0). ``liquidity``: the bucket thresholds on total
    volume (configuration, see `segments.LiquidityEdges`).
    """

    liquidity: LiquidityEdges
    vol_min_points: int = 3
    min_denominator_usd: float = 1.0

    def __post_init__(self) -> None:
        if self.vol_min_points < 3:
            raise ValueError(f"vol_min_points must be >= 3, got {self.vol_min_points}")
        if not self.min_denominator_usd > 0.0:
            raise ValueError(f"min_denominator_usd must be > 0, got {self.min_denominator_usd}")


def _utc_us(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as ``Datetime(us, UTC)``; naive datetimes are taken as UTC."""
    dtype = frame.schema[name]
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        col = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
    return col.cast(_UTC_US)


def _amount(name: str) -> pl.Expr:
    """A nullable float input with NaN read as missing."""
    return pl.col(name).cast(pl.Float64).fill_nan(None)


def _typed(snapshots: pl.DataFrame) -> pl.DataFrame:
    """The input columns, typed (UTC microsecond datetimes, Float64 amounts); raises on bad rows."""
    missing = [name for name in _REQUIRED if name not in snapshots.columns]
    if missing:
        raise ValueError(f"build_features: snapshots lack column(s) {missing}")
    frame = snapshots.select(
        pl.col("dt").cast(pl.Date),
        pl.col("market_id").cast(pl.String),
        _utc_us(snapshots, "ts").alias("ts"),
        pl.col("p_yes").cast(pl.Float64),
        _amount("best_bid"),
        _amount("best_ask"),
        _amount("volume_usd"),
        _amount("open_interest_usd"),
        _amount("liquidity_usd"),
        _utc_us(snapshots, "end_ts").alias("end_ts"),
    )
    p = pl.col("p_yes")
    bad = frame.filter(
        pl.col("dt").is_null()
        | pl.col("market_id").is_null()
        | pl.col("ts").is_null()
        | p.is_null()
        | p.is_nan()
        | (p < 0.0)
        | (p > 1.0)
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(
            f"build_features: snapshot of market {row['market_id']!r} at {row['ts']} needs dt, market_id, "
            f"ts and p_yes in [0, 1]; got p_yes={row['p_yes']}"
        )
    return frame


def _with_market_codes(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``_row`` (input row number) and ``_code`` (Int64 rank of ``market_id``: codes sort like ids).

    Ids are looked up once per run of equal consecutive ids: cheap for the usual inputs (grouped
    by market within a day), one extra pass over the ids for shuffled ones.
    """
    ids = pl.col("market_id")
    run_starts = (ids != ids.shift(1)).fill_null(True)
    runs = frame.select(run_starts.alias("start"), (run_starts.cum_sum() - 1).alias("run"))
    heads = frame.get_column("market_id").filter(runs.get_column("start"))
    markets = heads.unique().sort()
    head_codes = heads.cast(pl.Enum(markets)).to_physical().cast(pl.Int64)
    return frame.with_row_index("_row").with_columns(head_codes.gather(runs.get_column("run")).alias("_code"))


def _pieces(frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """Split by market code into pieces whose ``_key`` (Int64) stays below ``_MAX_KEY``; ``ts`` is dropped.

    ``_key = (code - first code of the piece) * stride + (ts - min ts)`` in microseconds, with
    ``stride`` the time span plus a gap longer than any look-back, so one sorted integer orders
    (market, ts) and no 24 h window or look-back reaches from one market into the next.
    """
    epoch = pl.col("ts").dt.epoch("us")
    low, high, n_codes = frame.select(epoch.min(), epoch.max().alias("high"), pl.col("_code").max() + 1).row(0)
    if low is None:
        yield frame.with_columns(pl.lit(0, dtype=pl.Int64).alias("_key")).drop("ts")
        return
    stride = high - low + _DAY_US + 1
    if stride >= _MAX_KEY:
        raise ValueError("build_features: snapshot times span more than the supported range (~146k years)")
    per_piece = _MAX_KEY // stride
    for first in range(0, n_codes, per_piece):
        piece = (
            frame if per_piece >= n_codes else frame.filter(pl.col("_code").is_between(first, first + per_piece - 1))
        )
        yield piece.with_columns(((pl.col("_code") - first) * stride + (epoch - low)).alias("_key")).drop("ts")


def _in_key_order(piece: pl.DataFrame, snapshots: pl.DataFrame) -> pl.DataFrame:
    """The piece sorted by ``_key``; raises on a repeated (market_id, ts), naming it from ``snapshots``."""
    if not piece.get_column("_key").is_sorted():
        piece = piece.sort("_key")
    repeated = piece.filter((pl.col("_key") == pl.col("_key").shift(1)).fill_null(False))
    if repeated.height:
        row = snapshots.row(int(repeated.item(0, "_row")), named=True)
        raise ValueError(f"build_features: two snapshots of market {row['market_id']!r} at {row['ts']}")
    return piece


def _in_output_order(frame: pl.DataFrame) -> bool:
    """Whether rows are strictly increasing in (dt, _code, ts)."""
    dt, code, ts = pl.col("dt"), pl.col("_code"), pl.col("ts")

    def after(col: pl.Expr) -> pl.Expr:
        return col > col.shift(1)

    def same(col: pl.Expr) -> pl.Expr:
        return col == col.shift(1)

    increasing = after(dt) | (same(dt) & (after(code) | (same(code) & after(ts))))
    return bool(frame.select(increasing.fill_null(True).all()).item())


def _look_back(piece: pl.DataFrame, lag_us: int, values: dict[str, str]) -> pl.DataFrame:
    """Add ``values`` (source -> new name) from the last row of the same market with ``ts <= ts - lag``.

    ``piece`` must be sorted by ``_key``; one as-of join on the integer key covers every market at
    once (a match in another market is rejected by comparing codes). Row order is kept.
    """
    right = piece.select(
        pl.col("_key").alias("_key_before"),
        pl.col("_code").alias("_code_before"),
        *[pl.col(source).alias(name) for source, name in values.items()],
    )
    joined = piece.with_columns((pl.col("_key") - lag_us).alias("_target")).join_asof(
        right, left_on="_target", right_on="_key_before", strategy="backward", check_sortedness=False
    )
    same_market = pl.col("_code_before") == pl.col("_code")
    return joined.with_columns(
        pl.when(same_market).then(pl.col(name)).otherwise(pl.lit(None, dtype=pl.Float64)).alias(name)
        for name in values.values()
    ).drop("_target", "_key_before", "_code_before")


def _relative_change(now: pl.Expr, before: pl.Expr, floor: float) -> pl.Expr:
    """``(now - before) / max(before, floor)``; null when either is null."""
    return (now - before) / pl.max_horizontal(before, pl.lit(floor))


def _series_features(piece: pl.DataFrame, config: FeatureConfig) -> pl.DataFrame:
    """The features that read other rows of the market, for a piece sorted by ``_key`` (order kept)."""
    code, p = pl.col("_code"), pl.col("p_yes")
    # The step from each observation to the NEXT one of its market, placed at the earlier time:
    # the steps with both ends in (ts - 24 h, ts] are exactly those placed in the open window
    # (ts - 24 h, ts), so a rolling window that excludes both its ends sees just them.
    next_step = pl.when(code == code.shift(-1)).then(p.shift(-1) - p).otherwise(pl.lit(None, dtype=pl.Float64))
    vol_24h = next_step.rolling_std_by("_key", f"{_DAY_US}i", closed="none", min_samples=config.vol_min_points - 1)
    piece = _look_back(piece.with_columns(vol_24h.alias("vol_24h")), _HOUR_US, {"p_yes": "_p_1h"})
    piece = _look_back(piece, _DAY_US, {"p_yes": "_p_1d", "volume_usd": "_vol_1d", "open_interest_usd": "_oi_1d"})
    floor = config.min_denominator_usd
    return piece.select(
        "_row",
        "dt",
        (p - pl.col("_p_1h")).alias("ret_1h"),
        (p - pl.col("_p_1d")).alias("ret_1d"),
        "vol_24h",
        _relative_change(pl.col("volume_usd"), pl.col("_vol_1d"), floor).alias("volume_velocity"),
        _relative_change(pl.col("open_interest_usd"), pl.col("_oi_1d"), floor).alias("oi_change"),
    )


def build_features(snapshots: pl.DataFrame, config: FeatureConfig) -> pl.DataFrame:
    """One feature row per snapshot (``dt``, ``market_id``, ``ts``); columns ``FEATURE_COLUMNS``.

    ``snapshots``: ``dt`` (Date), ``market_id`` (str), ``ts`` (Datetime UTC), ``p_yes`` (float in
    [0, 1]), ``best_bid``/``best_ask`` (nullable floats in [0, 1]), ``volume_usd`` (cumulative
    total volume, USD, nullable), ``open_interest_usd`` and ``liquidity_usd`` (USD, nullable),
    ``end_ts`` (Datetime UTC, nullable). Definitions, units and missing-value rules are in the
    module docstring. Raises ``ValueError`` on a missing column, a bad ``dt``/``market_id``/``ts``/
    ``p_yes`` or a repeated (``market_id``, ``ts``).
    """
    frame = _with_market_codes(_typed(snapshots))
    inputs = frame.select("_row", "_code", "dt", "ts", "p_yes", "volume_usd", "open_interest_usd")
    pieces = [_series_features(_in_key_order(piece, frame), config) for piece in _pieces(inputs)]
    series = pl.concat(pieces) if len(pieces) > 1 else pieces[0]
    # ``series`` is in (market_id, ts) order; bring it to the output order (dt, market_id, ts).
    if _in_output_order(frame):  # the usual case: put each result back at its input row
        n = series.height
        rows = series.get_column("_row").cast(pl.Int64)
        at = pl.zeros(n, dtype=pl.Int64, eager=True).scatter(rows, pl.int_range(n, dtype=pl.Int64, eager=True))
        series = series.select(_SERIES_COLUMNS)[at]
    else:  # the row number ranks (market_id, ts), so one integer orders by (dt, market_id, ts)
        day = pl.col("dt").cast(pl.Int64)
        order = series.select((day - day.min()) * pl.len() + pl.int_range(pl.len(), dtype=pl.Int64)).to_series()
        series = series.select("_row", *_SERIES_COLUMNS)[order.arg_sort()]
        frame = frame[series.get_column("_row")]

    hours_left = (pl.col("end_ts") - pl.col("ts")).dt.total_microseconds().cast(pl.Float64) / _HOUR_US
    bid, ask = pl.col("best_bid"), pl.col("best_ask")
    return pl.concat([frame, series.select(_SERIES_COLUMNS)], how="horizontal").select(
        "dt",
        "market_id",
        "ts",
        "p_yes",
        "ret_1h",
        "ret_1d",
        "vol_24h",
        "volume_velocity",
        "oi_change",
        hours_left.clip(lower_bound=0.0).alias("tte_hours"),
        liquidity_bucket("volume_usd", config.liquidity),
        pl.when(ask >= bid).then(ask - bid).otherwise(pl.lit(None, dtype=pl.Float64)).alias("spread"),
        "liquidity_usd",
    )
