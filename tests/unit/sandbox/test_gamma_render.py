"""The venue's derived state and the Gamma renderer, without sockets: agreement with the world, formatting,
cursors, orderings, and valid JSON for every market and event of a world."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from multidict import MultiDict

from mca_sandbox.clob import _levels, book, clob_market
from mca_sandbox.gamma import Gamma, Invalid, _query_hash, decode_cursor, encode_cursor
from mca_sandbox.render import Venue, floats_vec, fmt_micro, iso_arr, rfc3339_us
from mca_sandbox.world import LIVE, World, WorldConfig


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(seed=3, markets=2000, start=date(2026, 6, 1), end=date(2026, 9, 30)))


@pytest.fixture(scope="module")
def venue(world: World) -> Venue:
    return Venue(world)


@pytest.fixture(scope="module")
def gamma(venue: Venue) -> Gamma:
    return Gamma(venue)


def test_slugs_are_the_world_slugs_at_as_of(world, venue):
    assert venue.slugs == [world.slug(m) for m in range(world.n_markets)]
    assert any(s.endswith("-v2") for s in venue.slugs)


def test_vectorised_spread_is_the_world_spread(world, venue):
    inside = (venue.bid_ticks > 1) & (venue.ask_ticks < venue.n_ticks - 1)
    for m in np.flatnonzero(inside)[:500]:
        assert (venue.ask_ticks[m] - venue.bid_ticks[m]) * world.market_tick[m] == pytest.approx(world.spread(int(m)))


def test_quotes_straddle_the_last_price_inside_the_price_range(venue):
    bid, ask = venue.bid_ticks * venue.tick_u, venue.ask_ticks * venue.tick_u
    assert np.all(bid >= venue.tick_u)
    assert np.all(ask <= 1_000_000 - venue.tick_u)
    assert np.all(bid < ask)
    inside = (venue.bid_ticks > 1) & (venue.ask_ticks < venue.n_ticks - 1)
    assert np.all((bid[inside] <= venue.yes_u[inside]) & (venue.yes_u[inside] <= ask[inside]))


def test_ids_are_the_world_ids(world, venue):
    for m in (0, 7, 1999):
        assert venue.condition_ids[m] == world.condition_id(m)
        assert (venue.yes_tokens[m], venue.no_tokens[m]) == world.token_ids(m)
        assert venue.market_by_token(world.token_ids(m)[1]) == (m, 1)
        assert venue.market_by_condition(world.condition_id(m).upper().replace("0X", "0x")) == m


@pytest.mark.parametrize(
    ("micro", "text"),
    [(0, "0"), (1_000_000, "1"), (500_000, "0.5"), (10_500, "0.0105"), (1_000, "0.001"), (999_000, "0.999")],
)
def test_prices_are_short_decimal_strings(micro, text):
    assert fmt_micro(micro) == text


def test_dates_have_the_fraction_digits_they_need():
    assert rfc3339_us(1_777_681_380_000_000) == "2026-05-02T00:23:00Z"
    assert rfc3339_us(1_777_681_380_180_000) == "2026-05-02T00:23:00.18Z"
    assert rfc3339_us(1_777_681_380_123_457) == "2026-05-02T00:23:00.123457Z"
    stamps = np.array([1_777_681_380_123_457, 1_777_681_380_000_000])
    assert iso_arr(stamps, "us").tolist() == ["2026-05-02T00:23:00.123457", "2026-05-02T00:23:00.000000"]
    assert iso_arr(stamps, "D").tolist() == ["2026-05-02", "2026-05-02"]


def test_shown_fractions_never_end_in_zero(venue):
    assert np.all((venue.start_us // 1000) % 10 != 0)
    assert np.all(venue.start_us % 1000 == 0)
    assert np.all(venue.created_us % 10 != 0)
    assert np.all(venue.updated_us % 10 != 0)
    assert np.all(venue.ev_start_us % 10 != 0)


def test_floats_are_json_numbers_that_round_trip():
    values = np.array([0.0, 1e-5, 26212.757278, 0.1 + 0.2, 1e16, 5.0])
    assert [float(s) for s in floats_vec(values)] == values.tolist()
    assert floats_vec(np.array([])) == []


def test_every_market_and_event_renders_to_valid_json_agreeing_with_the_venue(world, venue, gamma):
    markets = [json.loads(text) for text in gamma.markets_json(list(range(world.n_markets)), include_tag=True)]
    for m, market in enumerate(markets):
        assert market["id"] == world.market_id(m)
        assert market["question"] == venue.question(m)
        assert market["description"] == venue.description(m)
        assert market["slug"] == world.slug(m)
        assert market["conditionId"] == world.condition_id(m)
        assert json.loads(market["clobTokenIds"]) == list(world.token_ids(m))
        assert market["closed"] == (world.market_label[m] != LIVE)
        assert market["events"][0]["id"] == world.event_id(int(world.market_event[m]))
        assert market["tags"][0]["label"].lower() == venue.slugs[m].split("-")[0]
    events = [json.loads(text) for text in gamma.events_json(list(range(world.n_events)))]
    assert sum(len(e["markets"]) for e in events) == world.n_markets
    for e, event in enumerate(events):
        assert event["id"] == world.event_id(e)
        assert event["volume"] == pytest.approx(sum(float(m.get("volume", 0)) for m in event["markets"]))
        assert event["closed"] == all(m["closed"] for m in event["markets"])


def test_rendering_is_the_same_from_cache_and_in_any_batch(venue, world):
    fresh = Gamma(venue)
    one_by_one = [fresh.markets_json([m])[0] for m in (5, 900, 1500)]
    other = Gamma(venue)
    assert other.markets_json([1500, 5, 900]) == [one_by_one[2], one_by_one[0], one_by_one[1]]
    assert other.markets_json([5])[0] == one_by_one[0]


def test_cursor_round_trips_and_refuses_tampering():
    secret, qhash = b"k" * 32, _query_hash(("m", (), ("id",), True))
    cursor = encode_cursor(secret, 41, qhash)
    assert decode_cursor(secret, cursor, qhash) == 41
    with pytest.raises(Invalid, match="does not match"):
        decode_cursor(secret, cursor, _query_hash(("m", (("closed", True),), ("id",), True)))
    with pytest.raises(Invalid, match="invalid cursor"):
        decode_cursor(b"x" * 32, cursor, qhash)
    flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    with pytest.raises(Invalid, match="invalid cursor"):
        decode_cursor(secret, flipped, qhash)


def test_orderings_are_total_with_id_tie_breaks(gamma, venue):
    order, rank = gamma.markets.ordering(("volume",), False)
    volumes = venue.volume[order]
    assert np.all(np.diff(volumes) <= 0)
    ties = np.flatnonzero(np.diff(volumes) == 0)  # dust markets share volume 0
    assert np.all(order[ties] < order[ties + 1])
    assert np.array_equal(rank[order], np.arange(len(order)))


def test_market_filters_parse_and_build_masks(gamma, venue):
    canonical, mask = gamma.market_query(MultiDict([("closed", "false"), ("tag_id", "101")]))
    selected = mask()
    assert np.array_equal(selected, ~venue.closed & venue.neg_risk & venue.visible)
    assert ("closed", False) in canonical
    with pytest.raises(Invalid):
        gamma.market_query(MultiDict([("end_date_min", "soon")]))


def test_book_depth_shrinks_with_liquidity_and_stays_in_range(venue, world):
    live = np.flatnonzero(world.market_label == LIVE)
    by_liquidity = sorted(live.tolist(), key=lambda m: world.market_liquidity[m])
    thin, deep = by_liquidity[0], by_liquidity[-1]
    depth = [len(_levels(venue, m)[0]) + len(_levels(venue, m)[1]) for m in (thin, deep)]
    assert depth[0] < depth[1]
    for m in live[:50].tolist():
        for side in (0, 1):
            b = book(venue, m, side)
            for level in b["bids"] + b["asks"]:
                assert 0 < float(level["price"]) < 1
    assert book(venue, int(live[0]), 0) == book(venue, int(live[0]), 0)


def test_clob_market_prices_follow_the_label(venue, world):
    for m in range(0, world.n_markets, 37):
        tokens = clob_market(venue, m)["tokens"]
        assert tokens[0]["price"] == venue.outcome_yes_u[m] / 1e6
        assert tokens[1]["price"] == venue.outcome_no_u[m] / 1e6
