"""Trust score 0-100 of every live market of a day, with its six components and low-confidence reasons.

``trust = 100 · Σ w_i · c_i`` over six components in [0, 1] (``docs/trust.md`` gives every
formula, input and default; the parameters are ``TrustConfig``):

- ``liquidity`` L: 24 h volume and book depth on log scales, and the spread;
- ``stability`` S: 1 minus the scaled std of the hourly price steps of the path;
- ``clarity`` Q: the clarity of the question (a ``mca_core.clarity`` scorer's output);
- ``manipulation`` M: suspicion in [0, 1], the strongest of volume spike, open-interest jump,
  price jump without volume and reversal; enters the score as ``1 - M``;
- ``time_to_expiry`` T: 1 unless the market is near its end date with an unsettled price;
- ``track_record`` C: ``1 - clip(Brier / 0.25)`` of the market's segment (category × liquidity
  bucket) shrunk toward the neutral value by ``n / (n + prior_n)``.

No look-ahead: only hourly points with ``ts <= as_of`` count, and the segment record is what
the caller read from the scoreboard of the day before. A missing input never becomes a silent
default: its component takes ``config.neutral`` and the row lists the reason (and is
``low_confidence`` when the reason is in ``config.flag_reasons``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

import polars as pl

from mca_core.trust_params import LOW_CONFIDENCE_REASONS, TrustConfig

__all__ = ["COMPONENTS", "MANIPULATION_SIGNALS", "TRUST_COLUMNS", "segment_records", "trust_scores"]

#: Component columns, in the order the weights and ``weakest_component`` use.
COMPONENTS: Final = ("liquidity", "stability", "clarity", "manipulation", "time_to_expiry", "track_record")
#: Names of the manipulation signals, in tie-breaking order.
MANIPULATION_SIGNALS: Final = ("volume_spike", "oi_jump", "price_jump_without_volume", "reversal")
#: Output columns of ``trust_scores``, in order.
TRUST_COLUMNS: Final = (
    "market_id",
    "trust_score",
    *COMPONENTS,
    "manipulation_signal",
    "weakest_component",
    "low_confidence",
    "low_confidence_reasons",
    "formula_version",
)
_UTC_US: Final = pl.Datetime("us", "UTC")
_HOUR_US: Final = 3_600_000_000
#: Scale of the median absolute deviation that estimates a normal standard deviation.
_MAD_TO_SIGMA: Final = 1.4826


def _utc(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as ``Datetime(us, UTC)``; naive datetimes are taken as UTC."""
    dtype, col = frame.schema[name], pl.col(name)
    if isinstance(dtype, pl.Datetime):
        col = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
    return col.cast(_UTC_US)


def _amount(name: str) -> pl.Expr:
    """A nullable non-negative float input; NaN is read as missing."""
    return pl.col(name).cast(pl.Float64).fill_nan(None)


def _require(frame: pl.DataFrame, what: str, columns: tuple[str, ...]) -> None:
    if missing := [name for name in columns if name not in frame.columns]:
        raise ValueError(f"trust_scores: {what} lack column(s) {missing}")


def _refuse(bad: pl.DataFrame, message: str) -> None:
    """Raise ``ValueError(message)`` formatted with the first bad row, if any."""
    if bad.height:
        raise ValueError("trust_scores: " + message.format(**bad.row(0, named=True)))


def _no_negatives(frame: pl.DataFrame, what: str, key: str, columns: tuple[str, ...]) -> None:
    for name in columns:
        _refuse(frame.filter(pl.col(name) < 0.0), f"{what} of market {{{key}!r}} has negative {name}={{{name}}}")


def _typed_markets(markets: pl.DataFrame) -> pl.DataFrame:
    columns = ("market_id", "category", "liquidity_bucket", "volume_24h", "liquidity_usd", "spread", "end_ts")
    _require(markets, "markets", columns)
    frame = markets.select(
        pl.col("market_id").cast(pl.String),
        pl.col("category").cast(pl.String),
        pl.col("liquidity_bucket").cast(pl.String),
        _amount("volume_24h"),
        _amount("liquidity_usd"),
        _amount("spread"),
        _utc(markets, "end_ts").alias("end_ts"),
    )
    _refuse(frame.filter(pl.col("market_id").is_null()), "a market row has no market_id")
    _refuse(frame.filter(pl.col("market_id").is_duplicated()), "market {market_id!r} appears twice in markets")
    _no_negatives(frame, "markets", "market_id", ("volume_24h", "liquidity_usd", "spread"))
    return frame


def _typed_path(hourly: pl.DataFrame, as_of: datetime, lookback_hours: float) -> pl.DataFrame:
    """The hourly points in ``[as_of - lookback, as_of]``, sorted by (market_id, ts); raises on bad rows."""
    _require(hourly, "hourly points", ("market_id", "ts", "p_yes", "volume_usd", "open_interest_usd"))
    start = as_of - timedelta(hours=lookback_hours)
    frame = hourly.select(
        pl.col("market_id").cast(pl.String),
        _utc(hourly, "ts").alias("ts"),
        pl.col("p_yes").cast(pl.Float64),
        _amount("volume_usd"),
        _amount("open_interest_usd"),
    ).filter(pl.col("ts").is_between(start, as_of))
    p = pl.col("p_yes")
    bad = frame.filter(pl.col("market_id").is_null() | p.is_null() | p.is_nan() | (p < 0.0) | (p > 1.0))
    _refuse(bad, "hourly point of market {market_id!r} at {ts} needs a market_id and p_yes in [0, 1], got {p_yes}")
    _no_negatives(frame, "hourly point", "market_id", ("volume_usd", "open_interest_usd"))
    frame = frame.sort("market_id", "ts")
    repeated = (pl.col("market_id") == pl.col("market_id").shift()) & (pl.col("ts") == pl.col("ts").shift())
    _refuse(frame.filter(repeated), "two hourly points of market {market_id!r} at {ts}")
    return frame


def _ramp(x: pl.Expr, start: float, full: float) -> pl.Expr:
    """``clip((x - start) / (full - start), 0, 1)``; null stays null."""
    return ((x - start) / (full - start)).clip(0.0, 1.0)


def _path_measures(path: pl.DataFrame, config: TrustConfig) -> pl.DataFrame:
    """Per market of ``path`` (sorted by market_id, ts): point count, last price, step std and the four signals.

    Each signal is computed per point and the market keeps its largest; a signal is null when the
    path lacks what it needs (see ``_signal_counts``). Volume spikes and open-interest jumps are
    discounted by the lasting price move around them: volume that moved the price for good is
    information, not manipulation.
    """
    params = config.manipulation
    p, volume, oi = pl.col("p_yes"), pl.col("volume_usd"), pl.col("open_interest_usd")
    by = "market_id"

    def back(col: pl.Expr, lag: int) -> pl.Expr:
        return pl.when(pl.col("_pos") >= lag).then(col.shift(lag))

    def ahead(col: pl.Expr, lead: int) -> pl.Expr:
        return pl.when(pl.col("_pos") + lead < pl.col("_n")).then(col.shift(-lead))

    h = range(1, params.reversal_points + 1)
    around = params.reversal_points
    points = path.with_columns(pl.int_range(pl.len()).over(by).alias("_pos"), pl.len().over(by).alias("_n"))
    points = points.with_columns(
        (p - back(p, 1)).alias("_dp"),
        (volume - back(volume, 1)).clip(lower_bound=0.0).alias("_dv"),
        ((oi - back(oi, 1)).abs() / pl.max_horizontal(back(oi, 1), pl.lit(params.oi_floor_usd))).alias("_doi"),
        pl.min_horizontal([back(p, a) for a in h]).alias("_lo_before"),
        pl.max_horizontal([back(p, a) for a in h]).alias("_hi_before"),
        pl.min_horizontal([ahead(p, a) for a in h]).alias("_lo_after"),
        pl.max_horizontal([ahead(p, a) for a in h]).alias("_hi_after"),
        # lasting move: price `around` points after the step against the price just before it (clamped to the path)
        (pl.coalesce(ahead(p, around), p.last().over(by)) - pl.coalesce(back(p, 1), p)).abs().alias("_lasting"),
    )
    dv, doi = pl.col("_dv"), pl.col("_doi")
    # per-market robust scales, each window computed once
    points = points.with_columns(
        dv.median().over(by).alias("_dv_median"), pl.col("_dp").abs().median().over(by).alias("_step_median")
    ).with_columns((dv - pl.col("_dv_median")).abs().median().over(by).alias("_dv_mad"))
    median = pl.col("_dv_median")
    scale = pl.max_horizontal(
        _MAD_TO_SIGMA * pl.col("_dv_mad"), params.spike_floor_share * median, pl.lit(params.spike_floor_usd)
    )
    unexplained = 1.0 - _ramp(pl.col("_lasting"), params.explained_move_start, params.explained_move_full)
    backing = pl.max_horizontal(params.jump_backing_multiple * median, pl.lit(params.jump_backing_usd))
    unbacked = 1.0 - (dv / backing).clip(0.0, 1.0)
    step_scale = pl.max_horizontal(_MAD_TO_SIGMA * pl.col("_step_median"), pl.lit(params.reversal_step_floor))
    peak = pl.min_horizontal(p - pl.col("_lo_before"), p - pl.col("_lo_after"))
    trough = pl.min_horizontal(pl.col("_hi_before") - p, pl.col("_hi_after") - p)
    both_sides = pl.col("_lo_before").is_not_null() & pl.col("_lo_after").is_not_null()
    points = points.with_columns(
        (_ramp((dv - median) / scale, params.spike_z_start, params.spike_z_full) * unexplained).alias("_spike"),
        (_ramp(doi, params.oi_jump_start, params.oi_jump_full) * unexplained).alias("_oi_jump"),
        (_ramp(pl.col("_dp").abs(), params.price_jump_start, params.price_jump_full) * unbacked).alias("_jump_nv"),
        pl.when(both_sides)
        .then(pl.max_horizontal(peak, trough))
        .pipe(
            lambda size: (
                _ramp(size, params.reversal_start, params.reversal_full)
                * _ramp(size / step_scale, params.reversal_z_start, params.reversal_z_full)
            )
        )
        .alias("_reversal"),
    )
    return points.group_by(by).agg(
        pl.len().alias("_points"),
        p.last().alias("_p_last"),
        pl.col("_dp").sort().std(ddof=1).alias("_sigma"),  # one summation order (see segment_records)
        dv.count().alias("_n_dv"),
        doi.count().alias("_n_doi"),
        pl.col("_spike").max(),
        pl.col("_oi_jump").max(),
        pl.col("_jump_nv").max(),
        pl.col("_reversal").max(),
    )


def _typed_clarity(clarity: pl.DataFrame) -> pl.DataFrame:
    _require(clarity, "clarity", ("market_id", "clarity", "clarity_reasons"))
    frame = clarity.select(
        pl.col("market_id").cast(pl.String),
        pl.col("clarity").cast(pl.Float64).fill_nan(None),
        pl.col("clarity_reasons").cast(pl.List(pl.String)),
    )
    _refuse(frame.filter(pl.col("market_id").is_duplicated()), "market {market_id!r} appears twice in clarity")
    _refuse(frame.filter((pl.col("clarity") < 0) | (pl.col("clarity") > 1)), "clarity {clarity} outside [0, 1]")
    return frame


def _typed_record(record: pl.DataFrame) -> pl.DataFrame:
    _require(record, "segment record", ("category", "liquidity_bucket", "n", "brier"))
    frame = record.select(
        pl.col("category").cast(pl.String),
        pl.col("liquidity_bucket").cast(pl.String),
        pl.col("n").cast(pl.Int64).alias("_record_n"),
        pl.col("brier").cast(pl.Float64).fill_nan(None).alias("_record_brier"),
    )
    key = pl.struct("category", "liquidity_bucket")
    _refuse(frame.filter(key.is_duplicated()), "segment {category!r} x {liquidity_bucket!r} appears twice")
    _refuse(frame.filter(pl.col("_record_n") < 0), "segment {category!r} x {liquidity_bucket!r} has negative n")
    return frame


def segment_records(resolved: pl.DataFrame) -> pl.DataFrame:
    """The track record of each (category, liquidity_bucket): ``n`` forecasts and their Brier score.

    ``resolved``: one row per resolved forecast with ``category``, ``liquidity_bucket``, ``p_yes``
    and ``y`` (0/1); the caller chooses the horizon and window (the trust asset: 1d, the 90 days
    before dt).
    """
    _require(resolved, "resolved forecasts", ("category", "liquidity_bucket", "p_yes", "y"))
    error = (pl.col("p_yes").cast(pl.Float64) - pl.col("y").cast(pl.Float64)) ** 2
    return (
        resolved.group_by("category", "liquidity_bucket")
        # the sorted errors of each group are summed in one order: the same Brier whatever the row order or threads
        .agg(pl.len().cast(pl.Int64).alias("n"), error.sort().mean().alias("brier"))
        .sort("category", "liquidity_bucket")
    )


def _reason(code: str, missing: pl.Expr) -> pl.Expr:
    return pl.when(missing).then(pl.lit(code))


def _log_share(x: pl.Expr, full: float) -> pl.Expr:
    """``clip(log10(1 + x) / log10(1 + full))``: 0 at 0, 1 from ``full`` on."""
    return ((1.0 + x).log10() / math.log10(1.0 + full)).clip(0.0, 1.0)


def _first_name(cases: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The name of the first case whose condition holds (null if none): ties go to the earlier name."""
    return pl.coalesce([pl.when(condition).then(pl.lit(name)) for condition, name in cases])


def _components(frame: pl.DataFrame, config: TrustConfig, as_of: datetime) -> pl.DataFrame:
    """The six components (null where an input is missing) and the reasons, from the joined frame."""
    liq, exp, rec = config.liquidity, config.time_to_expiry, config.track_record
    neutral = pl.lit(config.neutral)
    points = pl.col("_points").fill_null(0)
    enough = points >= config.min_points
    steps_needed = config.min_points - 1
    volume_known = pl.col("_n_dv").fill_null(0) >= steps_needed
    oi_known = pl.col("_n_doi").fill_null(0) >= steps_needed
    liquidity = (
        liq.volume_share * pl.coalesce(_log_share(pl.col("volume_24h"), liq.volume_full_usd), neutral)
        + liq.depth_share * pl.coalesce(_log_share(pl.col("liquidity_usd"), liq.depth_full_usd), neutral)
        + liq.spread_share * pl.coalesce(1.0 - (pl.col("spread") / liq.spread_zero).clip(0.0, 1.0), neutral)
    )
    signals = [
        pl.when(volume_known & enough).then(pl.col("_spike")),
        pl.when(oi_known & enough).then(pl.col("_oi_jump")),
        pl.when(volume_known & enough).then(pl.col("_jump_nv")),
        pl.when(enough).then(pl.col("_reversal")),
    ]
    suspicion = pl.max_horizontal(signals)
    signal_name = _first_name(
        [
            (s.is_not_null() & (s == suspicion) & (suspicion > 0), n)
            for n, s in zip(MANIPULATION_SIGNALS, signals, strict=True)
        ]
    )
    tte_hours = (pl.col("end_ts") - pl.lit(as_of).cast(_UTC_US)).dt.total_microseconds() / _HOUR_US
    unsettled = (pl.min_horizontal(pl.col("_p_last"), 1.0 - pl.col("_p_last")) / exp.settle_margin).clip(0.0, 1.0)
    expiry = 1.0 - unsettled * (1.0 - (tte_hours / exp.full_hours).clip(0.0, 1.0))
    shrink = pl.col("_record_n") / (pl.col("_record_n") + rec.prior_n)
    skill = 1.0 - (pl.col("_record_brier") / rec.brier_zero).clip(0.0, 1.0)
    missing = {
        "no_path": points == 0,
        "few_points": (points > 0) & ~enough,
        "no_volume": pl.col("volume_24h").is_null(),
        "no_liquidity": pl.col("liquidity_usd").is_null(),
        "no_spread": pl.col("spread").is_null(),
        "no_path_volume": (points > 0) & ~volume_known,
        "no_open_interest": (points > 0) & ~oi_known,
        "no_end_date": pl.col("end_ts").is_null(),
        "no_text": pl.col("clarity").is_null(),
        "no_segment_record": pl.col("_record_brier").is_null(),
        "few_segment_forecasts": pl.col("_record_brier").is_not_null() & (pl.col("_record_n") < rec.min_n),
    }
    reasons = [_reason(code, missing[code]) for code in LOW_CONFIDENCE_REASONS]
    return frame.with_columns(
        liquidity.alias("liquidity"),
        pl.coalesce(
            pl.when(enough).then(1.0 - (pl.col("_sigma") / config.stability.volatility_zero).clip(0.0, 1.0)), neutral
        ).alias("stability"),
        pl.coalesce(pl.col("clarity"), neutral).alias("clarity"),
        pl.coalesce(suspicion, neutral).alias("manipulation"),
        signal_name.alias("manipulation_signal"),
        pl.coalesce(expiry, neutral).alias("time_to_expiry"),
        pl.coalesce(neutral + shrink * (skill - neutral), neutral).alias("track_record"),
        pl.concat_list(reasons).list.drop_nulls().alias("low_confidence_reasons"),
    )


def trust_scores(
    markets: pl.DataFrame,
    hourly: pl.DataFrame,
    clarity: pl.DataFrame,
    segment_record: pl.DataFrame,
    as_of: datetime,
    config: TrustConfig,
) -> pl.DataFrame:
    """The trust score of every market of ``markets`` as of ``as_of`` (a UTC instant), sorted by market_id.

    ``markets``: one row per live market (``market_id``, ``category``, ``liquidity_bucket``,
    ``volume_24h``, ``liquidity_usd``, ``spread``, ``end_ts``); ``hourly``: its path points
    (``market_id``, ``ts``, ``p_yes``, cumulative ``volume_usd``, ``open_interest_usd``; points after
    ``as_of`` or before the look-back are ignored); ``clarity``: a ``ClarityScorer``'s frame;
    ``segment_record``: ``segment_records`` of forecasts resolved before the day. Returns
    ``TRUST_COLUMNS``: ``trust_score`` in [0, 100], each component in [0, 1] (``manipulation`` is
    the suspicion M; the score uses ``1 - M``), the strongest manipulation signal (null when M is
    0 or unknown), the weakest component (lowest effective value), and the low-confidence reasons.
    Raises ``ValueError`` on malformed inputs (repeated keys, prices outside [0, 1], negative amounts).
    """
    if as_of.tzinfo is None:
        raise ValueError("trust_scores: as_of must be timezone-aware (UTC)")
    typed = _typed_markets(markets)
    path = _path_measures(_typed_path(hourly, as_of, config.lookback_hours), config)
    joined = (
        typed.join(path, on="market_id", how="left")
        .join(_typed_clarity(clarity), on="market_id", how="left")
        .join(_typed_record(segment_record), on=["category", "liquidity_bucket"], how="left")
    )
    scored = _components(joined, config, as_of)
    w = config.weights
    effective = {name: pl.col(name) for name in COMPONENTS} | {"manipulation": 1.0 - pl.col("manipulation")}
    linear = pl.sum_horizontal([getattr(w, name) * effective[name] for name in COMPONENTS])
    gate = 1.0 - config.manipulation.score_gate * pl.col("manipulation")
    lowest = pl.min_horizontal(list(effective.values()))
    weakest = _first_name([(effective[name] == lowest, name) for name in COMPONENTS])
    flagged = pl.col("low_confidence_reasons").list.set_intersection(pl.lit(list(config.flag_reasons)))
    return scored.select(
        "market_id",
        (100.0 * linear * gate).clip(0.0, 100.0).alias("trust_score"),
        *COMPONENTS,
        "manipulation_signal",
        weakest.alias("weakest_component"),
        (flagged.list.len() > 0).alias("low_confidence"),
        "low_confidence_reasons",
        pl.lit(config.formula_version).alias("formula_version"),
    ).sort("market_id")
