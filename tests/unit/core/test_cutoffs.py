"""cutoff_snapshots: the forecast at each horizon is the last price at or before the cutoff, never later."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from mca_core.cutoffs import (
    CUTOFF_COLUMNS,
    DROP_REASONS,
    DROPPED_COLUMNS,
    HORIZONS,
    CutoffResult,
    cutoff_snapshots,
)
from mca_resources.settings import Settings

RESOLVED = datetime(2026, 3, 19, 23, 20, 15, tzinfo=UTC)
COHORT = RESOLVED.date()
RESOLUTION_SCHEMA: dict[str, Any] = {
    "dt": pl.Date,
    "market_id": pl.String,
    "event_id": pl.String,
    "resolved_ts": pl.Datetime("us", "UTC"),
    "label": pl.String,
    "y": pl.Int8,
}
PRICE_SCHEMA: dict[str, Any] = {"market_id": pl.String, "ts": pl.Datetime("us", "UTC"), "p": pl.Float64}
Y_OF = {"RESOLVED_TRUE": 1, "RESOLVED_FALSE": 0}

#: the documented default limits (configuration in the graph)
MAX_STALENESS = Settings().max_staleness()


def resolution(market_id: str, label: str | None = "RESOLVED_TRUE", resolved_ts: datetime = RESOLVED) -> dict[str, Any]:
    return {
        "dt": resolved_ts.date(),
        "market_id": market_id,
        "event_id": f"event-{market_id}",
        "resolved_ts": resolved_ts,
        "label": label,
        "y": Y_OF.get(label or ""),
    }


def run(resolutions: list[dict[str, Any]], prices: list[tuple[str, datetime, float]], **kwargs: Any) -> CutoffResult:
    kwargs.setdefault("max_staleness", MAX_STALENESS)
    return cutoff_snapshots(
        pl.DataFrame(resolutions, schema=RESOLUTION_SCHEMA),
        pl.DataFrame(prices, schema=PRICE_SCHEMA, orient="row"),
        **kwargs,
    )


def hourly(market_id: str, hours_before: range, p: float = 0.5) -> list[tuple[str, datetime, float]]:
    return [(market_id, RESOLVED - timedelta(hours=h), p) for h in hours_before]


# ----------------------------------------------------------------------- slow reference


def reference(
    resolutions: list[dict[str, Any]],
    prices: list[tuple[str, datetime, float]],
    horizons: dict[str, int] = HORIZONS,
    max_staleness: dict[str, int] = MAX_STALENESS,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The documented rule, one market and horizon at a time."""
    rows, dropped = [], []
    order = {name: i for i, name in enumerate(horizons)}
    for res in resolutions:
        if res["label"] not in Y_OF:
            continue
        for horizon, seconds in horizons.items():
            cutoff = res["resolved_ts"] - timedelta(seconds=seconds)
            before = [(ts, p) for m, ts, p in prices if m == res["market_id"] and ts <= cutoff]
            key = (res["dt"], res["market_id"], order[horizon])
            if not before:
                dropped.append((key, res["dt"], res["market_id"], horizon, "no_price_before_cutoff"))
                continue
            snapshot_ts, p = max(before)
            staleness = (cutoff - snapshot_ts).total_seconds()
            if staleness > max_staleness[horizon]:
                dropped.append((key, res["dt"], res["market_id"], horizon, "too_stale"))
                continue
            rows.append(
                (
                    key,
                    res["dt"],
                    res["market_id"],
                    res["event_id"],
                    horizon,
                    cutoff,
                    snapshot_ts,
                    p,
                    staleness,
                    res["y"],
                )
            )
    rows.sort(key=lambda r: r[0])
    dropped.sort(key=lambda r: r[0])
    cutoff_schema: dict[str, Any] = dict(
        zip(
            CUTOFF_COLUMNS,
            [
                pl.Date,
                pl.String,
                pl.String,
                pl.String,
                pl.Datetime("us", "UTC"),
                pl.Datetime("us", "UTC"),
                pl.Float64,
                pl.Float64,
                pl.Int8,
            ],
            strict=True,
        )
    )
    dropped_schema: dict[str, Any] = {"dt": pl.Date, "market_id": pl.String, "horizon": pl.String, "reason": pl.String}
    return (
        pl.DataFrame([r[1:] for r in rows], schema=cutoff_schema, orient="row"),
        pl.DataFrame([d[1:] for d in dropped], schema=dropped_schema, orient="row"),
    )


# ----------------------------------------------------------------------- strategies

HORIZON_SECONDS = sorted(set(HORIZONS.values()) | {s + v for s in HORIZONS.values() for v in MAX_STALENESS.values()})


@st.composite
def cohorts(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[str, datetime, float]]]:
    """A few markets of mixed labels, each with prices before, exactly at and after its cutoffs."""
    resolutions, prices = [], []
    for market_id in draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=4, unique=True)):
        resolved = RESOLVED + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)))
        label = draw(st.sampled_from([*Y_OF, "VOID", "UNRESOLVED", None]))
        resolutions.append(resolution(market_id, label, resolved))
        # seconds before resolution: random, or exactly at a cutoff / a staleness limit
        offsets = draw(
            st.lists(
                st.integers(-2 * 86_400, 40 * 86_400) | st.sampled_from(HORIZON_SECONDS),
                max_size=25,
                unique=True,
            )
        )
        for offset in offsets:
            prices.append((market_id, resolved - timedelta(seconds=offset), draw(st.floats(0.0, 1.0))))
    random.Random(len(prices)).shuffle(prices)  # markets interleaved, times unordered
    return resolutions, prices


# ----------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_cutoff_never_reads_after_cutoff(case: tuple[list[dict[str, Any]], list[tuple[str, datetime, float]]]) -> None:
    resolutions, prices = case
    result = run(resolutions, prices)
    resolved_at = {r["market_id"]: r["resolved_ts"] for r in resolutions}
    for row in result.rows.iter_rows(named=True):
        assert row["cutoff_ts"] == resolved_at[row["market_id"]] - timedelta(seconds=HORIZONS[row["horizon"]])
        assert row["snapshot_ts"] <= row["cutoff_ts"]
        later = [ts for m, ts, _ in prices if m == row["market_id"] and row["snapshot_ts"] < ts <= row["cutoff_ts"]]
        assert later == []  # the LAST price at or before the cutoff
        assert (row["market_id"], row["snapshot_ts"], row["p_yes"]) in prices
        assert row["staleness_seconds"] == (row["cutoff_ts"] - row["snapshot_ts"]).total_seconds()
        assert 0.0 <= row["staleness_seconds"] <= MAX_STALENESS[row["horizon"]]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_cutoffs_match_slow_reference(case: tuple[list[dict[str, Any]], list[tuple[str, datetime, float]]]) -> None:
    resolutions, prices = case
    result = run(resolutions, prices)
    expected_rows, expected_dropped = reference(resolutions, prices)
    assert_frame_equal(result.rows, expected_rows)
    assert_frame_equal(result.dropped, expected_dropped)
    scored = sum(1 for r in resolutions if r["label"] in Y_OF)
    assert result.rows.height + result.dropped.height == scored * len(HORIZONS)


# ----------------------------------------------------------------------- examples


def test_every_horizon_from_an_hourly_path() -> None:
    result = run([resolution("m")], hourly("m", range(0, 31 * 24)))
    assert result.rows["horizon"].to_list() == list(HORIZONS)
    assert result.rows["staleness_seconds"].to_list() == [0.0] * 5
    assert result.rows["y"].to_list() == [1] * 5
    assert result.dropped_counts() == {"no_price_before_cutoff": 0, "too_stale": 0}
    assert result.rows.columns == list(CUTOFF_COLUMNS)
    assert result.dropped.columns == list(DROPPED_COLUMNS)


def test_price_exactly_at_cutoff_counts_and_one_microsecond_later_does_not() -> None:
    cutoff = RESOLVED - timedelta(hours=1)
    prices = [
        ("m", cutoff - timedelta(minutes=10), 0.2),
        ("m", cutoff, 0.3),
        ("m", cutoff + timedelta(microseconds=1), 0.9),
    ]
    result = run([resolution("m")], prices, horizons={"1h": 3600}, max_staleness={"1h": 3600})
    assert result.rows.select("snapshot_ts", "p_yes", "staleness_seconds").row(0) == (cutoff, 0.3, 0.0)


def test_staleness_limit_is_inclusive_and_then_drops() -> None:
    cutoff = RESOLVED - timedelta(days=1)
    limit = MAX_STALENESS["1d"]
    at_limit = run([resolution("m")], [("m", cutoff - timedelta(seconds=limit), 0.4)], horizons={"1d": 86400})
    assert at_limit.rows["staleness_seconds"].to_list() == [float(limit)]
    past_limit = run(
        [resolution("m")], [("m", cutoff - timedelta(seconds=limit, microseconds=1), 0.4)], horizons={"1d": 86400}
    )
    assert past_limit.rows.height == 0
    assert past_limit.dropped.rows() == [(COHORT, "m", "1d", "too_stale")]
    assert past_limit.dropped_counts() == {"no_price_before_cutoff": 0, "too_stale": 1}


def test_custom_staleness_limits() -> None:
    prices = hourly("m", range(5, 6))  # one price 5 h before resolution
    loose = run([resolution("m")], prices, max_staleness={**MAX_STALENESS, "1h": 5 * 3600})
    assert loose.rows["horizon"].to_list() == ["1h", "4h"]
    strict = run([resolution("m")], prices)
    assert strict.rows["horizon"].to_list() == ["4h"]
    assert strict.dropped.filter(pl.col("horizon") == "1h")["reason"].to_list() == ["too_stale"]


def test_unresolved_void_and_unlabelled_markets_are_ignored() -> None:
    resolutions = [
        resolution("void", "VOID"),
        resolution("open", "UNRESOLVED"),
        resolution("none", None),
        resolution("no", "RESOLVED_FALSE"),
    ]
    prices = [p for m in ("void", "open", "none", "no") for p in hourly(m, range(0, 800))]
    result = run(resolutions, prices)
    assert set(result.rows["market_id"]) == {"no"}
    assert result.rows["y"].to_list() == [0] * 5
    assert result.dropped.height == 0


def test_markets_interleaved_never_borrow_each_others_prices() -> None:
    prices = hourly("a", range(0, 800), p=0.1) + hourly("b", range(30, 800), p=0.9)
    prices.append(("c", RESOLVED - timedelta(minutes=30), 0.7))  # only after every cutoff
    random.Random(3).shuffle(prices)
    result = run([resolution("c"), resolution("b"), resolution("a")], prices)
    a = result.rows.filter(pl.col("market_id") == "a")
    b = result.rows.filter(pl.col("market_id") == "b")
    assert a["p_yes"].to_list() == [0.1] * 5
    assert b["horizon"].to_list() == ["1d", "1w", "1m"]  # 1d: 30 h back is exactly 6 h stale, the limit
    assert b["p_yes"].to_list() == [0.9] * 3
    assert b["staleness_seconds"].to_list() == [21600.0, 0.0, 0.0]
    assert result.dropped.rows() == [
        (COHORT, "b", "1h", "too_stale"),
        (COHORT, "b", "4h", "too_stale"),
        *[(COHORT, "c", h, "no_price_before_cutoff") for h in HORIZONS],
    ]
    assert result.dropped_counts() == {"no_price_before_cutoff": 5, "too_stale": 2}
    assert result.rows["market_id"].to_list() == ["a"] * 5 + ["b"] * 3  # sorted by dt, market_id, horizon


def test_rows_sorted_by_cohort_then_market_then_horizon() -> None:
    later = RESOLVED + timedelta(days=1)
    resolutions = [resolution("a", resolved_ts=later), resolution("b"), resolution("a")]
    resolutions[0]["dt"] = later.date()
    prices = hourly("a", range(-24, 800)) + hourly("b", range(0, 800))
    rows = run(resolutions, prices).rows
    assert rows.select("dt", "market_id").unique(maintain_order=True).rows() == [
        (COHORT, "a"),
        (COHORT, "b"),
        (date(2026, 3, 20), "a"),
    ]


def test_empty_inputs_give_empty_typed_frames() -> None:
    result = run([], [])
    assert result.rows.columns == list(CUTOFF_COLUMNS)
    assert result.rows.height == 0
    assert result.dropped_counts() == dict.fromkeys(DROP_REASONS, 0)


def test_naive_timestamps_are_utc() -> None:
    prices = hourly("m", range(0, 800))
    aware = run([resolution("m")], prices)
    naive = cutoff_snapshots(
        pl.DataFrame([resolution("m")], schema=RESOLUTION_SCHEMA).with_columns(
            pl.col("resolved_ts").dt.replace_time_zone(None)
        ),
        pl.DataFrame(prices, schema=PRICE_SCHEMA, orient="row").with_columns(pl.col("ts").dt.replace_time_zone(None)),
        MAX_STALENESS,
    )
    assert_frame_equal(naive.rows, aware.rows)


@pytest.mark.parametrize(
    ("resolutions", "prices", "message"),
    [
        ([resolution("m")], [("m", RESOLVED, 0.5), ("m", RESOLVED, 0.6)], "two prices for market 'm'"),
        ([resolution("m")], [("m", RESOLVED, 1.5)], "bad price point for market 'm'"),
        ([{**resolution("m"), "y": 0}], [], "y matching its label"),
        ([{**resolution("m"), "resolved_ts": None}], [], "needs dt, resolved_ts"),
        ([resolution("m"), resolution("m")], [], "appears twice in cohort"),
    ],
)
def test_contract_breaches_are_refused(
    resolutions: list[dict[str, Any]], prices: list[tuple[str, datetime, float]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(resolutions, prices)


def test_bad_horizon_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="no staleness limit"):
        run([], [], horizons={"2h": 7200})
    with pytest.raises(ValueError, match="positive"):
        run([], [], horizons={"1h": 0})
    with pytest.raises(ValueError, match="no horizons"):
        run([], [], horizons={})


def test_prices_of_other_markets_do_not_matter() -> None:
    base = run([resolution("m")], hourly("m", range(0, 800)))
    noisy = run([resolution("m")], [*hourly("m", range(0, 800)), ("x", RESOLVED, 2.0)])  # never read
    assert_frame_equal(base.rows, noisy.rows)
