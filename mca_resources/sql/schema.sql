-- The warehouse's tables (DESIGN.md §5, §10). Idempotent: run at the start of every writing asset.
-- Partition columns are real DATEs; timestamps are TIMESTAMPTZ in UTC. Keys are documented per table and
-- enforced by asset checks (DuckDB keys would turn a bad row into a failed run without telling which row).
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS calib;
CREATE SCHEMA IF NOT EXISTS trust;
CREATE SCHEMA IF NOT EXISTS alerts;
CREATE SCHEMA IF NOT EXISTS reports;
CREATE SCHEMA IF NOT EXISTS rt;

-- key (dt, market_id): every market open at some moment of the UTC day dt
CREATE TABLE IF NOT EXISTS core.markets (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    condition_id VARCHAR,
    event_id VARCHAR,
    question VARCHAR,
    slug VARCHAR,
    category VARCHAR NOT NULL,
    yes_token_id VARCHAR,
    no_token_id VARCHAR,
    start_ts TIMESTAMPTZ,
    end_ts TIMESTAMPTZ,
    closed_ts TIMESTAMPTZ,
    created_ts TIMESTAMPTZ,
    closed BOOLEAN NOT NULL,
    active BOOLEAN,
    neg_risk BOOLEAN,
    p_yes DOUBLE,
    outcome_prices DOUBLE[],
    uma_resolution_status VARCHAR,
    volume_usd DOUBLE,
    volume_24h DOUBLE,
    liquidity_usd DOUBLE,
    best_bid DOUBLE,
    best_ask DOUBLE,
    spread DOUBLE,
    liquidity_bucket VARCHAR NOT NULL
);
-- issue 14: the texts question clarity reads (ALTER, so that warehouses created before gain the columns too)
ALTER TABLE core.markets ADD COLUMN IF NOT EXISTS description VARCHAR;
ALTER TABLE core.markets ADD COLUMN IF NOT EXISTS resolution_source VARCHAR;  -- Gamma resolutionSource

-- key market_id: the latest known identity of every market ever seen
CREATE TABLE IF NOT EXISTS core.market_registry (
    market_id VARCHAR NOT NULL,
    condition_id VARCHAR,
    event_id VARCHAR,
    slug VARCHAR,
    question VARCHAR,
    category VARCHAR,
    yes_token_id VARCHAR,
    no_token_id VARCHAR,
    first_seen_dt DATE NOT NULL,
    last_seen_dt DATE NOT NULL
);

-- key (dt, market_id, field): a tracked field whose value on dt differs from the previous day it was seen
CREATE TABLE IF NOT EXISTS core.registry_changes (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    old_value VARCHAR,
    new_value VARCHAR,
    previous_dt DATE NOT NULL
);

-- key (dt, condition_id, ts): the on-chain state at every hour of dt (ts = the hour, block_ts = its block's time;
-- for today's partition the last row is the head, ts = block_ts)
CREATE TABLE IF NOT EXISTS core.subgraph_hourly (
    dt DATE NOT NULL,
    condition_id VARCHAR NOT NULL,
    market_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    block_ts TIMESTAMPTZ NOT NULL,
    open_interest_usd DOUBLE,
    volume_usd DOUBLE,
    trade_count BIGINT
);

-- key (dt, condition_id): the day's last instant of core.subgraph_hourly
CREATE TABLE IF NOT EXISTS core.subgraph_metrics (
    dt DATE NOT NULL,
    condition_id VARCHAR NOT NULL,
    market_id VARCHAR,
    open_interest_usd DOUBLE,
    volume_usd DOUBLE,
    trade_count BIGINT
);

-- key (dt, market_id, ts): the day's points of every market of dt, and the resolved cohort's 32-day look-back
-- (which repeats, with equal prices, points of the days before: each partition stands alone)
CREATE TABLE IF NOT EXISTS core.price_history (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    token_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    p DOUBLE NOT NULL
);

-- key (market_id, ts): the rolling recent path of the top-N live markets (intraday refresh; source rt.bars_5m or
-- clob.prices_history; refreshed_ts: the refresh that wrote the market)
CREATE TABLE IF NOT EXISTS core.live_paths (
    market_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    p DOUBLE NOT NULL,
    source VARCHAR NOT NULL,
    refreshed_ts TIMESTAMPTZ NOT NULL
);

-- key (dt, market_id, ts)
CREATE TABLE IF NOT EXISTS core.market_snapshots (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    source VARCHAR NOT NULL,
    p_yes DOUBLE,
    best_bid DOUBLE,
    best_ask DOUBLE,
    volume_usd DOUBLE,
    liquidity_usd DOUBLE,
    open_interest_usd DOUBLE,
    end_ts TIMESTAMPTZ
);

-- key (dt, market_id): the cohort of markets that resolved on dt
CREATE TABLE IF NOT EXISTS core.resolutions (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    event_id VARCHAR,
    condition_id VARCHAR,
    yes_token_id VARCHAR,
    resolved_ts TIMESTAMPTZ NOT NULL,
    label VARCHAR NOT NULL,
    y TINYINT,
    category VARCHAR,
    liquidity_bucket VARCHAR,
    volume_usd DOUBLE
);

-- key (dt, market_id, horizon)
CREATE TABLE IF NOT EXISTS core.cutoff_snapshots (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    event_id VARCHAR,
    horizon VARCHAR NOT NULL,
    cutoff_ts TIMESTAMPTZ NOT NULL,
    snapshot_ts TIMESTAMPTZ NOT NULL,
    p_yes DOUBLE NOT NULL,
    staleness_seconds BIGINT NOT NULL,
    y TINYINT NOT NULL,
    category VARCHAR,
    liquidity_bucket VARCHAR,
    volume_usd DOUBLE
);

-- key (dt, market_id, ts)
CREATE TABLE IF NOT EXISTS core.features (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    p_yes DOUBLE,
    ret_1h DOUBLE,
    ret_1d DOUBLE,
    vol_24h DOUBLE,
    volume_velocity DOUBLE,
    oi_change DOUBLE,
    tte_hours DOUBLE,
    liquidity_bucket VARCHAR,
    spread DOUBLE,
    liquidity_usd DOUBLE
);

-- key (dt, market_id): the trust score of every market of core.markets for dt, as of the end of dt (docs/trust.md);
-- low_confidence_reason lists every missing input, comma-separated (null when none); clarity_reasons the question's
CREATE TABLE IF NOT EXISTS trust.trust_scores (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    trust_score DOUBLE NOT NULL,
    formula_version VARCHAR NOT NULL,
    low_confidence BOOLEAN NOT NULL,
    low_confidence_reason VARCHAR,
    liquidity DOUBLE NOT NULL,
    stability DOUBLE NOT NULL,
    clarity DOUBLE NOT NULL,
    manipulation DOUBLE NOT NULL,  -- suspicion M in [0, 1]: the score uses 1 - M
    time_to_expiry DOUBLE NOT NULL,
    track_record DOUBLE NOT NULL,
    manipulation_signal VARCHAR,
    weakest_component VARCHAR NOT NULL,
    clarity_reasons VARCHAR[] NOT NULL
);

-- key (dt, window, horizon, segment_type, segment); dt = the as-of day of the scoreboard
CREATE TABLE IF NOT EXISTS calib.scoreboard (
    dt DATE NOT NULL,
    "window" VARCHAR NOT NULL,
    horizon VARCHAR NOT NULL,
    segment_type VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    n BIGINT NOT NULL,
    n_events BIGINT NOT NULL,
    brier DOUBLE,
    brier_ci_low DOUBLE,
    brier_ci_high DOUBLE,
    log_loss DOUBLE,
    ece DOUBLE,
    ece_debiased DOUBLE,
    ece_debiased_ci_low DOUBLE,
    ece_debiased_ci_high DOUBLE,
    reliability DOUBLE,
    resolution DOUBLE,
    uncertainty DOUBLE,
    slope DOUBLE,
    intercept DOUBLE,
    slope_ci_low DOUBLE,
    slope_ci_high DOUBLE,
    intercept_ci_low DOUBLE,
    intercept_ci_high DOUBLE,
    low_confidence BOOLEAN NOT NULL
);

-- key (dt, window, horizon, segment_type, segment, bin)
CREATE TABLE IF NOT EXISTS calib.reliability_bins (
    dt DATE NOT NULL,
    "window" VARCHAR NOT NULL,
    horizon VARCHAR NOT NULL,
    segment_type VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    bin INTEGER NOT NULL,
    p_mean DOUBLE,
    y_rate DOUBLE,
    y_rate_ci_low DOUBLE,
    y_rate_ci_high DOUBLE,
    n BIGINT NOT NULL
);

-- key (dt, method, band_calibration, market_id, origin_ts, step); dt = as-of day of the backtest
CREATE TABLE IF NOT EXISTS calib.forecast_bands (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    band_calibration VARCHAR NOT NULL,
    origin_ts TIMESTAMPTZ NOT NULL,
    step INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    y DOUBLE NOT NULL,
    q10 DOUBLE NOT NULL,
    q50 DOUBLE NOT NULL,
    q90 DOUBLE NOT NULL
);

-- key (dt, method, band_calibration, segment_type, segment, nominal)
CREATE TABLE IF NOT EXISTS calib.interval_metrics (
    dt DATE NOT NULL,
    method VARCHAR NOT NULL,
    band_calibration VARCHAR NOT NULL,
    segment_type VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    nominal DOUBLE NOT NULL,
    n BIGINT NOT NULL,
    n_markets BIGINT NOT NULL,
    coverage DOUBLE,
    coverage_se DOUBLE, -- market-clustered standard error of coverage (points of one market are not independent)
    mean_width DOUBLE,
    winkler DOUBLE,
    pinball DOUBLE,
    crps DOUBLE
);

-- key (dt, method, segment): the adjustment the forecaster applies ("pooled" is the fallback)
CREATE TABLE IF NOT EXISTS calib.conformal_state (
    dt DATE NOT NULL,
    method VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    q_hat DOUBLE,
    n BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    alpha DOUBLE NOT NULL,
    state_json VARCHAR NOT NULL
);

-- key (dt, scope, detector): drift detectors as of dt (scope: a horizon, or bands:<method>)
CREATE TABLE IF NOT EXISTS calib.drift (
    dt DATE NOT NULL,
    scope VARCHAR NOT NULL,
    detector VARCHAR NOT NULL,
    n BIGINT NOT NULL,
    value DOUBLE,
    threshold DOUBLE,
    fired BOOLEAN NOT NULL
);

-- key (dt, market_id): one postmortem per selected market of the cohort dt (docs/postmortems.md); path and
-- image_path are relative to MCA_DATA_DIR (reports/postmortem/<market_id>_<dt>.md and .svg)
CREATE TABLE IF NOT EXISTS reports.postmortems (
    dt DATE NOT NULL,
    market_id VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    markdown VARCHAR NOT NULL,
    image_path VARCHAR,
    reason VARCHAR NOT NULL,
    abs_error DOUBLE
);

-- alerts ---------------------------------------------------------------------------------------------------------
-- written by the alerts stage (mca_assets/alerts: rule alerts, daily and intraday) and the alert delivery job
-- (mca_sensors/alerts: check, drift and run-failure alerts, deliveries); see docs/alerts.md

-- key alert_id (deterministic: the same move or the same failing check always gets the same id); insert-or-ignore
CREATE TABLE IF NOT EXISTS alerts.alerts (
    alert_id VARCHAR NOT NULL,
    dt DATE NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    market_id VARCHAR,
    source VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    reason_codes VARCHAR[] NOT NULL,
    evidence VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    first_seen_ts TIMESTAMPTZ NOT NULL,
    last_seen_ts TIMESTAMPTZ NOT NULL
);

-- key (alert_id, sink): one row per alert and sink (the sink's name, never its URL)
CREATE TABLE IF NOT EXISTS alerts.deliveries (
    alert_id VARCHAR NOT NULL,
    sink VARCHAR NOT NULL,
    attempts INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    last_error VARCHAR,
    delivered_ts TIMESTAMPTZ,
    updated_ts TIMESTAMPTZ NOT NULL
);

-- realtime ------------------------------------------------------------------------------------------------------
-- written by the realtime_capture job (mca_sensors) and the rt_bars daily asset; see docs/realtime.md

-- key (dt, dedupe_key): one row per market-channel event, deduplicated across reconnects and overlapping captures
CREATE TABLE IF NOT EXISTS rt.ticks (
    dt DATE NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    recv_ts TIMESTAMPTZ NOT NULL,
    asset_id VARCHAR NOT NULL,
    event_type VARCHAR NOT NULL,
    price DOUBLE,
    size DOUBLE,
    side VARCHAR,
    best_bid DOUBLE,
    best_ask DOUBLE,
    dedupe_key VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    conn INTEGER NOT NULL,
    seq BIGINT NOT NULL
);

-- key (asset_id, bucket_start): mid-price OHLC (open..close) and trade OHLC (trade_*) per minute
CREATE TABLE IF NOT EXISTS rt.bars_1m (
    dt DATE NOT NULL,
    asset_id VARCHAR NOT NULL,
    bucket_start TIMESTAMPTZ NOT NULL,
    open DOUBLE,
    high DOUBLE,
    low DOUBLE,
    close DOUBLE,
    volume DOUBLE NOT NULL,
    trade_count BIGINT NOT NULL,
    trade_open DOUBLE,
    trade_high DOUBLE,
    trade_low DOUBLE,
    trade_close DOUBLE,
    vwap DOUBLE,
    volume_usd DOUBLE NOT NULL,
    realized_vol DOUBLE,
    n_mid BIGINT NOT NULL,
    n_ticks BIGINT NOT NULL
);

-- key (asset_id, bucket_start): as rt.bars_1m over 5-minute buckets
CREATE TABLE IF NOT EXISTS rt.bars_5m (
    dt DATE NOT NULL,
    asset_id VARCHAR NOT NULL,
    bucket_start TIMESTAMPTZ NOT NULL,
    open DOUBLE,
    high DOUBLE,
    low DOUBLE,
    close DOUBLE,
    volume DOUBLE NOT NULL,
    trade_count BIGINT NOT NULL,
    trade_open DOUBLE,
    trade_high DOUBLE,
    trade_low DOUBLE,
    trade_close DOUBLE,
    vwap DOUBLE,
    volume_usd DOUBLE NOT NULL,
    realized_vol DOUBLE,
    n_mid BIGINT NOT NULL,
    n_ticks BIGINT NOT NULL
);

-- key run_id: one row per capture run (counters, the window's uncovered stretches as JSON
-- [{start, end, seconds, kind}], lag); gaps/gap_seconds count every uncovered second of [window_start, window_end],
-- gap_share only those lost to reconnects (docs/realtime.md, "Coverage")
CREATE TABLE IF NOT EXISTS rt.capture_runs (
    dt DATE NOT NULL,
    run_id VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    capture_start TIMESTAMPTZ,
    capture_end TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    asset_ids VARCHAR[] NOT NULL,
    messages BIGINT NOT NULL,
    events BIGINT NOT NULL,
    ticks BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    duplicate_events BIGINT NOT NULL,
    overlap_ticks BIGINT NOT NULL,
    rejections BIGINT NOT NULL,
    reconnects INTEGER NOT NULL,
    gaps INTEGER NOT NULL,
    gap_seconds DOUBLE NOT NULL,
    gap_share DOUBLE,
    gaps_json VARCHAR NOT NULL,
    lag_mean_ms DOUBLE,
    lag_max_ms DOUBLE,
    spool_path VARCHAR NOT NULL
);
-- issue 12: hand-over timing and coverage (ALTER, so that warehouses created before gain the columns too)
ALTER TABLE rt.capture_runs ADD COLUMN IF NOT EXISTS requested_at TIMESTAMPTZ;  -- the run's creation
ALTER TABLE rt.capture_runs ADD COLUMN IF NOT EXISTS connected_at TIMESTAMPTZ;  -- its first frame
ALTER TABLE rt.capture_runs ADD COLUMN IF NOT EXISTS launch_latency_s DOUBLE;  -- connected_at - requested_at
ALTER TABLE rt.capture_runs ADD COLUMN IF NOT EXISTS coverage DOUBLE;  -- covered share of the window, [0, 1]
-- per connection: receive time of its first frame .. of its last (or the capture end), not clipped to the window
ALTER TABLE rt.capture_runs ADD COLUMN IF NOT EXISTS covered STRUCT(start TIMESTAMPTZ, "end" TIMESTAMPTZ)[];

-- serving ------------------------------------------------------------------------------------------------
-- Written by the forecasts stage (mca_assets/forecasts), not per daily partition.
CREATE SCHEMA IF NOT EXISTS serving;

-- key (as_of_ts, market_id, step): bands of the top-N live markets, one run per as_of_ts
CREATE TABLE IF NOT EXISTS serving.forecast_bands (
    as_of_ts TIMESTAMPTZ NOT NULL,
    market_id VARCHAR NOT NULL,
    step INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    q10 DOUBLE NOT NULL,
    q50 DOUBLE NOT NULL,
    q90 DOUBLE NOT NULL,
    runtime VARCHAR NOT NULL,
    model_name VARCHAR NOT NULL,
    fallback_reason VARCHAR,
    conformal_applied BOOLEAN NOT NULL
);
