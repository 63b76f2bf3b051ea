"""build_features matches a slow row-by-row reference, ignores input order and follows its null rules."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from mca_core import features
from mca_core.features import FEATURE_COLUMNS, FeatureConfig, build_features
from mca_resources.settings import Settings

CONFIG = FeatureConfig(liquidity=Settings().liquidity_edges())

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)

SCHEMA: dict[str, Any] = {
    "dt": pl.Date,
    "market_id": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "p_yes": pl.Float64,
    "best_bid": pl.Float64,
    "best_ask": pl.Float64,
    "volume_usd": pl.Float64,
    "open_interest_usd": pl.Float64,
    "liquidity_usd": pl.Float64,
    "end_ts": pl.Datetime("us", "UTC"),
}


def snapshot(market_id: str, ts: datetime, p_yes: float, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in SCHEMA}
    row.update(dt=ts.date(), market_id=market_id, ts=ts, p_yes=p_yes)
    row.update(values)
    return row


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA)


# ------------------------------------------------------------------------------ slow reference


def _last_at_or_before(series: list[dict[str, Any]], limit: datetime) -> dict[str, Any] | None:
    found = None
    for row in series:
        if row["ts"] <= limit:
            found = row
    return found


def _relative(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return (now - before) / max(before, 1.0)


def reference_features(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The documented definitions, one row at a time, with plain Python."""
    out = []
    for row in rows:
        series = sorted((r for r in rows if r["market_id"] == row["market_id"]), key=lambda r: r["ts"])
        ts, p = row["ts"], row["p_yes"]
        hour_ago = _last_at_or_before(series, ts - HOUR)
        day_ago = _last_at_or_before(series, ts - DAY)
        window = [r["p_yes"] for r in series if ts - DAY < r["ts"] <= ts]
        steps = [b - a for a, b in itertools.pairwise(window)]
        volume = row["volume_usd"]
        if volume is None or volume < 10_000:
            bucket = "LOW"
        elif volume < 100_000:
            bucket = "MID"
        else:
            bucket = "HIGH"
        bid, ask, end = row["best_bid"], row["best_ask"], row["end_ts"]
        out.append(
            {
                "dt": row["dt"],
                "market_id": row["market_id"],
                "ts": ts,
                "p_yes": p,
                "ret_1h": None if hour_ago is None else p - hour_ago["p_yes"],
                "ret_1d": None if day_ago is None else p - day_ago["p_yes"],
                "vol_24h": statistics.stdev(steps) if len(window) >= 3 else None,
                "volume_velocity": None if day_ago is None else _relative(volume, day_ago["volume_usd"]),
                "oi_change": None
                if day_ago is None
                else _relative(row["open_interest_usd"], day_ago["open_interest_usd"]),
                "tte_hours": None if end is None else max((end - ts).total_seconds() / 3600.0, 0.0),
                "liquidity_bucket": bucket,
                "spread": ask - bid if bid is not None and ask is not None and ask >= bid else None,
                "liquidity_usd": row["liquidity_usd"],
            }
        )
    schema: dict[str, Any] = {name: SCHEMA.get(name, pl.Float64) for name in FEATURE_COLUMNS}
    schema["liquidity_bucket"] = pl.String
    return pl.DataFrame(out, schema=schema).sort("dt", "market_id", "ts")


# ------------------------------------------------------------------------------ strategies

maybe_amount = st.none() | st.floats(min_value=0.0, max_value=300_000.0, allow_nan=False)
maybe_price = st.none() | st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def snapshot_rows(draw: st.DrawFn, max_markets: int = 3, max_points: int = 14) -> list[dict[str, Any]]:
    """A few markets with irregular observation times over ~3 days (minute resolution, some exactly 1 h/24 h apart)."""
    rows = []
    for market in draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=max_markets, unique=True)):
        minutes = draw(
            st.lists(
                st.integers(0, 4 * 24 * 60) | st.sampled_from([0, 60, 120, 1440, 1500, 2880]),
                min_size=1,
                max_size=max_points,
                unique=True,
            )
        )
        for minute in minutes:
            ts = T0 + timedelta(minutes=minute)
            end = draw(st.none() | st.integers(-2 * 24 * 60, 8 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m)))
            rows.append(
                snapshot(
                    market,
                    ts,
                    draw(st.floats(min_value=0.0, max_value=1.0, allow_nan=False)),
                    best_bid=draw(maybe_price),
                    best_ask=draw(maybe_price),
                    volume_usd=draw(maybe_amount),
                    open_interest_usd=draw(maybe_amount),
                    liquidity_usd=draw(maybe_amount),
                    end_ts=end,
                )
            )
    return rows


def assert_close(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert_frame_equal(actual, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


# ------------------------------------------------------------------------------ tests


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot_rows())
def test_features_match_slow_reference(rows: list[dict[str, Any]]) -> None:
    expected = reference_features(rows)
    assert_close(build_features(frame(rows), CONFIG), expected)
    # input already in output order takes another path back to it
    assert_close(build_features(frame(rows).sort("dt", "market_id", "ts"), CONFIG), expected)


@settings(max_examples=60, deadline=None)
@given(snapshot_rows(), st.randoms(use_true_random=False))
def test_features_do_not_depend_on_input_order(rows: list[dict[str, Any]], rnd: Any) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert_frame_equal(build_features(frame(shuffled), CONFIG), build_features(frame(rows), CONFIG))


@settings(max_examples=60, deadline=None)
@given(snapshot_rows())
def test_feature_nulls_follow_their_inputs(rows: list[dict[str, Any]]) -> None:
    out = build_features(frame(rows), CONFIG)
    assert out.columns == list(FEATURE_COLUMNS)
    assert out.height == len(rows)
    assert out["liquidity_bucket"].null_count() == 0
    assert out.filter(pl.col("p_yes").is_null()).height == 0
    by_key = {(r["market_id"], r["ts"]): r for r in rows}
    for result in out.iter_rows(named=True):
        source = by_key[(result["market_id"], result["ts"])]
        if source["end_ts"] is None:
            assert result["tte_hours"] is None
        else:
            assert result["tte_hours"] is not None
            assert result["tte_hours"] >= 0.0
        if source["best_bid"] is None or source["best_ask"] is None:
            assert result["spread"] is None
        if result["spread"] is not None:
            assert result["spread"] >= 0.0
        if source["volume_usd"] is None:
            assert result["volume_velocity"] is None
            assert result["liquidity_bucket"] == "LOW"
        if source["open_interest_usd"] is None:
            assert result["oi_change"] is None
        for name in ("ret_1h", "ret_1d"):
            assert result[name] is None or -1.0 <= result[name] <= 1.0
        assert result["vol_24h"] is None or result["vol_24h"] >= 0.0


def test_markets_never_mix() -> None:
    a = [snapshot("a", T0 + i * HOUR, 0.1 * (i % 3)) for i in range(30)]
    b = [snapshot("b", T0 + i * HOUR + timedelta(minutes=1), 0.9) for i in range(30)]
    alone = build_features(frame(a), CONFIG)
    together = build_features(frame(a + b), CONFIG)
    assert_frame_equal(together.filter(pl.col("market_id") == "a"), alone)
    b_out = together.filter(pl.col("market_id") == "b")
    assert b_out["ret_1h"].drop_nulls().to_list() == [0.0] * 29
    assert b_out["vol_24h"].drop_nulls().to_list() == [0.0] * 28


def test_returns_use_last_observation_at_or_before_the_lag() -> None:
    rows = [
        snapshot("m", T0, 0.20),
        snapshot("m", T0 + timedelta(minutes=30), 0.30),
        snapshot("m", T0 + HOUR, 0.50),  # exactly 1 h after T0: looks back to T0
        snapshot("m", T0 + timedelta(minutes=89), 0.55),  # 1 h back is T0+29m: still T0
        snapshot("m", T0 + DAY + timedelta(minutes=30), 0.80),  # 24 h back is T0+30m
    ]
    out = build_features(frame(rows), CONFIG)
    assert out["ret_1h"].to_list() == pytest.approx([None, None, 0.30, 0.35, 0.25], nan_ok=False)
    assert out["ret_1d"].to_list()[:4] == [None, None, None, None]
    assert out["ret_1d"][4] == pytest.approx(0.50)


def test_vol_24h_uses_steps_inside_the_window_only() -> None:
    prices = [0.10, 0.90, 0.50, 0.60, 0.40]
    rows = [snapshot("m", T0 + i * 6 * HOUR, p) for i, p in enumerate(prices)]
    out = build_features(frame(rows), CONFIG)
    vol = out["vol_24h"].to_list()
    assert vol[:2] == [None, None]  # fewer than 3 points
    assert vol[2] == pytest.approx(statistics.stdev([0.8, -0.4]))
    assert vol[3] == pytest.approx(statistics.stdev([0.8, -0.4, 0.1]))
    # at T0 + 24 h the point at T0 is exactly 24 h old: outside (ts - 24 h, ts], its step too
    assert vol[4] == pytest.approx(statistics.stdev([-0.4, 0.1, -0.2]))


def test_vol_24h_min_points_is_configurable() -> None:
    rows = [snapshot("m", T0 + i * HOUR, 0.1 * i) for i in range(4)]
    out = build_features(frame(rows), FeatureConfig(liquidity=CONFIG.liquidity, vol_min_points=4))
    assert out["vol_24h"].to_list()[:3] == [None, None, None]
    assert out["vol_24h"][3] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="vol_min_points"):
        FeatureConfig(liquidity=CONFIG.liquidity, vol_min_points=2)


def test_volume_velocity_and_oi_change() -> None:
    rows = [
        snapshot("m", T0, 0.5, volume_usd=0.0, open_interest_usd=200.0),
        snapshot("m", T0 + DAY, 0.5, volume_usd=50.0, open_interest_usd=300.0),
        snapshot("m", T0 + 2 * DAY, 0.5, volume_usd=None, open_interest_usd=float("nan")),
        snapshot("m", T0 + 3 * DAY, 0.5, volume_usd=20_000.0, open_interest_usd=150.0),
    ]
    out = build_features(frame(rows), CONFIG)
    assert out["volume_velocity"].to_list() == [None, 50.0, None, None]  # 0 USD floored at 1 USD
    assert out["oi_change"].to_list() == [None, 0.5, None, None]  # NaN is missing
    assert out["liquidity_bucket"].to_list() == ["LOW", "LOW", "LOW", "MID"]


def test_tte_spread_and_passthrough() -> None:
    rows = [
        snapshot("m", T0, 0.5, best_bid=0.40, best_ask=0.45, end_ts=T0 + timedelta(minutes=90), liquidity_usd=7.0),
        snapshot("m", T0 + HOUR, 0.5, best_bid=0.45, best_ask=0.40, end_ts=T0 - HOUR),
        snapshot("m", T0 + 2 * HOUR, 0.5, best_bid=None, best_ask=0.40, liquidity_usd=float("nan")),
    ]
    out = build_features(frame(rows), CONFIG)
    assert out["tte_hours"].to_list() == [1.5, 0.0, None]
    assert out["spread"].to_list() == pytest.approx([0.05, None, None])
    assert out["liquidity_usd"].to_list() == [7.0, None, None]


def test_output_sorted_by_dt_market_ts_and_typed() -> None:
    rows = [
        snapshot("b", T0 + DAY, 0.5),
        snapshot("a", T0 + DAY + HOUR, 0.5),
        snapshot("b", T0, 0.5),
        snapshot("a", T0 + HOUR, 0.5),
    ]
    out = build_features(frame(rows), CONFIG)
    assert out.select("dt", "market_id").rows() == [
        (date(2026, 3, 1), "a"),
        (date(2026, 3, 1), "b"),
        (date(2026, 3, 2), "a"),
        (date(2026, 3, 2), "b"),
    ]
    assert out.schema["ts"] == pl.Datetime("us", "UTC")
    assert out.schema["liquidity_bucket"] == pl.String
    assert all(out.schema[c] == pl.Float64 for c in ("ret_1h", "ret_1d", "vol_24h", "tte_hours", "spread"))


def test_markets_split_into_pieces_give_the_same_features(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide time spans are processed a few markets at a time; the split must not change a value."""
    rows = [
        snapshot(m, T0 + i * HOUR + timedelta(minutes=7 * k), (i * (k + 3) % 10) / 10, volume_usd=float(i * k))
        for k, m in enumerate("abcde")
        for i in range(60)
    ]
    whole = build_features(frame(rows), CONFIG)
    span_us = int((max(r["ts"] for r in rows) - T0).total_seconds() * 1e6)
    stride = span_us + int(DAY.total_seconds() * 1e6) + 1
    monkeypatch.setattr(features, "_MAX_KEY", 2 * stride + 1)  # two markets per piece: pieces ab, cd, e
    assert_frame_equal(build_features(frame(rows), CONFIG), whole)
    monkeypatch.setattr(features, "_MAX_KEY", stride)
    with pytest.raises(ValueError, match="span"):
        build_features(frame(rows), CONFIG)


def test_naive_timestamps_are_utc() -> None:
    rows = [snapshot("m", T0 + i * HOUR, 0.1 * i) for i in range(3)]
    naive = frame(rows).with_columns(pl.col("ts").dt.replace_time_zone(None))
    assert_frame_equal(build_features(naive, CONFIG), build_features(frame(rows), CONFIG))


def test_empty_input_gives_empty_typed_output() -> None:
    out = build_features(frame([]), CONFIG)
    assert out.height == 0
    assert out.columns == list(FEATURE_COLUMNS)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([snapshot("m", T0, 0.5), snapshot("m", T0, 0.6)], "two snapshots of market 'm'"),
        ([snapshot("m", T0, 1.5)], "p_yes in \\[0, 1\\]"),
        ([snapshot("m", T0, math.nan)], "p_yes in \\[0, 1\\]"),
    ],
)
def test_bad_snapshots_are_refused(rows: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_features(frame(rows), CONFIG)


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="end_ts"):
        build_features(frame([snapshot("m", T0, 0.5)]).drop("end_ts"), CONFIG)
