"""``serving.forecast_bands``: q-bands for the top-N live markets, computed in-process by the same `Forecaster`
that answers ``POST /tsfm/forecast`` (same guards, fallbacks, post-processing and conformal state), for the alert
gates. The series are the markets' recent 5-minute paths of the latest intraday refresh (``core.live_paths``);
a market with fewer points than the forecaster's minimum is skipped and counted by reason in the metadata.
Not daily-partitioned: each run appends the bands of its ``as_of_ts`` (a re-run of the same minute replaces
them). Reads happen on one short connection, the forecasts with no connection held, the write on another.
"""

import asyncio
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.common import intraday_asset, warehouse_connection
from mca_assets.live.assets import LIVE_PATHS_KEY
from mca_core.series_prep import freq_seconds
from mca_resources.dagster_resources import TollamaResource
from mca_resources.forecasting.conformal_states import LATEST_STATES_SQL, ConformalStates, states_from_frame
from mca_resources.forecasting.forecaster import Forecaster
from mca_resources.forecasting.metrics import ServiceMetrics
from mca_resources.forecasting.schemas import ForecastIn, ForecastOut, ModelIn, TransformIn
from mca_resources.settings import get_settings
from mca_resources.tollama import quantile_key
from mca_resources.warehouse import read_frame, upsert_rows

FORECAST_BANDS_KEY = dg.AssetKey(["serving", "forecast_bands"])
QUANTILES = [0.1, 0.5, 0.9]

#: the markets of the latest refresh of core.live_paths, with their liquidity bucket
_TOP_MARKETS = """
SELECT DISTINCT l.market_id, coalesce(m.liquidity_bucket, 'LOW') AS liquidity_bucket
FROM core.live_paths l
LEFT JOIN core.markets m ON m.dt = (SELECT max(dt) FROM core.markets) AND m.market_id = l.market_id
WHERE l.refreshed_ts = (SELECT max(refreshed_ts) FROM core.live_paths)
ORDER BY l.market_id LIMIT ?
"""
_HISTORY = """
SELECT market_id, ts, p FROM core.live_paths WHERE market_id IN (SELECT unnest(?::VARCHAR[]))
QUALIFY row_number() OVER (PARTITION BY market_id ORDER BY ts DESC) <= ?
ORDER BY market_id, ts
"""


class ForecastTopMarketsConfig(dg.Config):
    top_n: int = 200
    horizon_steps: int = 6
    history_points: int = 256
    freq: str = "5m"  # the step of core.live_paths
    model: str | None = None  # default: the first of MCA_TSFM_MODELS
    concurrency: int = 16


def _inputs(conn, config: ForecastTopMarketsConfig) -> tuple[pl.DataFrame, dict]:  # type: ignore[no-untyped-def]
    markets = read_frame(conn, _TOP_MARKETS, [config.top_n])
    if markets.is_empty():
        return pl.DataFrame(), {}
    history = read_frame(conn, _HISTORY, [markets["market_id"].to_list(), config.history_points])
    series = (
        history.group_by("market_id", maintain_order=True)
        .agg(pl.col("p"), pl.col("ts").last().alias("last_ts"))
        .join(markets, on="market_id")
    )
    return series, states_from_frame(read_frame(conn, LATEST_STATES_SQL))


def _skipped(series: pl.DataFrame, min_points: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """The series long enough to forecast, and the count of the others."""
    long_enough = series.filter(pl.col("p").list.len() >= min_points)
    return long_enough, (
        {"fewer_than_min_points": series.height - long_enough.height} if series.height > long_enough.height else {}
    )


async def _forecast_all(forecaster: Forecaster, requests: list[ForecastIn], concurrency: int) -> list[ForecastOut]:
    gate = asyncio.Semaphore(concurrency)

    async def one(req: ForecastIn) -> ForecastOut:
        async with gate:
            return await forecaster.forecast(req)

    try:
        return await asyncio.gather(*(one(r) for r in requests))
    finally:
        if forecaster.tollama is not None:
            await forecaster.tollama.http.aclose()


def _rows(series: pl.DataFrame, answers: list[ForecastOut], as_of: datetime, step: timedelta) -> pl.DataFrame:
    """One row per (market, step): the band and how it was made."""
    bands = np.array([[a.yhat_q[quantile_key(q)] for q in QUANTILES] for a in answers], dtype=np.float64)
    n, _, h = bands.shape
    idx = np.repeat(np.arange(n), h)
    steps = np.tile(np.arange(1, h + 1, dtype=np.int32), n)
    meta = pl.DataFrame(
        {
            "market_id": series["market_id"],
            "last_ts": series["last_ts"],
            "runtime": [a.meta.runtime for a in answers],
            "model_name": [a.meta.model_name for a in answers],
            "fallback_reason": pl.Series([a.meta.fallback_reason for a in answers], dtype=pl.String),
            "conformal_applied": [a.meta.conformal_applied for a in answers],
        }
    )[idx]
    return meta.select(
        pl.lit(as_of).cast(pl.Datetime("us", "UTC")).alias("as_of_ts"),
        "market_id",
        pl.Series("step", steps),
        (pl.col("last_ts") + pl.Series(steps) * step).alias("ts"),
        pl.Series("q10", bands[:, 0, :].ravel()),
        pl.Series("q50", bands[:, 1, :].ravel()),
        pl.Series("q90", bands[:, 2, :].ravel()),
        "runtime",
        "model_name",
        "fallback_reason",
        "conformal_applied",
    )


@intraday_asset(
    FORECAST_BANDS_KEY,
    deps=[LIVE_PATHS_KEY],
    owners=["team:research"],
    description="q10/q50/q90 bands for the top-N live markets from the service's forecaster (for the alert gates).",
)
def forecast_top_markets(
    context: dg.AssetExecutionContext,
    config: ForecastTopMarketsConfig,
    warehouse: DuckDBResource,
    tollama: TollamaResource,
) -> dg.MaterializeResult:
    started = time.perf_counter()
    as_of = datetime.now(UTC).replace(second=0, microsecond=0)
    with warehouse_connection(warehouse) as conn:
        series, states = _inputs(conn, config)
    settings = replace(get_settings(), tollama_url=tollama.url, tsfm_timeout_s=tollama.timeout_s)
    candidates = series.height
    series, skipped = _skipped(series, settings.tsfm_min_points) if candidates else (series, {})
    if series.is_empty():
        return dg.MaterializeResult(
            metadata={"rows": 0, "markets": 0, "candidates": candidates, "skipped": dg.MetadataValue.json(skipped),
                      "note": "no live path long enough in core.live_paths yet"}
        )  # fmt: skip
    if config.model is not None:
        settings = replace(settings, tsfm_models=config.model)
    forecaster = Forecaster(settings, tollama.client(), ServiceMetrics(), ConformalStates.fixed(states))
    requests = [
        ForecastIn(market_id=market_id, y=p, freq=config.freq, horizon_steps=config.horizon_steps,
                   quantiles=list(QUANTILES), liquidity_bucket=bucket, transform=TransformIn(), model=ModelIn())
        for market_id, p, bucket in series.select("market_id", "p", "liquidity_bucket").iter_rows()
    ]  # fmt: skip
    answers = asyncio.run(_forecast_all(forecaster, requests, config.concurrency))
    frame = _rows(series, answers, as_of, timedelta(seconds=freq_seconds(config.freq)))
    with warehouse_connection(warehouse) as conn:
        written = upsert_rows(conn, "serving.forecast_bands", "as_of_ts", frame)
    reasons = Counter(a.meta.fallback_reason or "none" for a in answers)
    context.log.info("forecast %d markets as of %s: %s", len(answers), as_of.isoformat(), dict(reasons))
    return dg.MaterializeResult(
        metadata={
            "rows": written,
            "markets": len(answers),
            "candidates": candidates,
            "skipped": dg.MetadataValue.json(skipped),
            "as_of_ts": as_of.isoformat(),
            "fallback_reasons": dg.MetadataValue.json(dict(reasons)),
            "conformal_methods": sorted(states),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


intraday_job = dg.define_asset_job(
    "intraday_refresh",
    # the alerts stage's intraday evaluation reads these bands; named by key (stages do not import each other)
    selection=dg.AssetSelection.assets(
        LIVE_PATHS_KEY,
        FORECAST_BANDS_KEY,
        dg.AssetKey(["alerts", "alerts_intraday"]),
        dg.AssetKey(["serving", "snapshot_intraday"]),
    ),
    description="The top-N live markets' recent paths, their bands, the rule alerts of the last minutes, then a "
    "published snapshot for the service.",
)
intraday_schedule = dg.ScheduleDefinition(
    name="intraday_refresh_every_5m",
    cron_schedule="*/5 * * * *",
    job=intraday_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,  # the bands the alerts read go stale without it
    description="Every 5 minutes: recent paths of the top-N live markets (by 24 h volume), their bands, their alerts.",
)
