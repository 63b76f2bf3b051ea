"""Typed settings read once from ``MCA_*`` environment variables, with working defaults.

Production defaults point at Polymarket's real endpoints; `make demo` and the tests point every URL at the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from pathlib import Path

from mca_core.alert_params import SEVERITIES, AlertConfig
from mca_core.cutoffs import HORIZONS
from mca_core.drift import DriftThresholds
from mca_core.segments import LiquidityEdges
from mca_resources.warehouse_target import WarehouseTarget, parse_target

GOLDSKY_SUBGRAPHS = "https://api.goldsky.com/api/public/project_cl6mb8i9h0003e201j6li0diw/subgraphs"


@dataclass(frozen=True)
class Settings:
    """Every knob of the platform in one place; the env var of field ``x`` is ``MCA_X``."""

    data_dir: Path = Path("./data")
    # where the warehouse lives (mca_resources.warehouse_target): empty = duckdb:<data_dir>/warehouse.duckdb, or
    # ducklake:sqlite:<path> | ducklake:postgres:<libpq dsn>, with the lake's Parquet files under lake_data_path
    warehouse: str = ""
    lake_data_path: str = ""  # empty: <data_dir>/lake/ (production: an object-store URL the lake can write)
    gamma_url: str = "https://gamma-api.polymarket.com"
    clob_url: str = "https://clob.polymarket.com"
    ws_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    subgraph_url: str = GOLDSKY_SUBGRAPHS
    tollama_url: str = "http://127.0.0.1:11435"
    api_tokens_file: Path | None = None
    http_timeout_s: float = 10.0
    http_max_retries: int = 6
    http_max_concurrency: int = 8
    blas_threads: int = 1  # BLAS threads per process that loads the code location (mca_resources.threads)
    # the daily graph (DESIGN.md §5): first partition, segment edges, cutoff staleness limits, drift thresholds
    partitions_start: str = "2025-01-01"  # YYYY-MM-DD; earlier days cannot be materialized
    liquidity_low_usd: float = 10_000.0  # LOW < this <= MID, on a market's total volume
    liquidity_high_usd: float = 100_000.0  # MID < this <= HIGH
    # horizon=seconds: the oldest price a cutoff accepts, per horizon (docs/metrics.md says why these values)
    cutoff_max_staleness: str = "1h=3600,4h=7200,1d=21600,1w=86400,1m=259200"
    drift_swing: float = 0.15  # base-rate swing across 4 chronological windows
    drift_psi: float = 0.25  # PSI of current against reference forecasts ("shift")
    drift_coverage_tolerance: float = 0.05  # coverage below target minus this fires
    drift_coverage_n_min: int = 200  # ... with at least this many band points
    drift_coverage_min_markets: int = 30  # ... from at least this many markets (clustered standard error)
    # postmortems (docs/postmortems.md): who gets a report on each cohort day
    postmortem_wrong_threshold: float = 0.7  # |p_yes - y| at the 1d cutoff from which a market is confidently wrong
    postmortem_max_others: int = 50  # largest-volume other resolved markets reported per day
    # realtime capture (mca_sensors): window length, markets followed, overlap of consecutive windows, ranking
    rt_window_s: int = 600
    rt_top_n: int = 10
    rt_overlap_s: int = 60
    rt_rank_by: str = "volume_usd"  # or liquidity_usd (a core.markets column)
    rt_sensor_interval_s: int = 30
    rt_sensor_enabled: bool = False  # the sensor's default status: RUNNING when true (make demo sets it)
    rt_gap_share_warn: float = 0.05  # rt.capture_runs gap share above this is a WARN
    # hand-over timing (docs/realtime.md): a window is requested (measured launch-to-connect latency of the last
    # rt_latency_runs runs + rt_overlap_s) before it opens; rt_launch_latency_s stands in until one was measured
    rt_launch_latency_s: float = 30.0
    rt_latency_runs: int = 10
    rt_coverage_warn: float = 0.98  # a capture run (or a day's runs together) covering less of its window: WARN
    rt_silence_s: float = 2.0  # an uncovered stretch (or a stretch without ticks) longer than this is a silence
    # dead runs (mca_sensors.reaper, docs/operations.md): how often the daemon's reaper sensor looks
    reaper_interval_s: int = 30
    # trust scores (docs/trust.md): a JSON/TOML file overriding the documented defaults of the formula
    trust_config_file: Path | None = None
    trust_low_confidence_warn: float = 0.5  # a day with a larger share of low-confidence trust rows: WARN
    # the forecasting service (mca_serving, docs/serving.md)
    environment: str = "production"  # "production" refuses research_only models at start-up
    tsfm_models: str = "chronos2"  # comma-separated tollama models clients may name; the first is the default
    tsfm_timeout_s: float = 2.0
    tsfm_baseline: str = "ewma"  # ewma | kalman | rolling_quantile
    tsfm_min_points: int = 32
    tsfm_input_len: int = 288  # the last steps of y the model and the baseline see
    tsfm_max_gap_s: float = 3600.0
    tsfm_min_width: float = 0.02
    tsfm_max_width: float = 0.60
    tsfm_cache_fresh_s: float = 60.0
    tsfm_cache_stale_s: float = 120.0
    tsfm_breaker_failures: int = 5
    tsfm_breaker_reset_s: float = 30.0
    # a model's shared breaker and degradation mode move only on failures from at least this many identities
    tsfm_min_failing_identities: int = 2
    tsfm_degradation_window_s: float = 300.0
    tsfm_rate_per_min: float = 120.0  # per identity
    tsfm_rate_burst: int = 20
    tsfm_anon_rate_per_min: float = 30.0  # per client address, before a valid token
    tsfm_max_body_bytes: int = 262_144
    tsfm_conformal_refresh_s: float = 60.0
    # alerts (docs/alerts.md): rule thresholds as name=value overrides of mca_core.alert_params.AlertConfig
    alert_rules: str = ""
    alert_top_n: int = 200  # markets of the intraday evaluation (the forecast refresh's top-N)
    # sinks: a JSON webhook and a Slack-compatible one (empty = off); secrets, so kept out of repr and logs
    alert_webhook_url: str = field(default="", repr=False)
    alert_slack_webhook_url: str = field(default="", repr=False)
    alert_delivery_min_severity: str = "MED"  # HIGH | MED | FYI: the quietest severity delivered
    alert_delivery_max_age_s: int = 172_800  # alerts older than this (a backfilled day's) are stored, not sent
    alert_delivery_attempts: int = 4  # per alert and sink in one delivery run; the next sensor tick retries
    alert_delivery_backoff_s: float = 0.5  # first retry delay; doubles, full jitter, capped at 8 s
    alert_delivery_timeout_s: float = 5.0
    alert_sensor_interval_s: int = 30
    alert_sensor_enabled: bool = False  # the alert sensor's default status: RUNNING when true
    alert_run_jobs: str = "daily_job"  # comma-separated jobs whose failed runs raise an alert
    # every other route but /health and /metrics: a token bucket per client address
    read_rate_per_min: float = 600.0
    read_rate_burst: int = 60
    # the HTTP server (mca serve): time to send a request's headers, then its body; idle keep-alive; connections
    serve_header_timeout_s: float = 10.0
    serve_body_timeout_s: float = 30.0
    serve_keep_alive_s: float = 5.0
    serve_max_connections: int = 1000
    # serving snapshots (mca_resources.serving_snapshot): history kept for the service, superseded files kept
    serving_history_days: int = 7  # core.price_history of the live markets
    serving_bars_hours: int = 48  # rt.bars_5m
    serving_alerts_days: int = 30  # alerts.alerts
    serving_keep: int = 1  # superseded snapshots kept beside the current one (older ones pruned when unheld)

    def __post_init__(self) -> None:
        self.warehouse_target()
        self.liquidity_edges()
        self.max_staleness()
        self.alert_config()
        if self.alert_delivery_min_severity not in SEVERITIES:
            raise ValueError(f"MCA_ALERT_DELIVERY_MIN_SEVERITY must be one of {SEVERITIES}")
        try:
            date.fromisoformat(self.partitions_start)
        except ValueError as exc:
            raise ValueError(f"MCA_PARTITIONS_START={self.partitions_start!r} is not a YYYY-MM-DD date") from exc

    def liquidity_edges(self) -> LiquidityEdges:
        return LiquidityEdges(self.liquidity_low_usd, self.liquidity_high_usd)

    def max_staleness(self) -> dict[str, int]:
        """Horizon -> seconds from ``cutoff_max_staleness``; every horizon of DESIGN.md §5 needs one."""
        limits: dict[str, int] = {}
        for part in self.cutoff_max_staleness.split(","):
            name, sep, seconds = part.strip().partition("=")
            if not sep or not seconds.strip().isdigit() or name not in HORIZONS:
                raise ValueError(f"MCA_CUTOFF_MAX_STALENESS: {part!r} is not <horizon>=<seconds> ({list(HORIZONS)})")
            limits[name] = int(seconds)
        if missing := [h for h in HORIZONS if h not in limits]:
            raise ValueError(f"MCA_CUTOFF_MAX_STALENESS has no limit for {missing}")
        return limits

    def alert_config(self) -> AlertConfig:
        return AlertConfig.from_overrides(self.alert_rules)

    def drift_thresholds(self) -> DriftThresholds:
        return DriftThresholds(
            self.drift_swing,
            self.drift_psi,
            self.drift_coverage_tolerance,
            self.drift_coverage_n_min,
            self.drift_coverage_min_markets,
        )

    def warehouse_target(self) -> WarehouseTarget:
        return parse_target(self.warehouse, self.data_dir, self.lake_data_path)

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving"


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping; unknown ``MCA_*`` names are ignored, bad values raise with the name."""
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = env.get(f"MCA_{f.name.upper()}")
        if raw is None or raw == "":
            continue
        default = getattr(Settings, f.name, None)
        try:
            if f.name.endswith(("_dir", "_file")):
                values[f.name] = Path(raw)
            elif isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw.rstrip("/")
        except ValueError as exc:
            raise ValueError(f"MCA_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}") from exc
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return settings_from_env(os.environ)
