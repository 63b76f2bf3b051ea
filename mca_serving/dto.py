"""Response types of the read API (msgspec Structs: the OpenAPI schema and the encoder both come from them).

Every measured value is ``float | None``: DuckDB gives NaN where a metric is undefined, which JSON cannot carry
(msgspec writes it as ``null``), so the schema says so. Field order is the column order of the queries that fill
them (``Struct(*row)``).
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class ScoreRow(msgspec.Struct):
    dt: date
    window: str
    horizon: str
    segment_type: str
    segment: str
    n: int
    n_events: int
    brier: float | None
    brier_ci_low: float | None
    brier_ci_high: float | None
    log_loss: float | None
    ece: float | None
    ece_debiased: float | None
    reliability: float | None
    resolution: float | None
    uncertainty: float | None
    slope: float | None
    intercept: float | None
    low_confidence: bool


class BinRow(msgspec.Struct):
    dt: date
    window: str
    horizon: str
    segment_type: str
    segment: str
    bin: int
    p_mean: float | None
    y_rate: float | None
    y_rate_ci_low: float | None
    y_rate_ci_high: float | None
    n: int


class MarketRow(msgspec.Struct):
    market_id: str
    question: str | None
    slug: str | None
    category: str | None
    status: str  # live | closed (not resolved yet) | resolved | unseen (in the registry, not in the latest day)
    label: str | None
    p_yes: float | None
    volume_usd: float | None
    liquidity_usd: float | None
    liquidity_bucket: str | None
    end_ts: datetime | None
    trust_score: float | None


class MarketsPage(msgspec.Struct):
    items: list[MarketRow]
    total: int  # rows matching the filters
    limit: int
    offset: int


class Registry(msgspec.Struct):
    market_id: str
    condition_id: str | None
    event_id: str | None
    slug: str | None
    question: str | None
    category: str | None
    yes_token_id: str | None
    no_token_id: str | None
    first_seen_dt: date
    last_seen_dt: date


class MarketState(msgspec.Struct):
    dt: date
    closed: bool
    p_yes: float | None
    best_bid: float | None
    best_ask: float | None
    spread: float | None
    volume_usd: float | None
    volume_24h: float | None
    liquidity_usd: float | None
    liquidity_bucket: str
    start_ts: datetime | None
    end_ts: datetime | None


class Resolution(msgspec.Struct):
    dt: date
    resolved_ts: datetime
    label: str


class PathPoint(msgspec.Struct):
    ts: datetime
    p: float | None


class BandStep(msgspec.Struct):
    as_of_ts: datetime
    step: int
    ts: datetime
    q10: float | None
    q50: float | None
    q90: float | None
    runtime: str
    model_name: str
    fallback_reason: str | None


class Trust(msgspec.Struct):
    dt: date
    trust_score: float | None
    formula_version: str | None
    low_confidence: bool | None
    components: dict[str, float | None]  # each in [0, 1]; names as the trust stage stores them
    details: dict[str, str | None]  # the other text columns (weakest component, low-confidence reasons, ...)


class Alert(msgspec.Struct):
    alert_id: str
    dt: date | None
    ts: datetime | None
    market_id: str | None
    source: str
    severity: str
    reason_codes: list[str]
    evidence: str | None  # JSON text, as stored
    message: str | None


class AlertsPage(msgspec.Struct):
    items: list[Alert]
    next_cursor: str | None  # pass as ``cursor`` for the next (older) page; null on the last page


class Bar(msgspec.Struct):
    bucket_start: datetime
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None
    trade_count: int


class MarketDetail(msgspec.Struct):
    registry: Registry
    latest: MarketState | None  # the latest crawled day, if the market was open on it
    resolution: Resolution | None
    path: list[PathPoint]  # core.price_history of the snapshot's recent days (live markets)
    live_path: list[PathPoint]  # core.live_paths (5-minute points of the latest intraday refresh)
    band: list[BandStep]  # serving.forecast_bands of the latest refresh
    trust: Trust | None
    alerts: list[Alert]  # the market's alerts in the snapshot, newest first
    bars: list[Bar]  # rt.bars_5m of its YES token


class Postmortem(msgspec.Struct):
    market_id: str
    dt: date
    path: str
    markdown: str


class HorizonQuality(msgspec.Struct):
    horizon: str
    n: int
    n_events: int
    brier: float | None
    brier_ci_low: float | None
    brier_ci_high: float | None
    log_loss: float | None
    ece: float | None
    ece_debiased: float | None
    slope: float | None
    intercept: float | None
    low_confidence: bool


class IntervalQuality(msgspec.Struct):
    method: str
    band_calibration: str
    nominal: float
    n: int
    coverage: float | None
    mean_width: float | None
    winkler: float | None


class CalibrationQuality(msgspec.Struct):
    dt: date | None  # the as-of day of the scoreboard (null: nothing scored yet)
    window: str
    horizons: list[HorizonQuality]  # segment "all", in horizon order
    intervals: list[IntervalQuality]  # segment "all" of calib.interval_metrics


class SnapshotStatus(msgspec.Struct):
    present: bool
    name: str | None = None
    source: str | None = None  # what published it (a partition, or intraday)
    published_ts: datetime | None = None
    age_s: float | None = None
    tables: dict[str, int] = {}  # rows per table
