"""parse_ts reads every upstream date format into aware UTC and refuses garbage loudly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mca_core.timeparse import ms_to_utc, parse_ts, to_epoch_ms

KATANA_CLOSE = datetime(2026, 3, 19, 23, 20, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-19 23:20:15+00", KATANA_CLOSE),
        ("2024-03-07 20:44:01.258+00", datetime(2024, 3, 7, 20, 44, 1, 258000, tzinfo=UTC)),
        ("2024-03-07 20:44:01.123456+00", datetime(2024, 3, 7, 20, 44, 1, 123456, tzinfo=UTC)),
        ("2026-03-19T23:20:15Z", KATANA_CLOSE),
        ("2026-03-19T23:20:15+00:00", KATANA_CLOSE),
        ("2026-03-20T01:20:15+02:00", KATANA_CLOSE),
        ("2026-03-19T18:20:15-0500", KATANA_CLOSE),
        ("2026-03-19T23:20:15", KATANA_CLOSE),  # no offset: Polymarket times are UTC
        ("2025-07-11T18:36:02.893Z", datetime(2025, 7, 11, 18, 36, 2, 893000, tzinfo=UTC)),
        ("2026-03-11T09:29:01.328428Z", datetime(2026, 3, 11, 9, 29, 1, 328428, tzinfo=UTC)),
        ("2026-03-11T09:29:01.3284289Z", datetime(2026, 3, 11, 9, 29, 1, 328428, tzinfo=UTC)),
        ("2026-03-11T09:29:01.1Z", datetime(2026, 3, 11, 9, 29, 1, 100000, tzinfo=UTC)),
        ("2028-11-07", datetime(2028, 11, 7, tzinfo=UTC)),
        ("1790658661234", datetime(2026, 9, 29, 5, 11, 1, 234000, tzinfo=UTC)),
        ("1729000180", datetime(2024, 10, 15, 13, 49, 40, tzinfo=UTC)),
        (1697875200, datetime(2023, 10, 21, 8, 0, tzinfo=UTC)),
        (1697875200.5, datetime(2023, 10, 21, 8, 0, 0, 500000, tzinfo=UTC)),
        (1790658661234, datetime(2026, 9, 29, 5, 11, 1, 234000, tzinfo=UTC)),
        (b"2028-11-07", datetime(2028, 11, 7, tzinfo=UTC)),
        ("  2028-11-07  ", datetime(2028, 11, 7, tzinfo=UTC)),
    ],
)
def test_known_formats_parse_to_utc(text: str | int | float | bytes, expected: datetime) -> None:
    parsed = parse_ts(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_absent_values_are_none(empty: str | None) -> None:
    assert parse_ts(empty) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "yesterday",
        "2026-02-30",
        "2026-13-01T00:00:00Z",
        "2026-03-19T25:00:00Z",
        "2026-03-19T23:20:15+25:00",
        "2026/03/19",
        "-1729000180",
        "1e12",
        "NaN",
        True,
        float("nan"),
        float("inf"),
        -5,
        10**30,
    ],
)
def test_garbage_raises_value_error_naming_the_text(garbage: object) -> None:
    with pytest.raises(ValueError, match="unparseable timestamp") as info:
        parse_ts(garbage)  # type: ignore[arg-type]
    assert repr(garbage)[:20] in str(info.value)


def test_datetimes_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    assert parse_ts(datetime(2026, 3, 20, 0, 20, 15, tzinfo=cet)) == KATANA_CLOSE
    naive = parse_ts(datetime(2026, 3, 19, 23, 20, 15))
    assert naive == KATANA_CLOSE
    assert naive is not None
    assert naive.tzinfo is UTC


def test_ms_helpers_are_exact() -> None:
    ts = ms_to_utc("1790658661234")
    assert ts.microsecond == 234000
    assert to_epoch_ms(ts) == 1790658661234
    with pytest.raises(ValueError, match="unparseable"):
        ms_to_utc("12a")


# ------------------------------------------------------------------------------ round trips

aware_utc = st.datetimes(min_value=datetime(1975, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(aware_utc)
def test_round_trip_rfc3339_z_with_microseconds(dt: datetime) -> None:
    assert parse_ts(dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == dt


@given(aware_utc, st.integers(min_value=0, max_value=6))
def test_round_trip_rfc3339_z_with_0_to_6_fraction_digits(dt: datetime, digits: int) -> None:
    fraction = f"{dt.microsecond:06d}"[:digits]
    text = dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + "Z"
    kept = int((fraction + "000000")[:6])
    assert parse_ts(text) == dt.replace(microsecond=kept)


@given(aware_utc, st.text(alphabet="0123456789", min_size=1, max_size=6))
def test_more_than_six_fraction_digits_truncate(dt: datetime, extra: str) -> None:
    text = dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + extra + "Z"
    assert parse_ts(text) == dt


@given(aware_utc, offsets)
def test_round_trip_isoformat_with_any_offset(dt: datetime, tz: timezone) -> None:
    assert parse_ts(dt.isoformat()) == dt  # "+00:00"
    assert parse_ts(dt.astimezone(tz).isoformat()) == dt


@given(aware_utc, st.booleans())
def test_round_trip_postgres_style(dt: datetime, with_fraction: bool) -> None:
    fraction = f".{dt.microsecond:06d}" if with_fraction else ""
    text = dt.strftime("%Y-%m-%d %H:%M:%S") + fraction + "+00"
    assert parse_ts(text) == (dt if with_fraction else dt.replace(microsecond=0))


@given(aware_utc)
def test_round_trip_date_only_is_midnight_utc(dt: datetime) -> None:
    assert parse_ts(dt.date().isoformat()) == dt.replace(hour=0, minute=0, second=0, microsecond=0)


@given(aware_utc)
def test_round_trip_unix_seconds_int_and_string(dt: datetime) -> None:
    whole = dt.replace(microsecond=0)
    seconds = int(whole.timestamp())
    assert parse_ts(seconds) == whole
    assert parse_ts(str(seconds)) == whole


@given(aware_utc)
def test_round_trip_unix_ms_string(dt: datetime) -> None:
    ms = to_epoch_ms(dt)
    assert parse_ts(str(ms)) == dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    assert ms_to_utc(str(ms)) == parse_ts(str(ms))


@given(st.text(max_size=30))
def test_arbitrary_text_never_escapes_except_as_value_error(text: str) -> None:
    outcome: datetime | str | None
    try:
        outcome = parse_ts(text)
    except ValueError as exc:
        outcome = str(exc)
    if isinstance(outcome, str):
        assert outcome.startswith("unparseable timestamp")
    else:
        assert outcome is None or outcome.tzinfo is UTC
