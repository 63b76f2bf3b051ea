"""Gamma over loopback: the live type contracts, keyset paging (exactly once), cursors, caps, filters, lifecycle,
determinism and 4xx (never 5xx) answers to bad requests."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningSandbox, start_sandbox
from tests.jsonshape import shape

HTTP = httpx.Client(timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture(scope="module")
def big() -> Iterator[RunningSandbox]:
    """3000 markets: several keyset pages of 100 markets and of 500 events."""
    box = start_sandbox(markets=3000, seed=5)
    yield box
    box.stop()


def get(box: RunningSandbox, path: str, params: Any = None) -> httpx.Response:
    return HTTP.get(f"{box.base}{path}", params=params)


# --- JSON type contracts ------------------------------------------------------------------------------------------


def contract(fixtures_dir: Path, name: str) -> set[str]:
    return set(json.loads((fixtures_dir / f"shape_{name}.json").read_text())["shape"])


def market_contract(fixtures_dir: Path) -> set[str]:
    """The Market object: the /markets contract (an open-markets sample) plus the markets nested in /events (which
    also show closed-market fields such as closedTime, category, umaEndDate) and, for include_tag, the tag shape."""
    events = contract(fixtures_dir, "gamma__events")
    nested = {p.replace("$[].markets[]", "$[]", 1) for p in events if p.startswith("$[].markets[]")}
    tags = {p for p in events if p.startswith("$[].tags")}
    return contract(fixtures_dir, "gamma__markets") | nested | tags


def all_markets(box: RunningSandbox) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = get(box, "/gamma/markets", {"limit": 100, "offset": len(out)}).json()
        out += page
        if len(page) < 100:
            return out


def test_every_market_field_has_a_type_of_the_live_contract(sandbox, fixtures_dir):
    markets = all_markets(sandbox)
    assert len(markets) == sandbox.world.n_markets
    emitted = shape(markets)
    assert emitted - market_contract(fixtures_dir) == set()
    # the lifecycle variants are all there, so the check covered them
    assert {m["closed"] for m in markets} == {True, False}
    assert any("closedTime" in m for m in markets)
    assert any("negRiskMarketID" in m for m in markets)


def test_markets_with_include_tag_keep_to_the_contract(sandbox, fixtures_dir):
    markets = get(sandbox, "/gamma/markets", {"limit": 100, "include_tag": "true"}).json()
    assert all(m["tags"] and all(set(t) == {"id", "label", "slug"} for t in m["tags"]) for m in markets)
    assert shape(markets) - market_contract(fixtures_dir) == set()


def test_every_event_field_has_a_type_of_the_live_contract(sandbox, fixtures_dir):
    events = get(sandbox, "/gamma/events", {"limit": 100}).json()
    events += get(sandbox, "/gamma/events", {"limit": 100, "offset": 100}).json()
    events += get(sandbox, "/gamma/events", {"limit": 100, "offset": 200}).json()
    assert len(events) == sandbox.world.n_events
    assert shape(events) - contract(fixtures_dir, "gamma__events") == set()
    assert any(e["negRisk"] for e in events)
    assert any(e["closed"] for e in events)


def test_keyset_pages_keep_to_the_list_contracts(sandbox, fixtures_dir):
    markets = get(sandbox, "/gamma/markets/keyset", {"limit": 100}).json()
    assert shape(markets["markets"]) - market_contract(fixtures_dir) == set()
    events = get(sandbox, "/gamma/events/keyset", {"limit": 100}).json()
    assert shape(events["events"]) - contract(fixtures_dir, "gamma__events") == set()


def test_numbers_are_strings_or_numbers_exactly_as_upstream(sandbox):
    market = next(m for m in all_markets(sandbox) if "volume" in m and "liquidity" in m and m["negRisk"])
    assert isinstance(market["id"], str)
    assert isinstance(market["volume"], str)
    assert isinstance(market["liquidity"], str)
    assert float(market["volume"]) == market["volumeNum"]
    assert float(market["liquidity"]) == market["liquidityNum"]
    assert isinstance(market["umaBond"], str)
    assert isinstance(market["groupItemThreshold"], str)
    assert json.loads(market["outcomes"]) == ["Yes", "No"]
    assert len(json.loads(market["clobTokenIds"])) == 2
    assert all(len(t) >= 70 and t.isdigit() for t in json.loads(market["clobTokenIds"]))
    assert isinstance(json.loads(market["umaResolutionStatuses"]), list)
    event = market["events"][0]
    assert isinstance(event["volume"], float)
    assert isinstance(event["liquidity"], float)
    assert "markets" not in event
    assert market["endDateIso"] == market["endDate"][:10]
    assert len(market["startDateIso"]) == 10


def test_dates_are_rfc3339_with_variable_fractions_and_closed_time_is_postgres_style(sandbox):
    markets = all_markets(sandbox)
    closed = next(m for m in markets if m["closed"])
    assert datetime.strptime(closed["closedTime"], "%Y-%m-%d %H:%M:%S+00")
    fractions = {len(m[k].split(".")[1]) - 1 if "." in m[k] else 0 for m in markets for k in ("startDate", "createdAt")}
    assert {0, 3, 6} & fractions
    assert len(fractions | {0}) >= 2
    for m in markets[:50]:
        for key in ("startDate", "endDate", "createdAt", "updatedAt"):
            assert datetime.fromisoformat(m[key].replace("Z", "+00:00")).tzinfo is not None


# --- lifecycle vs truth -------------------------------------------------------------------------------------------
def test_lifecycle_follows_the_truth_labels(sandbox):
    truth = {t["market_id"]: t for t in get(sandbox, "/_truth/markets", {"limit": 10000}).json()["markets"]}
    seen = Counter()
    for m in all_markets(sandbox):
        t = truth[m["id"]]
        label = t["label_detail"]
        seen[label] += 1
        prices = json.loads(m["outcomePrices"])
        if label == "LIVE":
            assert m["active"]
            assert not m["closed"]
            assert m["acceptingOrders"]
            assert "umaResolutionStatus" not in m
            assert "closedTime" not in m
            assert abs(float(prices[0]) + float(prices[1]) - 1) < 1e-9
            assert m["bestBid"] < m["bestAsk"]
        else:
            assert m["closed"]
            assert not m["acceptingOrders"]
            closed_at = datetime.strptime(m["closedTime"], "%Y-%m-%d %H:%M:%S+00").replace(tzinfo=UTC)
            assert int(closed_at.timestamp()) == t["resolved_ts"]
        if label == "RESOLVED_TRUE":
            assert prices == ["1", "0"]
            assert m["umaResolutionStatus"] == "resolved"
            assert t["outcome"] == 1
        elif label == "RESOLVED_FALSE":
            assert prices == ["0", "1"]
            assert m["umaResolutionStatus"] == "resolved"
            assert t["outcome"] == 0
        elif label == "VOID_5050":
            assert prices == ["0.5", "0.5"]
            assert m["umaResolutionStatus"] == "resolved"
        elif label == "VOID_ZERO_ZERO":
            assert prices == ["0", "0"]
            assert "umaResolutionStatus" not in m
            assert m["umaResolutionStatuses"] == "[]"
        elif label == "UNRESOLVED":
            assert m["umaResolutionStatus"] in ("disputed", "proposed")
            assert prices not in (["1", "0"], ["0", "1"])
            assert 0 < float(prices[0]) < 1
    assert set(seen) == {"LIVE", "RESOLVED_TRUE", "RESOLVED_FALSE", "VOID_5050", "VOID_ZERO_ZERO", "UNRESOLVED"}


def test_live_prices_come_from_the_world_last_price(sandbox):
    w = sandbox.world
    for m in get(sandbox, "/gamma/markets", {"closed": "false", "limit": 100}).json():
        idx = w.market_index(m["id"])
        yes, no = json.loads(m["outcomePrices"])
        assert float(yes) == pytest.approx(w.last_price(idx), abs=1e-9)
        assert float(no) == pytest.approx(1 - w.last_price(idx), abs=1e-9)
        if w.market_volume[idx] >= 100:  # a market that has hardly traded yet shows no last trade
            assert m["lastTradePrice"] == pytest.approx(w.last_price(idx))
        else:
            assert "lastTradePrice" not in m


def test_neg_risk_events_list_all_their_markets_with_the_same_neg_risk_market_id(sandbox):
    events = [e for e in get(sandbox, "/gamma/events", {"limit": 100}).json() if e["negRisk"]]
    assert events
    for event in events:
        idx = sandbox.world.event_index(event["id"])
        assert len(event["markets"]) == sandbox.world.event_size[idx] >= 2
        assert {m["negRiskMarketID"] for m in event["markets"]} == {event["negRiskMarketID"]}
        assert all(m["negRisk"] and "events" not in m for m in event["markets"])
        assert {"id": "101", "label": "Multi Outcome", "slug": "multi-outcome"} in event["tags"]
        for m in event["markets"]:
            assert get(sandbox, f"/gamma/markets/{m['id']}").json()["events"][0]["id"] == event["id"]


def test_market_and_event_by_id_and_slug(sandbox):
    w = sandbox.world
    renamed = next(m for m in range(w.n_markets) if w.market_slug_change_ts[m] >= 0)
    market = get(sandbox, f"/gamma/markets/{w.market_id(renamed)}").json()
    assert market["slug"] == w.slug(renamed)
    assert market["slug"].endswith("-v2")
    assert get(sandbox, f"/gamma/markets/slug/{market['slug']}").json()["id"] == market["id"]
    assert get(sandbox, f"/gamma/markets/slug/{w.slug(renamed, at_ts=0)}").status_code == 404
    event = get(sandbox, "/gamma/events/90003").json()
    assert event["id"] == "90003"
    assert event["markets"]
    assert get(sandbox, f"/gamma/events/slug/{event['slug']}").json()["id"] == "90003"
    assert get(sandbox, "/gamma/markets/999999").json() == {"error": "not found"}
    assert get(sandbox, "/gamma/markets/999999").status_code == 404
    assert get(sandbox, "/gamma/events/1").status_code == 404
    assert get(sandbox, "/gamma/markets/abc").status_code == 422
    assert get(sandbox, "/gamma/events/abc").status_code == 422


# --- keyset paging ------------------------------------------------------------------------------------------------
def crawl(box: RunningSandbox, path: str, key: str, params: dict[str, Any]) -> tuple[list[str], int]:
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = dict(params)
        if cursor:
            query["after_cursor"] = cursor
        response = get(box, path, query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        ids += [item["id"] for item in body[key]]
        cursor = body.get("next_cursor")
        if cursor is None:
            assert "next_cursor" not in body
            return ids, pages
        assert len(body[key]) == params["limit"]


def test_markets_keyset_enumerates_every_market_exactly_once(big):
    truth = get(big, "/_truth/gamma_ids").json()
    ids, pages = crawl(big, "/gamma/markets/keyset", "markets", {"limit": 100})
    assert pages == 30
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(truth["market_ids"])
    assert ids == sorted(ids, key=int)  # default order: id ascending


def test_events_keyset_enumerates_every_event_exactly_once(big):
    truth = get(big, "/_truth/gamma_ids").json()
    ids, pages = crawl(big, "/gamma/events/keyset", "events", {"limit": 500})
    assert pages == -(-len(truth["event_ids"]) // 500) > 1
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(truth["event_ids"])


@pytest.mark.parametrize(
    "params",
    [
        {"closed": "false"},
        {"closed": "true", "order": "volume", "ascending": "false"},
        {"tag_id": "2", "order": "endDate,volume24hr"},
        {"end_date_min": "2026-08-01", "end_date_max": "2026-09-30T12:00:00Z", "order": "liquidityNum"},
    ],
)
def test_filtered_keyset_walks_return_each_match_once(big, params):
    ids, _ = crawl(big, "/gamma/markets/keyset", "markets", {"limit": 100, **params})
    legacy: list[str] = []
    while len(legacy) <= 2000:
        page = get(big, "/gamma/markets", {"limit": 100, "offset": len(legacy), **params}).json()
        legacy += [m["id"] for m in page]
        if len(page) < 100:
            break
    assert ids
    assert len(ids) == len(set(ids))
    assert ids[: len(legacy)] == legacy  # same ordering as the legacy list


def test_filtered_events_keyset_walk_matches_the_event_filter(big):
    ids, _ = crawl(big, "/gamma/events/keyset", "events", {"limit": 500, "closed": "false", "order": "volume"})
    assert len(ids) == len(set(ids))
    w = big.world
    expected = {w.event_id(e) for e in range(w.n_events) if w.market_label[w.event_first[e]] == 5}
    assert set(ids) == expected


def test_keyset_order_is_followed_with_id_tie_breaks(big):
    ids, _ = crawl(big, "/gamma/markets/keyset", "markets", {"limit": 100, "order": "volumeNum", "ascending": "false"})
    w = big.world
    volumes = [w.market_volume[w.market_index(i)] if w.market_volume[w.market_index(i)] >= 100 else 0 for i in ids]
    assert volumes == sorted(volumes, reverse=True)


def test_cursor_and_next_cursor_parameters_are_ignored_like_upstream(big):
    first = get(big, "/gamma/markets/keyset", {"limit": 100}).json()
    again = get(big, "/gamma/markets/keyset", {"limit": 100, "cursor": first["next_cursor"]}).json()
    also = get(big, "/gamma/markets/keyset", {"limit": 100, "next_cursor": first["next_cursor"]}).json()
    assert again == first == also
    second = get(big, "/gamma/markets/keyset", {"limit": 100, "after_cursor": first["next_cursor"]}).json()
    assert second["markets"][0]["id"] != first["markets"][0]["id"]


def test_a_cursor_reused_with_other_filters_is_refused(big):
    first = get(big, "/gamma/markets/keyset", {"limit": 100, "closed": "true"}).json()
    response = get(
        big, "/gamma/markets/keyset", {"limit": 100, "closed": "false", "after_cursor": first["next_cursor"]}
    )
    assert response.status_code == 422
    assert response.json()["type"] == "validation error"
    assert "cursor" in response.json()["error"]
    other_order = {"limit": 100, "closed": "true", "order": "volume", "after_cursor": first["next_cursor"]}
    assert get(big, "/gamma/markets/keyset", other_order).status_code == 422
    # the page size may change between pages
    assert get(
        big, "/gamma/markets/keyset", {"limit": 7, "closed": "true", "after_cursor": first["next_cursor"]}
    ).json()


@pytest.mark.parametrize("cursor", ["garbage", "AAAA", "!!!", "é", "A" * 40])
def test_a_garbled_cursor_is_refused(big, cursor):
    response = get(big, "/gamma/markets/keyset", {"limit": 100, "after_cursor": cursor})
    assert response.status_code == 422
    assert response.json() == {"type": "validation error", "error": "invalid cursor"}


def test_a_cursor_from_another_world_is_refused(big, sandbox):
    first = get(big, "/gamma/markets/keyset", {"limit": 10}).json()
    response = get(sandbox, "/gamma/markets/keyset", {"limit": 10, "after_cursor": first["next_cursor"]})
    assert response.status_code == 422


def test_keyset_limits_and_offset(big):
    assert len(get(big, "/gamma/markets/keyset").json()["markets"]) == 20  # default
    assert get(big, "/gamma/markets/keyset", {"limit": 101}).status_code == 422
    assert get(big, "/gamma/markets/keyset", {"limit": 0}).status_code == 422
    assert get(big, "/gamma/markets/keyset", {"limit": 10, "offset": 0}).status_code == 422
    assert len(get(big, "/gamma/events/keyset", {"limit": 500}).json()["events"]) == 500
    assert get(big, "/gamma/events/keyset", {"limit": 501}).status_code == 422
    assert get(big, "/gamma/events/keyset", {"offset": 10}).status_code == 422


def test_legacy_lists_cap_limit_and_refuse_deep_offsets(big):
    assert len(get(big, "/gamma/markets", {"limit": 500}).json()) == 100
    assert len(get(big, "/gamma/markets", {"limit": 10**30}).json()) == 100
    assert len(get(big, "/gamma/markets").json()) == 20
    assert len(get(big, "/gamma/markets", {"limit": 100, "offset": 2000}).json()) == 100
    response = get(big, "/gamma/markets", {"limit": 100, "offset": 2001})
    assert response.status_code == 422
    assert response.json() == {
        "type": "validation error",
        "error": "offset too large, use /markets/keyset for deeper pagination",
    }
    assert len(get(big, "/gamma/events", {"limit": 500}).json()) == 100
    assert get(big, "/gamma/events", {"offset": 2001}).status_code == 422


# --- filters ------------------------------------------------------------------------------------------------------
def test_filters_select_what_they_say(big):
    w = big.world
    markets = get(big, "/gamma/markets", {"closed": "true", "tag_id": "2", "limit": 100}).json()
    assert markets
    assert all(m["closed"] for m in markets)
    assert all(m["slug"].startswith("politics-") for m in markets)
    cids = [m["conditionId"] for m in markets[:5]]
    by_cid = get(big, "/gamma/markets", [("condition_ids", ",".join(cids[:3])), ("condition_ids", cids[3])]).json()
    assert sorted(m["conditionId"] for m in by_cid) == sorted(cids[:4])
    tokens = [json.loads(m["clobTokenIds"])[1] for m in markets[:3]]
    repeated = get(big, "/gamma/markets", [("clob_token_ids", t) for t in tokens]).json()
    assert sorted(m["id"] for m in repeated) == sorted(m["id"] for m in markets[:3])
    assert get(big, "/gamma/markets", {"clob_token_ids": ",".join(tokens)}).json() == []  # comma-joined: the trap
    ids = get(big, "/gamma/markets", [("id", "500001,500002"), ("id", "500010")]).json()
    assert [m["id"] for m in ids] == ["500001", "500002", "500010"]
    slugs = get(big, "/gamma/markets", {"slug": f"{w.slug(4)},{w.slug(9)}"}).json()
    assert [m["id"] for m in slugs] == [w.market_id(4), w.market_id(9)]
    rich = get(big, "/gamma/markets", {"volume_num_min": 100000, "liquidity_num_max": 1e9, "limit": 100}).json()
    assert rich
    assert all(m["volumeNum"] >= 100000 for m in rich)
    assert get(big, "/gamma/markets", {"active": "false"}).json() == []
    assert get(big, "/gamma/markets", {"archived": "true"}).json() == []
    window = {"start_date_min": "2026-08-01", "start_date_max": "2026-08-15T23:59:59.999999Z", "limit": 100}
    in_window = get(big, "/gamma/markets", window).json()
    assert in_window
    assert all("2026-08-01" <= m["startDate"][:10] <= "2026-08-15" for m in in_window)


def test_condition_ids_are_capped_at_100(big):
    cids = ",".join(f"0x{i:064x}" for i in range(101))
    assert get(big, "/gamma/markets", {"condition_ids": cids}).status_code == 422
    assert get(big, "/gamma/markets", {"condition_ids": cids.rsplit(",", 1)[0]}).json() == []


def test_event_filters(big):
    events = get(big, "/gamma/events", {"tag_slug": "multi-outcome", "limit": 100}).json()
    assert events
    assert all(e["negRisk"] for e in events)
    crypto = get(big, "/gamma/events", {"tag_id": "21", "closed": "true", "limit": 100}).json()
    assert crypto
    assert all(e["slug"].startswith("crypto-") and e["closed"] for e in crypto)
    big_ones = get(big, "/gamma/events", {"volume_min": 200000, "order": "volume", "ascending": "false"}).json()
    assert big_ones
    assert [e["volume"] for e in big_ones] == sorted((e["volume"] for e in big_ones), reverse=True)
    assert all(e["volume"] >= 200000 for e in big_ones)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/gamma/markets", {"closed": "maybe"}),
        ("/gamma/markets", {"ascending": "yes"}),
        ("/gamma/markets", {"end_date_min": "2026-13-45"}),
        ("/gamma/markets", {"start_date_max": "yesterday"}),
        ("/gamma/markets", {"limit": "abc"}),
        ("/gamma/markets", {"limit": "-1"}),
        ("/gamma/markets", {"offset": "1.5"}),
        ("/gamma/markets", {"offset": str(10**30)}),
        ("/gamma/markets", {"order": "bogus"}),
        ("/gamma/markets", {"order": "volume,nope"}),
        ("/gamma/markets", {"liquidity_num_min": "lots"}),
        ("/gamma/markets", {"volume_num_max": "inf"}),
        ("/gamma/markets", {"tag_id": "x"}),
        ("/gamma/markets", {"id": "12,abc"}),
        ("/gamma/markets", {"include_tag": "perhaps"}),
        ("/gamma/markets/keyset", {"limit": str(10**30)}),
        ("/gamma/markets/keyset", {"closed": "nope"}),
        ("/gamma/events", {"closed": "x"}),
        ("/gamma/events", {"order": "liquidityNum"}),
        ("/gamma/events/keyset", {"end_date_max": "2026-02-30"}),
        ("/gamma/events/keyset", {"volume_min": "NaN"}),
        ("/gamma/markets/12abc", {}),
    ],
)
def test_bad_requests_get_422_json_errors_never_500(sandbox, path, params):
    response = get(sandbox, path, params)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "validation error"
    assert response.json()["error"]


def test_unknown_order_field_message(sandbox):
    assert get(sandbox, "/gamma/markets", {"order": "bogus"}).json()["error"] == "order fields are not valid"


def test_huge_ids_and_tags_just_match_nothing(sandbox):
    assert get(sandbox, "/gamma/markets", {"tag_id": str(10**30)}).json() == []
    assert get(sandbox, "/gamma/markets", {"id": str(10**30)}).json() == []
    assert get(sandbox, f"/gamma/markets/{10**30}").status_code == 404


# --- determinism --------------------------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_responses_and_another_seed_differs(sandbox_factory):
    a, b, c = (sandbox_factory(markets=400, seed=s) for s in (21, 21, 22))
    paths = [
        ("/gamma/markets", {"limit": 100, "include_tag": "true"}),
        ("/gamma/markets/keyset", {"limit": 100, "order": "volume", "ascending": "false"}),
        ("/gamma/events/keyset", {"limit": 50}),
        ("/gamma/events", {"limit": 100, "offset": 50}),
        ("/gamma/markets/500007", {}),
    ]
    for path, params in paths:
        ra, rb, rc = (get(box, path, params).content for box in (a, b, c))
        assert ra == rb
        assert ra != rc
    cursor = get(a, "/gamma/markets/keyset", {"limit": 100}).json()["next_cursor"]
    assert get(a, "/gamma/markets/keyset", {"after_cursor": cursor, "limit": 100}).content == (
        get(b, "/gamma/markets/keyset", {"after_cursor": cursor, "limit": 100}).content
    )
    # and a second identical request is byte-identical too (cache hits render the same bytes)
    assert get(a, "/gamma/markets", {"limit": 100, "include_tag": "true"}).content == (
        get(a, "/gamma/markets", {"limit": 100, "include_tag": "true"}).content
    )
