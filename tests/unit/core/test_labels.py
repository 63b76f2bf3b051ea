"""label_markets: the resolution contract on the real fixtures' cases and on arbitrary markets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mca_core.labels import LABELS, RESOLVED_LABELS, label_markets

KATANA_CLOSED = datetime(2026, 3, 19, 23, 20, 15, tzinfo=UTC)
SCHEMA: dict[str, Any] = {
    "market_id": pl.String,
    "event_id": pl.String,
    "closed": pl.Boolean,
    "outcome_prices": pl.List(pl.Float64),
    "uma_resolution_status": pl.String,
    "closed_ts": pl.Datetime("us", "UTC"),
    "end_ts": pl.Datetime("us", "UTC"),
}


def market(market_id: str = "m", **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "market_id": market_id,
        "event_id": "e",
        "closed": True,
        "outcome_prices": None,
        "uma_resolution_status": None,
        "closed_ts": None,
        "end_ts": None,
    }
    row.update(values)
    return row


def labelled(*rows: dict[str, Any]) -> pl.DataFrame:
    return label_markets(pl.DataFrame(list(rows), schema=SCHEMA))


def label_of(**values: Any) -> str | None:
    out = labelled(market(**values))
    label: str | None = out.item(0, "label")
    return label


# ----------------------------------------------------------------------- real fixture cases


def test_katana_resolved_no_despite_proposed_history() -> None:
    """gamma_market_closed_resolved.json: prices ["0","1"], status resolved, history ["proposed"]."""
    out = labelled(
        market(
            "1460332",
            outcome_prices=[0.0, 1.0],
            uma_resolution_status="resolved",
            closed_ts=KATANA_CLOSED,
            end_ts=datetime(2028, 1, 1, 5, tzinfo=UTC),
        )
    )
    row = out.row(0, named=True)
    assert row["label"] == "RESOLVED_FALSE"
    assert row["y"] == 0
    assert row["resolved_ts"] == KATANA_CLOSED  # closedTime wins over the (later) endDate
    assert row["cohort_dt"] == date(2026, 3, 19)


def test_legacy_zero_zero_is_void() -> None:
    """gamma_market_closed_zero_zero_legacy.json: ["0","0"], no UMA status."""
    out = labelled(
        market(
            "12",
            outcome_prices=[0.0, 0.0],
            closed_ts=datetime(2020, 11, 2, 16, 31, 1, tzinfo=UTC),
            end_ts=datetime(2020, 11, 4, tzinfo=UTC),
        )
    )
    assert out.item(0, "label") == "VOID"
    assert out.item(0, "y") is None
    assert out.item(0, "cohort_dt") == date(2020, 11, 2)


def test_legacy_fractional_scalar_settle_is_unresolved() -> None:
    """gamma_market_closed_nonbinary_legacy.json: Long/Short settled at 0.584/0.416, no UMA status."""
    prices = [0.5843311669077693146635445446077281, 0.4156688330922306853364554553922719]
    assert label_of(outcome_prices=prices, closed_ts=datetime(2021, 1, 2, 21, 45, 52, tzinfo=UTC)) == "UNRESOLVED"


# ----------------------------------------------------------------------- the rule table


@pytest.mark.parametrize(
    ("values", "label"),
    [
        ({"outcome_prices": [1.0, 0.0]}, "RESOLVED_TRUE"),
        ({"outcome_prices": [0.995, 0.005], "uma_resolution_status": "resolved"}, "RESOLVED_TRUE"),
        ({"outcome_prices": [0.0, 1.0]}, "RESOLVED_FALSE"),
        ({"outcome_prices": [0.99, 0.01]}, "UNRESOLVED"),  # the thresholds are strict
        ({"outcome_prices": [0.5, 0.5], "uma_resolution_status": "resolved"}, "VOID"),
        ({"outcome_prices": [0.51, 0.49]}, "VOID"),  # within 0.01 of 0.5, float error absorbed
        ({"outcome_prices": [0.52, 0.48]}, "UNRESOLVED"),
        ({"outcome_prices": [0.0, 0.0]}, "VOID"),
        ({"outcome_prices": [0.0105, 0.9895]}, "UNRESOLVED"),  # still trading when it closed
        ({"outcome_prices": [1.0, 0.0], "uma_resolution_status": "proposed"}, "UNRESOLVED"),
        ({"outcome_prices": [1.0, 0.0], "uma_resolution_status": "Disputed "}, "UNRESOLVED"),
        ({"outcome_prices": [1.0, 0.0], "uma_resolution_status": "RESOLVED"}, "RESOLVED_TRUE"),
        ({"outcome_prices": None, "uma_resolution_status": "resolved"}, "VOID"),
        ({"outcome_prices": None}, "UNRESOLVED"),
        ({"outcome_prices": [], "uma_resolution_status": "resolved"}, "VOID"),
        ({"outcome_prices": [1.0, 0.0, 0.0], "uma_resolution_status": "resolved"}, "VOID"),
        ({"outcome_prices": [1.0, 0.0, 0.0]}, "UNRESOLVED"),
        ({"outcome_prices": [float("nan"), 0.0]}, "UNRESOLVED"),
        ({"outcome_prices": [1.0, None], "uma_resolution_status": "resolved"}, "VOID"),
        ({"outcome_prices": [1.0, 0.0], "closed": False}, None),
        ({"outcome_prices": [1.0, 0.0], "closed": None}, None),
    ],
)
def test_label_rules(values: dict[str, Any], label: str | None) -> None:
    assert label_of(**values) == label


def test_resolution_time_falls_back_to_end_date_and_cohort_is_the_utc_day() -> None:
    late_evening_utc = datetime(2026, 3, 19, 23, 30, tzinfo=UTC)
    out = labelled(
        market("a", outcome_prices=[1.0, 0.0], end_ts=late_evening_utc),
        market("b", outcome_prices=[1.0, 0.0]),
        market("c", outcome_prices=[1.0, 0.0], closed=False, end_ts=late_evening_utc),
    )
    assert out["resolved_ts"].to_list() == [late_evening_utc, None, None]
    assert out["cohort_dt"].to_list() == [date(2026, 3, 19), None, None]


def test_cohort_dt_is_taken_in_utc_for_other_time_zones() -> None:
    tokyo_morning = datetime(2026, 3, 20, 8, 30, tzinfo=timezone(timedelta(hours=9)))  # 23:30 UTC the day before
    frame = pl.DataFrame([market(outcome_prices=[1.0, 0.0], closed_ts=tokyo_morning)], schema=SCHEMA)
    frame = frame.with_columns(pl.col("closed_ts").dt.convert_time_zone("Asia/Tokyo"))
    assert frame.item(0, "closed_ts").day == 20
    assert label_markets(frame).item(0, "cohort_dt") == date(2026, 3, 19)


def test_columns_are_kept_rows_sorted_and_typed() -> None:
    out = labelled(market("b", outcome_prices=[1.0, 0.0]), market("a", outcome_prices=[0.0, 1.0]))
    assert out.columns == [*SCHEMA, "label", "resolved_ts", "cohort_dt", "y"]
    assert out["market_id"].to_list() == ["a", "b"]
    assert out.schema["y"] == pl.Int8
    assert out.schema["label"] == pl.String
    assert out.schema["cohort_dt"] == pl.Date


def test_untyped_null_columns_are_accepted() -> None:
    frame = pl.DataFrame(
        {
            "market_id": ["a"],
            "closed": [True],
            "outcome_prices": [None],
            "uma_resolution_status": [None],
            "closed_ts": [None],
            "end_ts": [None],
        }
    )
    out = label_markets(frame)
    assert out.item(0, "label") == "UNRESOLVED"
    assert out.item(0, "cohort_dt") is None


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="uma_resolution_status"):
        label_markets(pl.DataFrame([market()], schema=SCHEMA).drop("uma_resolution_status"))


# ----------------------------------------------------------------------- properties

price = st.none() | st.floats(min_value=0.0, max_value=1.0) | st.sampled_from([0.0, 1.0, 0.5, 0.005, 0.995])
timestamps = st.none() | st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
markets = st.lists(
    st.fixed_dictionaries(
        {
            "closed": st.none() | st.booleans(),
            "outcome_prices": st.none() | st.lists(price, max_size=3),
            "uma_resolution_status": st.sampled_from([None, "proposed", "disputed", "resolved", "Resolved"]),
            "closed_ts": timestamps,
            "end_ts": timestamps,
        }
    ),
    max_size=25,
)


@given(markets)
def test_label_properties(rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(
        [market(f"m{i:03d}", **row) for i, row in enumerate(rows)],
        schema=SCHEMA,
    )
    out = label_markets(frame)
    assert out.height == frame.height
    closed = out["closed"].fill_null(False)
    # vocabulary; null exactly for markets that are not closed
    assert set(out["label"].drop_nulls().to_list()) <= set(LABELS)
    assert out["label"].is_null().to_list() == (~closed).to_list()
    # y only for RESOLVED_*, and it agrees with the label
    for label, y in out.select("label", "y").iter_rows():
        if label in RESOLVED_LABELS:
            assert y == (1 if label == "RESOLVED_TRUE" else 0)
        else:
            assert y is None
    # resolved_ts present whenever a closed market has either time, and it is closed_ts first
    for row in out.iter_rows(named=True):
        if row["closed"] and (row["closed_ts"] or row["end_ts"]):
            assert row["resolved_ts"] == (row["closed_ts"] or row["end_ts"])
            assert row["cohort_dt"] == row["resolved_ts"].date()
        if not row["closed"]:
            assert row["resolved_ts"] is None
        if row["uma_resolution_status"] in ("proposed", "disputed") and row["closed"]:
            assert row["label"] == "UNRESOLVED"
