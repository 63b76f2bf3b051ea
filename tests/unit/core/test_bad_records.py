"""Bad upstream records become Rejections with a reason; batches carry on and count correctly."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from mca_core.normalize import (
    normalize_book,
    normalize_clob_market,
    normalize_gamma_event,
    normalize_gamma_events,
    normalize_gamma_market,
    normalize_gamma_markets,
    normalize_price_history,
    normalize_price_history_batch,
)
from mca_core.records import Book, ClobMarket, Market, Rejection

TOKEN_A = "60590045489347122735554346200880179420435533609307820342798544098823516727807"
TOKEN_B = "76005700027045000587004110133818166617024719626220722682005164003117993034812"


def good_market(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "559657",
        "conditionId": "0xc8f1cf5d4f26e0fd9c8fe89f2a7b3263b902cf14fde7bfccef525753bb492e47",
        "question": "Will it happen?",
        "outcomes": '["Yes", "No"]',
        "outcomePrices": '["0.0105", "0.9895"]',
        "clobTokenIds": json.dumps([TOKEN_A, TOKEN_B]),
        "volume": "12232699.615479222",
        "endDate": "2028-11-07T00:00:00Z",
        "active": True,
        "closed": False,
    }
    raw.update(overrides)
    return raw


def rejected(raw: Any) -> Rejection:
    result = normalize_gamma_market(raw)
    assert isinstance(result, Rejection), f"expected a rejection, got {result!r}"
    assert result.source == "gamma.market"
    return result


def test_good_market_baseline_parses() -> None:
    m = normalize_gamma_market(good_market())
    assert isinstance(m, Market)
    assert m.volume_usd == 12232699.615479222  # string volume used when volumeNum is absent


def test_arrays_already_decoded_are_tolerated() -> None:
    m = normalize_gamma_market(
        good_market(outcomes=["Yes", "No"], outcomePrices=[0.25, "0.75"], clobTokenIds=[TOKEN_A, int(TOKEN_B)])
    )
    assert isinstance(m, Market)
    assert m.outcome_prices == [0.25, 0.75]
    assert m.no_token_id == TOKEN_B  # int converted exactly, kept as string


@pytest.mark.parametrize(
    ("overrides", "reason_part"),
    [
        ({"id": None}, "missing required field 'id'"),
        ({"id": ""}, "missing required field 'id'"),
        ({"conditionId": None}, "missing required field 'conditionId'"),
        ({"id": {"nested": 1}}, "field 'id': expected string id, got dict"),
        ({"id": 5.0}, "field 'id': expected string id, got float"),
        ({"active": "yes"}, "field 'active': expected bool, got str"),
        ({"question": 42}, "field 'question': expected string, got int"),
        ({"outcomePrices": '["NaN", "0.5"]'}, "non-finite"),
        ({"outcomePrices": '["1.5", "-0.5"]'}, "outside [0, 1]"),
        ({"outcomePrices": '["0.5"]'}, "outcomePrices has 1 entries but outcomes has 2"),
        ({"clobTokenIds": json.dumps([TOKEN_A])}, "clobTokenIds has 1 entries but outcomes has 2"),
        ({"clobTokenIds": "[1.5e76, 2.5e76]"}, "token id must be a decimal string"),
        ({"clobTokenIds": '["0xabc", "12"]'}, "token id must be a decimal string"),
        ({"outcomes": '["Yes", "No"'}, "invalid JSON-in-string"),
        ({"outcomes": '{"a": 1}'}, "expected array, got dict"),
        ({"outcomes": "[1, 2]"}, "expected strings, got int"),
        ({"volumeNum": math.nan}, "non-finite"),
        ({"volumeNum": math.inf}, "non-finite"),
        ({"volume": "lots"}, "field 'volume': not a number"),
        ({"volume": "-5"}, "negative value"),
        ({"liquidity": True}, "expected number, got bool"),
        ({"bestBid": 1.2}, "field 'bestBid': price 1.2 outside [0, 1]"),
        ({"endDate": "yesterday"}, "field 'endDate': unparseable timestamp: 'yesterday'"),
        ({"closedTime": "2026-13-40 23:20:15+00"}, "field 'closedTime': unparseable timestamp"),
        ({"events": {"id": "1"}}, "field 'events': expected array"),
    ],
)
def test_bad_market_field_is_rejected_with_reason(overrides: dict[str, Any], reason_part: str) -> None:
    rejection = rejected(good_market(**overrides))
    assert reason_part in rejection.reason
    assert rejection.raw_excerpt


def test_rejection_keeps_record_id_and_a_bounded_excerpt() -> None:
    rejection = rejected(good_market(outcomePrices='["2", "0"]', description="x" * 5000))
    assert rejection.record_id == "559657"
    assert len(rejection.raw_excerpt) <= 303
    assert rejection.raw_excerpt.startswith('{"id":"559657"')


def test_non_object_market_is_rejected() -> None:
    assert "expected a JSON object, got list" in rejected([1, 2]).reason


def test_market_batch_continues_past_bad_records_and_counts() -> None:
    page: list[Any] = [
        good_market(id="1"),
        good_market(id="2", outcomePrices='["NaN", "0.5"]'),
        good_market(id="3"),
        good_market(id=None),
        "not an object",
        good_market(id="6", endDate="not a date"),
    ]
    batch = normalize_gamma_markets(page)
    assert [m.market_id for m in batch.records] == ["1", "3"]
    assert len(batch.rejections) == 4
    assert [r.record_id for r in batch.rejections] == [
        "2",
        "0xc8f1cf5d4f26e0fd9c8fe89f2a7b3263b902cf14fde7bfccef525753bb492e47",
        None,
        "6",
    ]
    assert len(batch.records) + len(batch.rejections) == len(page)


def test_keyset_page_object_is_unwrapped() -> None:
    batch = normalize_gamma_markets({"markets": [good_market(id="7")], "next_cursor": "abc"})
    assert [m.market_id for m in batch.records] == ["7"]


def test_event_keeps_valid_markets_and_reports_bad_nested_ones() -> None:
    raw = {
        "id": "30829",
        "volume": 10.5,
        "markets": [good_market(id="1"), good_market(id="2", bestAsk=7), good_market(id="3")],
    }
    event, rejections = normalize_gamma_event(raw)
    assert event is not None
    assert [m.market_id for m in event.markets] == ["1", "3"]
    assert event.market_ids == ["1", "2", "3"]  # membership includes the rejected market
    assert len(rejections) == 1
    assert rejections[0].record_id == "2"
    assert "bestAsk" in rejections[0].reason


def test_event_without_id_or_with_bad_fields_is_rejected() -> None:
    event, rejections = normalize_gamma_event({"title": "no id", "markets": []})
    assert event is None
    assert [r.reason for r in rejections] == ["missing required field 'id'"]
    event, rejections = normalize_gamma_event({"id": "9", "volume": "NaN"})
    assert event is None
    assert rejections[0].source == "gamma.event"
    assert "non-finite" in rejections[0].reason


def test_event_batch_counts_event_and_nested_rejections() -> None:
    page: list[Any] = [
        {"id": "1", "markets": [good_market(id="10"), good_market(id="11", outcomes="[")]},
        {"id": "2", "markets": "not a list"},
        {"id": "3", "markets": [good_market(id="30")]},
    ]
    batch = normalize_gamma_events(page)
    assert [e.event_id for e in batch.records] == ["1", "3"]
    assert [r.record_id for r in batch.rejections] == ["11", "2"]


# ---------------------------------------------------------------------------------------- CLOB


def good_book(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "market": "0x9d83",
        "asset_id": TOKEN_A,
        "timestamp": "1785734468581",
        "hash": "d7df883ae546b09533a4f485bfae0810da1af04e",
        "bids": [{"price": "0.4", "size": "10"}],
        "asks": [{"price": "0.6", "size": "10"}],
    }
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    ("overrides", "reason_part"),
    [
        ({"bids": [{"price": "1.5", "size": "1"}]}, "field 'bids'[0].price: price 1.5 outside [0, 1]"),
        ({"asks": [{"price": "nan", "size": "1"}]}, "non-finite"),
        ({"asks": [{"price": "0.5", "size": "-1"}]}, "negative size"),
        ({"bids": [["0.5", "1"]]}, "expected object, got list"),
        ({"timestamp": None}, "missing required field 'timestamp'"),
        ({"timestamp": "soon"}, "unparseable timestamp"),
        ({"asset_id": 1.0e76}, "expected string id, got float"),
        ({"asset_id": "abc"}, "token id must be a decimal string"),
        ({"last_trade_price": "2"}, "outside [0, 1]"),
    ],
)
def test_bad_book_is_rejected_with_reason(overrides: dict[str, Any], reason_part: str) -> None:
    assert isinstance(normalize_book(good_book()), Book)
    result = normalize_book(good_book(**overrides))
    assert isinstance(result, Rejection)
    assert result.source == "clob.book"
    assert reason_part in result.reason


def test_bad_clob_market_is_rejected_with_reason() -> None:
    base: dict[str, Any] = {
        "condition_id": "0x8ccc",
        "tokens": [{"token_id": TOKEN_A, "outcome": "Yes", "price": 0.2, "winner": False}],
    }
    assert isinstance(normalize_clob_market(base), ClobMarket)
    bad_price = normalize_clob_market({**base, "tokens": [{"token_id": TOKEN_A, "outcome": "Yes", "price": 2}]})
    assert isinstance(bad_price, Rejection)
    assert "price 2.0 outside [0, 1]" in bad_price.reason
    no_id = normalize_clob_market({"tokens": []})
    assert isinstance(no_id, Rejection)
    assert no_id.reason == "missing required field 'condition_id'"


def test_price_history_drops_bad_points_sorts_and_dedupes() -> None:
    raw = {
        "history": [
            {"t": 1697875300, "p": 0.55},
            {"t": 1697875200, "p": 0.52},
            {"t": 1697875400, "p": 1.5},
            {"t": 1697875500, "p": math.nan},
            {"t": 1697875600, "p": "abc"},
            {"p": 0.5},
            {"t": "garbage", "p": 0.5},
            {"t": 1697875300, "p": 0.56},
            "not a point",
        ]
    }
    batch = normalize_price_history_batch(raw, token_id=TOKEN_A)
    assert [(p.ts, p.p) for p in batch.records] == [
        (datetime(2023, 10, 21, 8, 0, tzinfo=UTC), 0.52),
        (datetime(2023, 10, 21, 8, 1, 40, tzinfo=UTC), 0.56),  # duplicate t: last one wins
    ]
    assert len(batch.rejections) == 6
    assert {r.record_id for r in batch.rejections} == {TOKEN_A}
    assert {r.source for r in batch.rejections} == {"clob.prices_history"}
    assert normalize_price_history(raw) == batch.records


def test_price_history_without_history_key_is_one_rejection() -> None:
    batch = normalize_price_history_batch({"error": "bad market"})
    assert batch.records == []
    assert [r.reason for r in batch.rejections] == ["missing field 'history'"]
    assert normalize_price_history({"history": []}) == []
