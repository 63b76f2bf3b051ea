"""The subgraph fake over loopback: keyset crawls, graph-node errors, HTTP status codes and ground truth."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mca_sandbox.faults import FaultRule
from mca_sandbox.world import LIVE

OI = "oi-subgraph/0.0.6"
BOOKS = "orderbook-subgraph/0.0.1"
BOOK_FIELDS = (
    "id tradesQuantity buysQuantity sellsQuantity collateralVolume scaledCollateralVolume collateralBuyVolume "
    "scaledCollateralBuyVolume collateralSellVolume scaledCollateralSellVolume"
)


#: One pooled client for the module (a fresh httpx client per request costs ~50 ms of TLS set-up).
HTTP = httpx.Client(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _close_client():
    yield
    HTTP.close()


@pytest.fixture
def big(sandbox_factory):
    """1,200 markets: 2,400 orderbooks, so a keyset crawl at first=1000 takes three pages."""
    return sandbox_factory(markets=1200, seed=11)


def post(box: Any, deployment: str, query: str, variables: dict | None = None) -> httpx.Response:
    body: dict = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return HTTP.post(f"{box.base}/subgraphs/{deployment}/gn", json=body, timeout=30)


def data(box: Any, deployment: str, query: str, variables: dict | None = None) -> dict:
    response = post(box, deployment, query, variables)
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def errors(box: Any, deployment: str, query: str, variables: dict | None = None) -> list[str]:
    response = post(box, deployment, query, variables)
    assert response.status_code == 200  # graph-node answers GraphQL problems with 200
    body = response.json()
    assert "data" not in body
    return [e["message"] for e in body["errors"]]


def traded_tokens(world) -> set[str]:
    """Tokens with an Orderbook: markets Gamma shows with a volume (at least 100 USD simulated)."""
    return {t for m in range(world.n_markets) if world.market_volume[m] >= 100 for t in world.token_ids(m)}


def expected_open_interest(world, m: int) -> int:
    """Micro-USDC open interest: the world's while live, 0 once closed (as Gamma's event openInterest)."""
    return round(world.market_open_interest[m] * 10**6) if world.market_label[m] == LIVE else 0


def crawl(box: Any, deployment: str, entity: str, fields: str) -> tuple[list[dict], int]:
    query = f"query P($last: String!) {{ {entity}(first: 1000, where: {{id_gt: $last}}) {{ {fields} }} }}"
    rows: list[dict] = []
    last, pages = "", 0
    while True:
        page = data(box, deployment, query, {"last": last})[entity]
        pages += 1
        rows += page
        if len(page) < 1000:
            return rows, pages
        last = page[-1]["id"]


def test_keyset_crawl_enumerates_every_orderbook_once_with_truth_values(big):
    rows, pages = crawl(big, BOOKS, "orderbooks", BOOK_FIELDS)
    world = big.world
    expected_tokens = traded_tokens(world)
    ids = [r["id"] for r in rows]
    assert pages == 3
    assert 2000 < len(ids) == len(set(ids)) == len(expected_tokens)
    assert set(ids) == expected_tokens
    assert ids == sorted(ids)  # string order, the order id_gt pages in
    by_id = {r["id"]: r for r in rows}
    for m in range(0, world.n_markets, 37):
        truth = HTTP.get(f"{big.base}/_truth/subgraph/{world.condition_id(m)}").json()
        assert truth["market_id"] == world.market_id(m)
        assert len(truth["orderbooks"]) == (2 if world.market_volume[m] >= 100 else 0)
        for book in truth["orderbooks"]:
            assert by_id[book["id"]] == book


def test_orderbook_numbers_are_consistent_with_each_other_and_the_world(big):
    rows, _ = crawl(big, BOOKS, "orderbooks", BOOK_FIELDS)
    by_id = {r["id"]: r for r in rows}
    world = big.world
    for r in rows:
        assert int(r["buysQuantity"]) + int(r["sellsQuantity"]) == int(r["tradesQuantity"])
        assert int(r["buysQuantity"]) >= 1
        assert int(r["sellsQuantity"]) >= 1
        assert int(r["collateralBuyVolume"]) + int(r["collateralSellVolume"]) == int(r["collateralVolume"])
        for raw, scaled in (
            ("collateralVolume", "scaledCollateralVolume"),
            ("collateralBuyVolume", "scaledCollateralBuyVolume"),
            ("collateralSellVolume", "scaledCollateralSellVolume"),
        ):
            whole, _, frac = r[scaled].partition(".")
            assert int(whole) * 10**6 + int((frac or "0").ljust(6, "0")) == int(r[raw])
    for m in range(world.n_markets):
        if world.market_volume[m] < 100:
            assert not set(world.token_ids(m)) & set(by_id)
            continue
        yes, no = (by_id[t] for t in world.token_ids(m))
        assert int(yes["collateralVolume"]) + int(no["collateralVolume"]) == round(world.market_volume[m] * 10**6)
    summary = HTTP.get(f"{big.base}/_truth/subgraph").json()
    total = summary["ordersMatchedGlobal"]
    assert int(total["collateralVolume"]) == sum(int(r["collateralVolume"]) for r in rows)
    assert int(total["tradesQuantity"]) == sum(int(r["tradesQuantity"]) for r in rows)


def test_open_interest_crawl_matches_world_and_global_total(big):
    rows, pages = crawl(big, OI, "marketOpenInterests", "id amount")
    world = big.world
    assert pages == 2
    expected = {world.condition_id(m): expected_open_interest(world, m) for m in range(world.n_markets)}
    assert {r["id"]: int(r["amount"]) for r in rows} == expected
    assert 0 < sum(1 for v in expected.values() if v) < len(expected)  # live and closed markets both present
    glob = data(big, OI, '{ globalOpenInterest(id: "") { id amount } globalOpenInterests { amount } }')
    assert int(glob["globalOpenInterest"]["amount"]) == sum(expected.values())
    assert glob["globalOpenInterests"] == [{"amount": glob["globalOpenInterest"]["amount"]}]


def test_first_above_1000_is_a_graphql_error(sandbox):
    assert errors(sandbox, BOOKS, "{ orderbooks(first: 1001) { id } }") == [
        "The `first` argument must be between 0 and 1000, but is 1001"
    ]


def test_skip_above_5000_is_a_graphql_error(sandbox):
    assert errors(sandbox, OI, "{ marketOpenInterests(skip: 5001) { id } }") == [
        "The `skip` argument must be between 0 and 5000, but is 5001"
    ]


def test_unknown_field_is_an_error_naming_type_and_field(sandbox):
    response = post(sandbox, BOOKS, "{ orderbooks(first: 1) {\n  id\n  volume\n} }")
    assert response.json() == {
        "errors": [{"message": "Type `Orderbook` has no field `volume`", "locations": [{"line": 3, "column": 3}]}]
    }


def test_syntax_error_is_reported_with_location(sandbox):
    response = post(sandbox, BOOKS, "{ orderbooks(first: ) { id } }")
    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"message": 'Syntax Error: Unexpected ")".', "locations": [{"line": 1, "column": 21}]}
    ]


def test_where_id_in_returns_exactly_the_requested_entities(sandbox):
    world = sandbox.world
    wanted = [world.condition_id(m) for m in (3, 1, 250)]
    query = (
        "query Q($ids: [String!], $first: Int!) "
        "{ marketOpenInterests(first: $first, where: {id_in: $ids}) { id amount } }"
    )
    rows = data(sandbox, OI, query, {"ids": [*wanted, "0xdeadbeef"], "first": 10})["marketOpenInterests"]
    assert [r["id"] for r in rows] == sorted(wanted)
    for r in rows:
        m = next(m for m in (3, 1, 250) if world.condition_id(m) == r["id"])
        assert int(r["amount"]) == expected_open_interest(world, m)


def test_market_datas_map_tokens_to_conditions_and_outcome_index(sandbox):
    world = sandbox.world
    cid = world.condition_id(42)
    rows = data(sandbox, BOOKS, f'{{ marketDatas(where: {{condition: "{cid}"}}) {{ id condition outcomeIndex }} }}')
    yes, no = world.token_ids(42)
    assert sorted(rows["marketDatas"], key=lambda r: r["outcomeIndex"]) == [
        {"id": yes, "condition": cid, "outcomeIndex": "0"},
        {"id": no, "condition": cid, "outcomeIndex": "1"},
    ]


def test_order_direction_desc_sorts_by_value_then_reverses_asc(sandbox):
    q = "{ orderbooks(first: 1000, orderBy: collateralVolume, orderDirection: %s) { id collateralVolume } }"
    asc = data(sandbox, BOOKS, q % "asc")["orderbooks"]
    desc = data(sandbox, BOOKS, q % "desc")["orderbooks"]
    volumes = [int(r["collateralVolume"]) for r in desc]
    assert len(desc) == len(traded_tokens(sandbox.world))
    assert volumes == sorted(volumes, reverse=True)
    assert desc == asc[::-1]
    top = data(sandbox, BOOKS, q.replace("1000", "3") % "desc")["orderbooks"]
    assert top == desc[:3]


def test_keyset_descending_on_id_lt_enumerates_everything(sandbox):
    query = (
        "query P($last: String!) "
        "{ orderbooks(first: 250, orderBy: id, orderDirection: desc, where: {id_lt: $last}) { id } }"
    )
    seen, last = [], "\uffff"
    while True:
        page = data(sandbox, BOOKS, query, {"last": last})["orderbooks"]
        seen += [r["id"] for r in page]
        if len(page) < 250:
            break
        last = page[-1]["id"]
    assert seen == sorted(traded_tokens(sandbox.world), reverse=True)


def test_meta_reports_the_as_of_block(sandbox):
    meta = data(sandbox, OI, "{ _meta { block { number timestamp } hasIndexingErrors } }")["_meta"]
    assert meta["block"]["timestamp"] == sandbox.world.config.as_of_ts
    assert meta["block"]["number"] > 0
    assert meta["hasIndexingErrors"] is False


def test_unknown_deployment_is_404(sandbox):
    response = HTTP.post(f"{sandbox.base}/subgraphs/pnl-subgraph/0.0.14/gn", json={"query": "{ a { id } }"})
    assert response.status_code == 404
    assert "pnl-subgraph/0.0.14" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"variables": {}}', b'{"query": "{ a { id } }", "variables": [1]}'],
)
def test_malformed_body_is_400(sandbox, body):
    response = HTTP.post(
        f"{sandbox.base}/subgraphs/{OI}/gn", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


def test_subgraph_truth_is_404_for_unknown_condition(sandbox):
    assert HTTP.get(f"{sandbox.base}/_truth/subgraph/0xnope").status_code == 404


def test_fault_plan_applies_to_the_subgraph_route(sandbox_factory):
    box = sandbox_factory(markets=20, rules=[FaultRule(route="subgraph", status={503: 1.0})])
    response = post(box, OI, "{ marketOpenInterests { id } }")
    assert response.status_code == 503
    assert HTTP.get(f"{box.base}/_truth/subgraph").status_code == 200  # control routes are never faulted
    assert HTTP.get(f"{box.base}/_faults").json()["fired"] == {"subgraph:503": 1}
