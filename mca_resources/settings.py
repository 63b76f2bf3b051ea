"""Typed settings read once from ``MCA_*`` environment variables, with working defaults.

Production defaults point at Polymarket's real endpoints; `make demo` and the tests point every URL at the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

GOLDSKY_SUBGRAPHS = "https://api.goldsky.com/api/public/project_cl6mb8i9h0003e201j6li0diw/subgraphs"


@dataclass(frozen=True)
class Settings:
    """Every knob of the platform in one place; the env var of field ``x`` is ``MCA_X``."""

    data_dir: Path = Path("./data")
    gamma_url: str = "https://gamma-api.polymarket.com"
    clob_url: str = "https://clob.polymarket.com"
    ws_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    subgraph_url: str = GOLDSKY_SUBGRAPHS
    tollama_url: str = "http://127.0.0.1:11435"
    api_tokens_file: Path | None = None
    http_timeout_s: float = 10.0
    http_max_retries: int = 6
    http_max_concurrency: int = 8
    # realtime capture (mca_sensors): window length, markets followed, overlap of consecutive windows, ranking
    rt_window_s: int = 600
    rt_top_n: int = 10
    rt_overlap_s: int = 60
    rt_rank_by: str = "volume_usd"  # or liquidity_usd (a core.markets column)
    rt_sensor_interval_s: int = 30
    rt_sensor_enabled: bool = False  # the sensor's default status: RUNNING when true (make demo sets it)
    rt_gap_share_warn: float = 0.05  # rt.capture_runs gap share above this is a WARN
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
    # every other route but /health and /metrics: a token bucket per client address
    read_rate_per_min: float = 600.0
    read_rate_burst: int = 60
    # the HTTP server (mca serve): time to send a request's headers, then its body; idle keep-alive; connections
    serve_header_timeout_s: float = 10.0
    serve_body_timeout_s: float = 30.0
    serve_keep_alive_s: float = 5.0
    serve_max_connections: int = 1000

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
