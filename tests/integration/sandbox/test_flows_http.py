"""Volume and open interest over loopback: Gamma, the subgraphs (now and at an earlier block) and the truth agree."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from mca_sandbox.subgraph import POLYGON_BLOCK_SECONDS, POLYGON_GENESIS_TS
from mca_sandbox.world import DAY, LIVE
from tests.conftest import RunningSandbox

HTTP = httpx.Client(timeout=60)
OI = "oi-subgraph/0.0.6"
BOOKS = "orderbook-subgraph/0.0.1"


@pytest.fixture(scope="module", autouse=True)
def _close_client():
    yield
    HTTP.close()


def get(box: RunningSandbox, path: str, params: Any = None) -> httpx.Response:
    return HTTP.get(f"{box.base}{path}", params=params)


def gql(box: RunningSandbox, deployment: str, query: str, variables: dict | None = None) -> dict:
    body = HTTP.post(f"{box.base}/subgraphs/{deployment}/gn", json={"query": query, "variables": variables}).json()
    return body


def block_of(ts: int) -> int:
    return (ts - POLYGON_GENESIS_TS) // POLYGON_BLOCK_SECONDS


def ts_of(block: int) -> int:
    return POLYGON_GENESIS_TS + block * POLYGON_BLOCK_SECONDS


def truths(box: RunningSandbox) -> list[dict[str, Any]]:
    return get(box, "/_truth/markets", {"limit": 10000}).json()["markets"]


def subgraph_volume(box: RunningSandbox, tokens: list[str], block: int | None = None) -> dict[str, int]:
    at = f", block: {{number: {block}}}" if block is not None else ""
    query = (
        f"query Q($ids: [String!]) {{ orderbooks(first: 1000, where: {{id_in: $ids}}{at}) {{ id collateralVolume }} }}"
    )
    rows = gql(box, BOOKS, query, {"ids": tokens})["data"]["orderbooks"]
    return {r["id"]: int(r["collateralVolume"]) for r in rows}


def test_gamma_volume_equals_the_truth_and_the_subgraph_at_as_of(sandbox):
    checked = 0
    for t in truths(sandbox)[:150]:
        market = get(sandbox, f"/gamma/markets/{t['market_id']}").json()
        volume = subgraph_volume(sandbox, [t["yes_token_id"], t["no_token_id"]])
        if t["volume_usd"] < 100:
            assert "volumeNum" not in market
            assert volume == {}
            continue
        assert market["volumeNum"] == pytest.approx(t["volume_usd"], abs=1e-6)
        assert sum(volume.values()) == round(t["volume_usd"] * 10**6)
        checked += 1
    assert checked > 50


def test_volume_windows_are_trailing_differences_of_the_cumulative_volume(sandbox):
    as_of = sandbox.world.config.as_of_ts
    checked = 0
    for t in truths(sandbox):
        if t["label"] != "LIVE" or t["volume_usd"] < 100:
            continue
        market = get(sandbox, f"/gamma/markets/{t['market_id']}").json()
        m = sandbox.world.market_index(t["market_id"])
        for field, span in (("volume24hr", DAY), ("volume1wk", 7 * DAY), ("volume1mo", 30 * DAY)):
            before = round(float(sandbox.world.flow_path(m, np.array([as_of - span])).volume[0]), 6)
            assert market[field] == pytest.approx(round(t["volume_usd"] - before, 6), abs=2e-6), field
            assert market[field] <= market["volumeNum"]
        checked += 1
    assert checked >= 5


def test_the_truth_paths_carry_volume_and_open_interest_on_the_price_grid(sandbox):
    t = next(t for t in truths(sandbox) if t["label"] == "LIVE" and t["volume_usd"] > 1000)
    paths = get(sandbox, f"/_truth/markets/{t['market_id']}", {"paths": 1, "fidelity": 60}).json()["paths"]
    assert len(paths["volume"]) == len(paths["open_interest"]) == len(paths["t"]) == len(paths["p_market"]) > 10
    assert paths["volume"] == sorted(paths["volume"])
    assert paths["volume"][-1] <= t["volume_usd"]
    assert all(v > 0 for v in paths["open_interest"][1:])
    m = sandbox.world.market_index(t["market_id"])
    exact = sandbox.world.flow_path(m, np.array(paths["t"]))
    assert paths["volume"] == np.round(exact.volume, 6).tolist()


def test_an_earlier_block_answers_with_the_state_at_its_time(sandbox):
    w = sandbox.world
    head = block_of(w.config.as_of_ts)
    block = head - 20 * DAY // POLYGON_BLOCK_SECONDS
    at = ts_of(block)
    e = w.market_event
    traded_then = [m for m in range(w.n_markets) if w.event_created[e[m]] <= at < w.event_resolved[e[m]]][:40]
    assert len(traded_then) >= 10
    for m in traded_then:
        truth = get(sandbox, f"/_truth/subgraph/{w.condition_id(m)}", {"ts": at}).json()
        assert truth["ts"] == at
        assert truth["block_number"] == block
        tokens = list(w.token_ids(m))
        served = subgraph_volume(sandbox, tokens, block)
        assert served == {row["id"]: int(row["collateralVolume"]) for row in truth["orderbooks"]}
        exact = round(round(float(w.flow_path(m, np.array([at])).volume[0]), 6) * 10**6)
        assert sum(served.values()) == (exact if exact >= 100 * 10**6 else 0)
        assert sum(served.values()) <= sum(subgraph_volume(sandbox, tokens).values())  # volume only grows
        oi = gql(
            sandbox, OI, f'{{ marketOpenInterest(id: "{w.condition_id(m)}", block: {{number: {block}}}) {{ amount }} }}'
        )
        expected = round(round(float(w.flow_path(m, np.array([at])).open_interest[0]), 6) * 10**6)
        assert int(oi["data"]["marketOpenInterest"]["amount"]) == expected == int(truth["marketOpenInterest"]["amount"])


def test_markets_not_created_by_a_block_are_not_indexed_and_closed_ones_hold_no_open_interest(sandbox):
    w = sandbox.world
    at = ts_of(block_of(w.config.as_of_ts) - 30 * DAY // POLYGON_BLOCK_SECONDS)
    e = w.market_event
    later = [m for m in range(w.n_markets) if w.event_created[e[m]] > at][:5]
    closed = [m for m in range(w.n_markets) if w.event_resolved[e[m]] <= at][:5]
    assert later
    assert closed
    query = "query Q($ids: [String!]) { marketOpenInterests(where: {id_in: $ids}, block: {number: %d}) { id amount } }"
    ids = [w.condition_id(m) for m in later + closed]
    rows = gql(sandbox, OI, query % block_of(at), {"ids": ids})["data"]["marketOpenInterests"]
    assert {r["id"] for r in rows} == {w.condition_id(m) for m in closed}
    assert all(r["amount"] == "0" for r in rows)
    assert get(sandbox, f"/_truth/subgraph/{w.condition_id(later[0])}", {"ts": at}).status_code == 404


def test_meta_answers_for_the_queried_block_and_blocks_past_the_head_are_errors(sandbox):
    w = sandbox.world
    head = block_of(w.config.as_of_ts)
    meta = gql(sandbox, OI, "{ _meta { block { number timestamp } } }")["data"]["_meta"]["block"]
    assert meta == {"number": head, "timestamp": w.config.as_of_ts}
    older = gql(sandbox, OI, f"{{ _meta(block: {{number: {head - 500}}}) {{ block {{ number timestamp }} }} }}")
    assert older["data"]["_meta"]["block"] == {"number": head - 500, "timestamp": ts_of(head - 500)}
    latest = gql(sandbox, OI, f"{{ _meta(block: {{number_gte: {head - 500}}}) {{ block {{ number }} }} }}")
    assert latest["data"]["_meta"]["block"]["number"] == head
    now = gql(sandbox, BOOKS, "{ orderbooks(first: 5) { id collateralVolume } }")["data"]
    gte = gql(sandbox, BOOKS, f"{{ orderbooks(first: 5, block: {{number_gte: {head}}}) {{ id collateralVolume }} }}")
    assert gte["data"] == now
    for arg in ("number", "number_gte"):
        body = gql(sandbox, BOOKS, f"{{ orderbooks(block: {{{arg}: {head + 10}}}) {{ id }} }}")
        [message] = [e["message"] for e in body["errors"]]
        assert f"has only indexed up to block number {head} and data for block number {head + 10}" in message
        assert "is therefore not yet available" in message
    for bad in ('{hash: "0xab"}', "{number: -1}", '{number: "x"}', "{numbr: 5}"):
        body = gql(sandbox, BOOKS, f"{{ orderbooks(block: {bad}) {{ id }} }}")
        assert "errors" in body, bad
        assert "data" not in body, bad


def test_open_interest_of_live_events_sums_the_subgraph_amounts(sandbox):
    w = sandbox.world
    events = get(sandbox, "/gamma/events", {"closed": "false", "limit": 100}).json()
    assert events
    for event in events[:30]:
        ids = [market["conditionId"] for market in event["markets"]]
        rows = gql(sandbox, OI, "query Q($ids: [String!]) { marketOpenInterests(where: {id_in: $ids}) { amount } }",
                   {"ids": ids})["data"]["marketOpenInterests"]  # fmt: skip
        assert event["openInterest"] == pytest.approx(sum(int(r["amount"]) for r in rows) / 10**6, abs=1e-5)
        first = w.market_index(event["markets"][0]["id"])
        assert w.market_label[first] == LIVE
