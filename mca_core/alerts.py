"""Rule alerts: the seed's three gates, severity, trust gate, dampening and cooldown, over whole frames.

Every price point is judged as of its own moment ``ts`` (no look-ahead):

- the band in force is the newest forecast issued at or before ``ts`` (``as_of_ts <= ts``), and within it the
  first step whose target time is at or after ``ts``; a point past the issue's last step has no band;
- structure signals are the newest at or before ``ts`` and at most ``structure_max_age_s`` old;
- the trust row of day ``dt`` is in force from ``dt + 1 day`` 00:00 UTC (it is computed over the whole day),
  so a moment of day D reads the trust of D - 1 or earlier, intraday and in a backfill alike.

Gates (thresholds in ``AlertConfig``): 1 band breach (``p_yes < q10`` or ``> q90``), 2 structure (open-interest
change or volume spike), 3 clarity. Severity as the seed: all three gates with both confirmations ``HIGH``, all
three ``MED``, a breach alone (or with only some) ``FYI``. A market below ``min_trust_score`` raises nothing; a
``low_confidence`` trust row (or none at all) dampens one level (HIGH -> MED -> FYI).

Cooldown per (market, reason), ``reason`` being the move and its final severity ("BAND_BREACH_UP:HIGH"): a point
raises an alert only when the same (market, reason) had no qualifying point in the previous ``cooldown_s``
seconds (so a move that escalates from FYI to HIGH is alerted again, a HIGH that stays HIGH is not). Two alerts
of one (market, reason) are always more than ``cooldown_s`` apart, and whether a point fires depends only on the
``cooldown_s`` before it: the intraday path (a few points at a time) and the daily path (a whole day) decide
alike given that lookback.
``alert_id`` hashes (source, market, reason, the moment floored to ``bucket_s``): re-runs and both paths agree.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Final

import polars as pl

from mca_core.alert_params import SEVERITIES, AlertConfig

__all__ = ["ALERT_COLUMNS", "alert_id", "evaluate_rules", "hourly_structure"]

#: Columns of ``alerts.alerts`` in order (DESIGN.md §10 plus reason, first_seen_ts, last_seen_ts).
ALERT_COLUMNS: Final = (
    "alert_id",
    "dt",
    "ts",
    "market_id",
    "source",
    "severity",
    "reason",
    "reason_codes",
    "evidence",
    "message",
    "first_seen_ts",
    "last_seen_ts",
)
_UTC_US: Final = pl.Datetime("us", "UTC")
_ISO: Final = "%Y-%m-%dT%H:%M:%SZ"


def alert_id(source: str, subject: str, reason: str, moment: str) -> str:
    """The deterministic id of an alert: the same inputs always give the same 24 hex digits."""
    return _digest(f"{source}|{subject}|{reason}|{moment}")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _utc(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as ``Datetime(us, UTC)``; naive datetimes are taken as UTC."""
    dtype, col = frame.schema[name], pl.col(name)
    if isinstance(dtype, pl.Datetime):
        col = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
    return col.cast(_UTC_US)


def _with_bands(points: pl.DataFrame, bands: pl.DataFrame) -> pl.DataFrame:
    """Attach the band in force at each point: newest issue with ``as_of_ts <= ts``, its first step ``ts >= ts``."""
    steps = bands.select(
        pl.col("market_id").cast(pl.String),
        _utc(bands, "as_of_ts").alias("band_as_of_ts"),
        _utc(bands, "ts").alias("band_ts"),
        *(pl.col(q).cast(pl.Float64) for q in ("q10", "q50", "q90")),
    )
    issues = steps.select("market_id", "band_as_of_ts").unique().sort("band_as_of_ts")
    issued = points.join_asof(
        issues, left_on="ts", right_on="band_as_of_ts", by="market_id", strategy="backward", check_sortedness=False
    )
    return issued.join_asof(
        steps.sort("band_ts"),
        left_on="ts",
        right_on="band_ts",
        by=["market_id", "band_as_of_ts"],
        strategy="forward",
        check_sortedness=False,
    )


def _with_structure(points: pl.DataFrame, structure: pl.DataFrame, config: AlertConfig) -> pl.DataFrame:
    signals = structure.select(
        pl.col("market_id").cast(pl.String),
        _utc(structure, "ts").alias("structure_ts"),
        pl.col("oi_change").cast(pl.Float64).fill_nan(None),
        pl.col("volume_velocity").cast(pl.Float64).fill_nan(None),
    ).sort("structure_ts")
    return points.join_asof(
        signals,
        left_on="ts",
        right_on="structure_ts",
        by="market_id",
        strategy="backward",
        tolerance=timedelta(seconds=config.structure_max_age_s),
        check_sortedness=False,
    )


def _with_trust(points: pl.DataFrame, trust: pl.DataFrame) -> pl.DataFrame:
    rows = trust.select(
        pl.col("market_id").cast(pl.String),
        pl.col("dt").cast(pl.Date).alias("trust_dt"),
        (pl.col("dt").cast(pl.Date).cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + timedelta(days=1)).alias(
            "trust_from_ts"
        ),
        pl.col("trust_score").cast(pl.Float64).fill_nan(None),
        pl.col("clarity").cast(pl.Float64).fill_nan(None),
        pl.col("low_confidence").cast(pl.Boolean),
    ).sort("trust_from_ts")
    return points.join_asof(
        rows, left_on="ts", right_on="trust_from_ts", by="market_id", strategy="backward", check_sortedness=False
    )


def _gates(config: AlertConfig) -> list[pl.Expr]:
    up, down = pl.col("p_yes") > pl.col("q90"), pl.col("p_yes") < pl.col("q10")
    oi = (pl.col("oi_change").abs() >= config.oi_change_min).fill_null(False)
    volume = (pl.col("volume_velocity") >= config.volume_velocity_min).fill_null(False)
    return [
        up.fill_null(False).alias("_up"),
        down.fill_null(False).alias("_down"),
        oi.alias("_oi"),
        volume.alias("_volume"),
        (pl.col("clarity") >= config.min_clarity).fill_null(False).alias("_clear"),
    ]


def _severity() -> list[pl.Expr]:
    """Base level (0 HIGH, 1 MED, 2 FYI) from the gates, then one level down for low confidence or no trust row."""
    all_gates = (pl.col("_oi") | pl.col("_volume")) & pl.col("_clear")
    base = pl.when(all_gates & pl.col("_oi") & pl.col("_volume")).then(0).when(all_gates).then(1).otherwise(2)
    dampen = pl.col("low_confidence").fill_null(True)
    level = pl.min_horizontal(base + dampen.cast(pl.Int32), pl.lit(2))
    names = pl.Series(SEVERITIES)
    return [
        base.alias("_base"),
        dampen.alias("_dampened"),
        level.replace_strict(range(3), names, return_dtype=pl.String).alias("severity"),
        base.replace_strict(range(3), names, return_dtype=pl.String).alias("_base_severity"),
    ]


def _codes() -> list[pl.Expr]:
    gate_codes = pl.concat_list(
        pl.when(pl.col("_up")).then(pl.lit("BAND_BREACH_UP")).otherwise(pl.lit("BAND_BREACH_DOWN")),
        pl.when(pl.col("_oi")).then(pl.lit("OI_CONFIRMATION")),
        pl.when(pl.col("_volume")).then(pl.lit("VOLUME_SPIKE")),
        pl.when(pl.col("_clear")).then(pl.lit("LOW_AMBIGUITY")),
    ).list.drop_nulls()
    flags = pl.concat_list(
        pl.when(pl.col("_dampened") & (pl.col("_base") < 2)).then(pl.lit("DAMPENED_BY_LOW_CONFIDENCE")),
        pl.when(pl.col("trust_score").is_null()).then(pl.lit("NO_TRUST_SCORE")),
    ).list.drop_nulls()
    reason = pl.concat_str(gate_codes.list.first(), pl.col("severity"), separator=":")
    return [reason.alias("reason"), gate_codes.list.concat(flags).alias("reason_codes")]


def _iso(name: str) -> pl.Expr:
    return pl.col(name).dt.strftime(_ISO)


def _evidence(config: AlertConfig) -> pl.Expr:
    return pl.struct(
        pl.struct(
            "p_yes", "q10", "q50", "q90", _iso("band_as_of_ts").alias("band_as_of_ts"), _iso("band_ts").alias("band_ts")
        ).alias("band"),
        pl.struct(
            "oi_change",
            "volume_velocity",
            _iso("structure_ts").alias("structure_ts"),
            pl.lit(config.oi_change_min).alias("oi_change_min"),
            pl.lit(config.volume_velocity_min).alias("volume_velocity_min"),
        ).alias("structure"),
        pl.struct(
            "clarity",
            pl.lit(config.min_clarity).alias("min_clarity"),
            "trust_score",
            pl.lit(config.min_trust_score).alias("min_trust_score"),
            "low_confidence",
            pl.col("trust_dt").cast(pl.String).alias("trust_dt"),
        ).alias("trust"),
        pl.col("_base_severity").alias("base_severity"),
        pl.col("_dampened").alias("dampened_by_low_confidence"),
        pl.lit(config.cooldown_s).alias("cooldown_s"),
    ).struct.json_encode()


def _message() -> pl.Expr:
    side = pl.when(pl.col("_up")).then(pl.lit("above q90")).otherwise(pl.lit("below q10"))
    edge = pl.when(pl.col("_up")).then(pl.col("q90")).otherwise(pl.col("q10"))
    return pl.format(
        "{} {}: market {} price {} {} {} ({})",
        pl.col("severity"),
        pl.col("ts").dt.strftime(_ISO),
        pl.col("market_id"),
        pl.col("p_yes").round(3),
        side,
        edge.round(3),
        pl.col("reason"),
    )


def evaluate_rules(
    points: pl.DataFrame,
    bands: pl.DataFrame,
    structure: pl.DataFrame,
    trust: pl.DataFrame,
    config: AlertConfig | None = None,
    since: datetime | None = None,
) -> pl.DataFrame:
    """Rule alerts raised by ``points`` (``market_id, ts, p_yes``) at or after ``since``, in ``ALERT_COLUMNS``.

    ``bands``: ``market_id, as_of_ts, ts, q10, q50, q90`` (``serving.forecast_bands``); ``structure``:
    ``market_id, ts, oi_change, volume_velocity``; ``trust``: ``market_id, dt, trust_score, clarity,
    low_confidence`` (``trust.trust_scores``). Points before ``since`` only serve the cooldown: pass at least
    ``cooldown_s`` of them so a breach already under way is not alerted again.
    """
    config = config or AlertConfig()
    frame = (
        points.select(
            pl.col("market_id").cast(pl.String), _utc(points, "ts").alias("ts"), pl.col("p_yes").cast(pl.Float64)
        )
        .drop_nulls()
        .sort("market_id", "ts")
        .unique(["market_id", "ts"], keep="first", maintain_order=True)
        .sort("ts")
    )
    frame = _with_trust(_with_structure(_with_bands(frame, bands), structure, config), trust)
    candidates = (
        frame.with_columns(_gates(config))
        .filter((pl.col("_up") | pl.col("_down")) & ~(pl.col("trust_score") < config.min_trust_score).fill_null(False))
        .with_columns(_severity())
        .with_columns(_codes())
        .sort("market_id", "reason", "ts")
    )
    previous = pl.col("ts").shift(1).over("market_id", "reason")
    fired = candidates.filter(previous.is_null() | ((pl.col("ts") - previous) > timedelta(seconds=config.cooldown_s)))
    if since is not None:
        fired = fired.filter(pl.col("ts") >= pl.lit(since).cast(_UTC_US))
    moment = pl.col("ts").dt.truncate(f"{config.bucket_s}s").dt.strftime(_ISO)
    key = pl.concat_str(pl.lit("rule"), "market_id", "reason", moment, separator="|")
    return (
        fired.with_columns(
            key.map_elements(_digest, return_dtype=pl.String).alias("alert_id"),
            pl.col("ts").dt.date().alias("dt"),
            pl.lit("rule").alias("source"),
            _evidence(config).alias("evidence"),
            _message().alias("message"),
            pl.col("ts").alias("first_seen_ts"),
            pl.col("ts").alias("last_seen_ts"),
        )
        .unique("alert_id", keep="first", maintain_order=True)
        .select(ALERT_COLUMNS)
        .sort("ts", "market_id", "reason")
    )


def hourly_structure(path: pl.DataFrame, window_s: int = 3600, baseline_s: int = 86_400) -> pl.DataFrame:
    """The seed's structure signals from a path of ``market_id, ts, volume_usd`` (cumulative) and
    ``open_interest_usd``: ``oi_change`` = OI now over OI ``window_s`` ago, minus 1; ``volume_velocity`` = the
    volume of the last ``window_s`` over the mean volume per ``window_s`` of the ``baseline_s`` before it, minus 1.
    Null where the look-back is not covered or a denominator is not positive.
    """
    frame = path.select(
        pl.col("market_id").cast(pl.String),
        _utc(path, "ts").alias("ts"),
        pl.col("volume_usd").cast(pl.Float64),
        pl.col("open_interest_usd").cast(pl.Float64),
    ).sort("ts")
    back = frame.select("market_id", pl.col("ts").alias("_ts_back"), "volume_usd", "open_interest_usd")
    window, baseline = timedelta(seconds=window_s), timedelta(seconds=window_s + baseline_s)
    joined = (
        frame.with_columns((pl.col("ts") - window).alias("_w"), (pl.col("ts") - baseline).alias("_b"))
        .join_asof(
            back.rename({"volume_usd": "_vol_w", "open_interest_usd": "_oi_w", "_ts_back": "_tw"}),
            left_on="_w",
            right_on="_tw",
            by="market_id",
            strategy="backward",
            check_sortedness=False,
        )
        .join_asof(
            back.select("market_id", pl.col("_ts_back").alias("_tb"), pl.col("volume_usd").alias("_vol_b")),
            left_on="_b",
            right_on="_tb",
            by="market_id",
            strategy="backward",
            check_sortedness=False,
        )
    )
    recent = pl.col("volume_usd") - pl.col("_vol_w")
    per_window = (pl.col("_vol_w") - pl.col("_vol_b")) * (window_s / baseline_s)
    covered = pl.col("_tb").is_not_null() & pl.col("_tw").is_not_null()
    return joined.select(
        "market_id",
        "ts",
        pl.when(covered & (pl.col("_oi_w") > 0))
        .then(pl.col("open_interest_usd") / pl.col("_oi_w") - 1)
        .alias("oi_change"),
        pl.when(covered & (per_window > 0)).then(recent / per_window - 1).alias("volume_velocity"),
    ).sort("market_id", "ts")
