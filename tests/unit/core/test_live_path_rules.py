"""`mca_core.live_paths` against a plain-Python reading of its rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_core.live_paths import BAR, LivePathRules, bar_points, captured_markets

NOW = datetime(2026, 12, 7, 12, 2, 30, tzinfo=UTC)
RULES = LivePathRules(window=timedelta(hours=2), min_points=3, fresh_s=600)


def frame(bars: list[tuple[str, datetime, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        bars,
        schema={"market_id": pl.String, "bucket_start": pl.Datetime("us", "UTC"), "close": pl.Float64},
        orient="row",
    )


def reference(bars: list[tuple[str, datetime, float | None]]) -> tuple[list[tuple[str, datetime, float]], list[str]]:
    points = sorted((m, min(b + BAR, NOW), c) for m, b, c in bars if c is not None and b <= NOW)
    chosen = []
    for market in sorted({m for m, _, _ in points}):
        own = [ts for m, ts, _ in points if m == market and ts >= NOW - RULES.window]
        if len(own) >= RULES.min_points and max(own) >= NOW - timedelta(seconds=RULES.fresh_s):
            chosen.append(market)
    return points, chosen


bar_lists = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 40).map(lambda k: datetime(2026, 12, 7, 9, 0, tzinfo=UTC) + k * BAR),
        st.one_of(st.none(), st.floats(0, 1)),
    ),
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=200, deadline=None)
@given(bar_lists)
def test_points_and_coverage_equal_the_reference(bars: list[tuple[str, datetime, float | None]]) -> None:
    points, chosen = reference(bars)
    got = bar_points(frame(bars), NOW)
    assert list(got.iter_rows()) == points
    assert captured_markets(got, NOW, RULES) == chosen


def test_the_open_bucket_is_stamped_now_and_a_stale_capture_is_not_used() -> None:
    open_bucket = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    got = bar_points(frame([("a", open_bucket, 0.4)]), NOW)
    assert got["ts"].to_list() == [NOW]
    stale = [("b", NOW - timedelta(minutes=40) - k * BAR, 0.5) for k in range(5)]
    assert captured_markets(bar_points(frame(stale), NOW), NOW, RULES) == []


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="bad live path rules"):
        LivePathRules(window=timedelta(minutes=1))
