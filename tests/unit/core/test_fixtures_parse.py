"""Every real Polymarket payload in shared/fixtures parses without rejection, to the right values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mca_core.normalize import (
    normalize_book,
    normalize_clob_market,
    normalize_gamma_event,
    normalize_gamma_events,
    normalize_gamma_market,
)
from mca_core.records import (
    Book,
    ClobMarket,
    Market,
    Rejection,
    WsBestBidAsk,
    WsBook,
    WsLastTradePrice,
    WsMarketResolved,
    WsNewMarket,
    WsPriceChange,
    WsTickSizeChange,
)
from mca_core.wsparse import parse_ws_frame

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "polymarket"
PAYLOADS = sorted(p.name for p in FIXTURES.glob("*.json") if not p.name.startswith("shape_"))
RECV = datetime(2026, 8, 1, 12, 0, 0, 123456, tzinfo=UTC)

KATANA_YES = "108872296183993054938831082799825620165440189659433018108548854929333464287226"
KATANA_NO = "89711174926330519158043401581181146613785179104141808554061413232025882707365"


def _text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _load(name: str) -> Any:
    return json.loads(_text(name))


def _normalise(name: str) -> tuple[list[object], list[Rejection]]:
    """Route a fixture to its normaliser by file name; returns (records, rejections)."""
    if name.startswith("ws_"):
        result = parse_ws_frame(_text(name), RECV)
        return list(result.events), result.rejections
    raw = _load(name)
    if name.startswith("gamma_events"):
        batch = normalize_gamma_events(raw)
        return list(batch.records), batch.rejections
    if name.startswith("gamma_market"):
        one: object = normalize_gamma_market(raw)
    elif name.startswith("clob_book"):
        one = normalize_book(raw)
    elif name.startswith("clob_market"):
        one = normalize_clob_market(raw)
    else:
        raise AssertionError(f"no normaliser routed for fixture {name}")
    return ([], [one]) if isinstance(one, Rejection) else ([one], [])


def test_fixture_folder_has_the_payloads_this_suite_expects() -> None:
    assert len(PAYLOADS) >= 18
    assert "gamma_market_closed_resolved.json" in PAYLOADS


@pytest.mark.parametrize("name", PAYLOADS)
def test_every_fixture_payload_parses_without_rejection(name: str) -> None:
    records, rejections = _normalise(name)
    assert rejections == []
    assert records


# --------------------------------------------------------------------------------------- Gamma


def test_katana_closed_market_values() -> None:
    m = normalize_gamma_market(_load("gamma_market_closed_resolved.json"))
    assert isinstance(m, Market)
    assert m.market_id == "1460332"
    assert m.condition_id == "0x8ccc3f4951ff02c1d34b87988752b4444ad17228732780a6cf22afefe8478bb6"
    assert m.closed_ts == datetime(2026, 3, 19, 23, 20, 15, tzinfo=UTC)
    assert m.end_ts == datetime(2028, 1, 1, 5, 0, 0, tzinfo=UTC)
    assert m.start_ts == datetime(2026, 2, 27, 23, 34, 28, 752000, tzinfo=UTC)
    assert m.created_ts == datetime(2026, 2, 27, 22, 22, 35, 377706, tzinfo=UTC)
    assert m.yes_token_id == KATANA_YES
    assert m.no_token_id == KATANA_NO
    assert m.clob_token_ids == [KATANA_YES, KATANA_NO]
    assert m.outcomes == ["Yes", "No"]
    assert m.outcome_prices == [0.0, 1.0]
    assert m.p_yes == 0.0
    assert m.volume_usd is None  # volume/volumeNum omitted upstream
    assert m.liquidity_usd is None
    assert m.best_bid is None
    assert m.best_ask == 0.001
    assert m.last_trade_price == 0.005
    assert m.uma_resolution_status == "resolved"
    assert m.uma_resolution_statuses == ["proposed"]
    assert m.uma_bond == 500.0
    assert m.category is None
    assert m.event_id is None
    assert (m.closed, m.active, m.archived, m.neg_risk, m.accepting_orders) == (True, True, False, False, False)
    assert m.description is not None
    assert m.description.startswith('This market will resolve to "Yes" if the Fully Diluted Valuation of Katana')
    assert m.resolution_source is None  # "" upstream: no named source field


def test_katana_clob_winner_matches_gamma_no_token() -> None:
    gamma = normalize_gamma_market(_load("gamma_market_closed_resolved.json"))
    clob = normalize_clob_market(_load("clob_market_resolved.json"))
    assert isinstance(gamma, Market)
    assert isinstance(clob, ClobMarket)
    assert clob.condition_id == gamma.condition_id
    assert [t.token_id for t in clob.tokens] == gamma.clob_token_ids
    assert clob.winner_token_id == gamma.no_token_id == KATANA_NO
    assert [t.price for t in clob.tokens] == [0.0, 1.0]
    assert clob.is_50_50_outcome is False
    assert clob.end_ts == datetime(2028, 1, 1, tzinfo=UTC)
    assert clob.tags == ["Crypto", "FDV", "Pre-Market", "Katana"]
    assert clob.minimum_tick_size == 0.001


def test_legacy_zero_zero_market_is_valid() -> None:
    m = normalize_gamma_market(_load("gamma_market_closed_zero_zero_legacy.json"))
    assert isinstance(m, Market)
    assert m.outcome_prices == [0.0, 0.0]
    assert m.p_yes == 0.0
    assert m.category == "US-current-affairs"
    assert m.volume_usd == 32257.45  # volumeNum preferred over the string "32257.445115"
    assert m.liquidity_usd == 0.0
    assert m.closed_ts == datetime(2020, 11, 2, 16, 31, 1, tzinfo=UTC)
    assert m.uma_resolution_statuses == []


def test_legacy_nonbinary_scalar_settle_is_valid() -> None:
    m = normalize_gamma_market(_load("gamma_market_closed_nonbinary_legacy.json"))
    assert isinstance(m, Market)
    assert m.outcomes == ["Long", "Short"]
    assert m.p_yes == pytest.approx(0.5843311669077693)
    assert m.outcome_prices is not None
    assert sum(m.outcome_prices) == pytest.approx(1.0)
    assert m.no_token_id == "1993578487229597591293755303341708890459187725728713215820133740213314514940"
    assert m.end_ts == datetime(2021, 1, 2, tzinfo=UTC)
    assert m.updated_ts == datetime(2024, 4, 23, 0, 15, 27, 877266, tzinfo=UTC)
    assert m.start_ts is None


def test_live_negrisk_market_takes_event_id_from_nested_events() -> None:
    m = normalize_gamma_market(_load("gamma_market_live_negrisk_fees.json"))
    assert isinstance(m, Market)
    assert m.event_id == "30829"
    assert m.neg_risk is True
    assert m.neg_risk_market_id == "0x2c3d7e0eee6f058be3006baabf0d54a07da254ba47fe6e3e095e7990c7814700"
    assert m.volume_usd == 25814545.294374414
    assert m.volume_24h == 9066.547418000006
    assert (m.best_bid, m.best_ask, m.last_trade_price) == (0.232, 0.233, 0.232)
    assert m.uma_bond == 25000.0
    assert m.uma_reward == 10.0
    assert m.p_yes == 0.2325
    assert m.closed_ts is None


def test_btc_updown_market_first_outcome_is_the_yes_side() -> None:
    m = normalize_gamma_market(_load("gamma_market_open_btc5m.json"))
    assert isinstance(m, Market)
    assert m.outcomes == ["Up", "Down"]
    assert m.p_yes == 0.505
    assert m.yes_token_id == "104239898038807136052399800151408521467737075933964991162589336683346093173875"
    assert m.event_id == "260654"
    assert m.start_ts == datetime(2026, 3, 11, 9, 29, 1, 328428, tzinfo=UTC)
    assert m.order_price_min_tick_size == 0.01
    assert m.volume_usd == 9.999997


def test_negrisk_event_has_its_two_markets_with_parent_event_id() -> None:
    raw = _load("gamma_events_list_negrisk.json")
    event, rejections = normalize_gamma_event(raw[0])
    assert rejections == []
    assert event is not None
    assert event.event_id == "30829"
    assert event.neg_risk is True
    assert event.market_ids == ["559657", "559659"]
    assert [m.market_id for m in event.markets] == ["559657", "559659"]
    assert {m.event_id for m in event.markets} == {"30829"}
    assert event.volume_usd == 799823812.487094
    assert event.open_interest == 0.0
    assert event.tags == [
        "World Elections",
        "Global Elections",
        "Elections",
        "Politics",
        "US Election",
        "Earn 4%",
        "Primaries",
    ]
    first = event.markets[0]
    assert first.p_yes == 0.0105
    assert first.yes_token_id == "60590045489347122735554346200880179420435533609307820342798544098823516727807"
    assert first.volume_usd == 12232699.615479222


# ---------------------------------------------------------------------------------------- CLOB


def test_rest_book_is_sorted_best_first() -> None:
    book = normalize_book(_load("clob_book_rest.json"))
    assert isinstance(book, Book)
    assert [lv.price for lv in book.bids] == [0.1, 0.09, 0.08, 0.06, 0.01]
    assert [lv.price for lv in book.asks] == [0.14, 0.2, 0.38, 0.46, 0.47, 0.5, 0.98]
    assert book.bids[0].size == 125.0
    assert book.best_bid == 0.1
    assert book.best_ask == 0.14
    assert book.mid == pytest.approx(0.12)
    assert book.ts == datetime(2024, 10, 13, 6, 3, 38, 260000, tzinfo=UTC)
    assert book.hash == "2fc4a3d6a98bc164e057589bcb74981852b87412"
    assert book.last_trade_price is None


def test_2026_book_with_empty_asks_and_blank_last_trade() -> None:
    book = normalize_book(_load("clob_book_rest_2026_empty_ask.json"))
    assert isinstance(book, Book)
    assert book.asks == []
    assert book.best_ask is None
    assert book.mid is None
    assert book.best_bid == 0.002
    assert book.last_trade_price is None  # "" upstream
    assert (book.tick_size, book.min_order_size, book.neg_risk) == (0.001, 5.0, True)
    assert book.asset_id == "72610532355343625199299853218161700546393390326785971247545541945337255643692"


# ------------------------------------------------------------------------------------ WebSocket


def test_ws_full_book_sorted_and_stamped() -> None:
    raw = _load("ws_market_book_full.json")
    result = parse_ws_frame(_text("ws_market_book_full.json"), RECV)
    (book,) = result.events
    assert isinstance(book, WsBook)
    assert len(book.bids) == len(raw["bids"])
    assert len(book.asks) == len(raw["asks"])
    assert (book.best_bid, book.best_ask) == (0.511, 0.514)
    assert book.bids == sorted(book.bids, key=lambda lv: -lv.price)
    assert book.asks == sorted(book.asks, key=lambda lv: lv.price)
    assert book.recv_ts == RECV
    assert book.ts_ms == 1728799418260
    assert book.ts == datetime(2024, 10, 13, 6, 3, 38, 260000, tzinfo=UTC)


def test_ws_sequence_array_gives_book_then_one_record_per_change_entry() -> None:
    result = parse_ws_frame(_text("ws_market_book_and_price_change_sequence_excerpt.json"), RECV)
    kinds = [type(e) for e in result.events]
    assert kinds == [WsBook, WsPriceChange, WsPriceChange, WsPriceChange, WsPriceChange]
    book = result.events[0]
    assert isinstance(book, WsBook)
    assert (book.tick_size, book.last_trade_price, book.best_bid, book.best_ask) == (0.001, 0.255, 0.3, 0.397)
    removed = result.events[3]
    assert isinstance(removed, WsPriceChange)
    assert (removed.price, removed.size, removed.side) == (0.399, 0.0, "SELL")
    assert (removed.best_bid, removed.best_ask) == (0.311, 0.397)


def test_ws_legacy_price_change_maps_to_one_record() -> None:
    (change,) = parse_ws_frame(_text("ws_market_price_change_legacy_schema.json"), RECV).events
    assert isinstance(change, WsPriceChange)
    assert change.asset_id == "48331043336612883890938759509493159234755048973500640148014422747788308965732"
    assert (change.price, change.size, change.side) == (0.514, 21574.08, "SELL")
    assert change.hash == "bf32b3746fff40c76c98021b7f3f07261169dd26"
    assert (change.best_bid, change.best_ask) == (None, None)
    assert change.ts_ms == 1723967931411


def test_ws_new_schema_price_change_yields_one_record_per_entry() -> None:
    events = parse_ws_frame(_text("ws_market_price_change_new_schema.json"), RECV).events
    assert len(events) == 3
    assert all(isinstance(e, WsPriceChange) for e in events)
    changes = [e for e in events if isinstance(e, WsPriceChange)]
    assert [c.price for c in changes] == [0.6, 0.5, 0.7]
    assert [c.size for c in changes] == [3300.0, 3400.0, 3400.0]
    assert {(c.best_bid, c.best_ask, c.ts_ms) for c in changes} == {(0.6, 0.7, 1729084877448)}
    assert [c.hash for c in changes][1] == "af32b3746fff40c76c98021b7f3f07261169dd27"


def test_ws_other_event_types_values() -> None:
    (trade,) = parse_ws_frame(_text("ws_market_last_trade_price.json"), RECV).events
    assert isinstance(trade, WsLastTradePrice)
    assert (trade.price, trade.size, trade.side, trade.fee_rate_bps) == (0.491, 85.36, "SELL", 0.0)
    assert trade.transaction_hash is None

    (tick,) = parse_ws_frame(_text("ws_market_tick_size_change.json"), RECV).events
    assert isinstance(tick, WsTickSizeChange)
    assert (tick.old_tick_size, tick.new_tick_size) == (0.01, 0.001)

    (top,) = parse_ws_frame(_text("ws_market_best_bid_ask.json"), RECV).events
    assert isinstance(top, WsBestBidAsk)
    assert (top.best_bid, top.best_ask, top.spread) == (0.73, 0.77, 0.04)


def test_ws_market_resolved_winning_asset() -> None:
    (resolved,) = parse_ws_frame(_text("ws_market_market_resolved.json"), RECV).events
    assert isinstance(resolved, WsMarketResolved)
    assert resolved.market_id == "1031769"
    assert resolved.market == "0x311d0c4b6671ab54af4970c06fcf58662516f5168997bdda209ec3db5aa6b0c1"
    assert resolved.winning_asset_id == (
        "76043073756653678226373981964075571318267289248134717369284518995922789326425"
    )
    assert resolved.winning_asset_id == resolved.assets_ids[0]
    assert resolved.winning_outcome == "Yes"
    assert resolved.tags == ["stocks"]


def test_ws_new_market_arrays_and_event_id() -> None:
    (new,) = parse_ws_frame(_text("ws_market_new_market.json"), RECV).events
    assert isinstance(new, WsNewMarket)
    assert new.market_id == "1031769"
    assert new.outcomes == ["Yes", "No"]
    assert new.event_id == "125819"
    assert new.order_price_min_tick_size == 0.01
    assert new.clob_token_ids == new.assets_ids
    assert len(new.clob_token_ids) == 2
    assert new.active is True
