"""Segment expressions: bucket edges, missing values, and the category fallback chain."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mca_core.segments import (
    LIQUIDITY_BUCKETS,
    TTE_BUCKETS,
    UNCATEGORIZED,
    VOLUME_BUCKETS,
    LiquidityEdges,
    category_expr,
    liquidity_bucket,
    slug_expr,
    tte_bucket,
    volume_bucket,
)
from mca_resources.settings import Settings

EDGES = Settings().liquidity_edges()


def buckets(expr: pl.Expr, values: list[float | None]) -> list[str | None]:
    return pl.DataFrame({"x": values}, schema={"x": pl.Float64}).select(expr).to_series().to_list()


@pytest.mark.parametrize(
    ("volume", "bucket"),
    [
        (None, "LOW"),
        (math.nan, "LOW"),
        (0.0, "LOW"),
        (9_999.99, "LOW"),
        (10_000.0, "MID"),
        (99_999.99, "MID"),
        (100_000.0, "HIGH"),
        (12_232_699.6, "HIGH"),
    ],
)
def test_liquidity_bucket_edges_and_missing_volume(volume: float | None, bucket: str) -> None:
    assert buckets(liquidity_bucket("x", EDGES), [volume]) == [bucket]


def test_liquidity_thresholds_are_parameters() -> None:
    assert buckets(liquidity_bucket(pl.col("x"), LiquidityEdges(5.0, 50.0)), [4.0, 5.0, 49.0, 50.0]) == [
        "LOW",
        "MID",
        "MID",
        "HIGH",
    ]
    with pytest.raises(ValueError, match="low <= high"):
        LiquidityEdges(100.0, 10.0)


def test_volume_bucket_edges() -> None:
    values = [None, 0.0, 999.0, 1_000.0, 9_999.0, 10_000.0, 99_999.0, 100_000.0, 999_999.0, 1_000_000.0]
    assert buckets(volume_bucket("x"), values) == [
        "<1k",
        "<1k",
        "<1k",
        "1k-10k",
        "1k-10k",
        "10k-100k",
        "10k-100k",
        "100k-1m",
        "100k-1m",
        ">=1m",
    ]


def test_tte_bucket_edges_negative_and_null() -> None:
    values = [None, math.nan, -3_600.0, 0.0, 86_399.0, 86_400.0, 604_799.0, 604_800.0, 2_591_999.0, 2_592_000.0]
    assert buckets(tte_bucket("x"), values) == [
        None,
        None,
        "<1d",
        "<1d",
        "<1d",
        "1d-1w",
        "1d-1w",
        "1w-1m",
        "1w-1m",
        ">1m",
    ]


@given(st.lists(st.none() | st.floats(allow_nan=True, allow_infinity=True), max_size=30))
def test_buckets_stay_in_vocabulary_and_grow_with_the_value(values: list[float | None]) -> None:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    out = frame.select(liquidity_bucket("x", EDGES), volume_bucket("x"), tte_bucket("x"))
    assert set(out["liquidity_bucket"].to_list()) <= set(LIQUIDITY_BUCKETS)
    assert set(out["volume_bucket"].to_list()) <= set(VOLUME_BUCKETS)
    assert set(out["tte_bucket"].drop_nulls().to_list()) <= set(TTE_BUCKETS)
    known = [
        (v, b) for v, b in zip(values, out["liquidity_bucket"], strict=True) if v is not None and not math.isnan(v)
    ]
    ranked = sorted((v, LIQUIDITY_BUCKETS.index(b)) for v, b in known)
    assert [rank for _, rank in ranked] == sorted(rank for _, rank in ranked)


def test_bucket_expressions_work_in_group_by() -> None:
    frame = pl.DataFrame({"volume": [5.0, 20_000.0, None, 2e5]})
    counts = frame.group_by(liquidity_bucket("volume", EDGES)).len().sort("liquidity_bucket")
    assert counts.rows() == [("HIGH", 1), ("LOW", 2), ("MID", 1)]


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("US-current-affairs", "us-current-affairs"),
        ("Crypto", "crypto"),
        ("World Elections", "world-elections"),
        ("  Science & Tech  ", "science-tech"),
        ("Économie", "économie"),
        ("--", None),
        ("", None),
        (None, None),
    ],
)
def test_slug_expr(text: str | None, slug: str | None) -> None:
    assert pl.DataFrame({"t": [text]}, schema={"t": pl.String}).select(slug_expr("t")).item() == slug


def test_category_falls_back_from_category_to_market_tag_to_event_tag() -> None:
    frame = pl.DataFrame(
        {
            "category": ["US-current-affairs", None, "  ", None, None, "Crypto"],
            "market_tags": [["Politics"], ["World Elections", "Politics"], None, ["--", "Pop Culture"], [], []],
            "event_tags": [None, ["Sports"], ["Global Elections"], None, [], ["Sports"]],
        },
        schema={"category": pl.String, "market_tags": pl.List(pl.String), "event_tags": pl.List(pl.String)},
    )
    out = frame.select(category_expr("category", "market_tags", pl.col("event_tags"))).to_series().to_list()
    assert out == ["us-current-affairs", "world-elections", "global-elections", "pop-culture", UNCATEGORIZED, "crypto"]


def test_category_never_null_even_with_untyped_null_columns() -> None:
    frame = pl.DataFrame({"c": [None], "m": [None], "e": [None]})
    assert frame.select(category_expr("c", "m", "e")).item() == UNCATEGORIZED
