"""The subgraph client against the sandbox: metrics equal the truth; failures are reported per chunk."""

from __future__ import annotations

import httpx
import pytest

from mca_resources.errors import GraphQLError
from mca_resources.http import HttpUpstream, RetryPolicy
from mca_resources.subgraph import OI_SUBGRAPH, ORDERBOOK_SUBGRAPH, MarketTokens, SubgraphClient
from mca_sandbox.faults import FaultRule


def client(urls: dict[str, str], attempts: int = 4) -> SubgraphClient:
    retry = RetryPolicy(attempts=attempts, initial_s=0.001, max_s=0.01)
    return SubgraphClient(HttpUpstream(urls["subgraph"], name="subgraph", retry=retry, limits={}))


def tokens(world, m: int) -> MarketTokens:
    yes, no = world.token_ids(m)
    return MarketTokens(world.condition_id(m), yes, no)


async def test_metrics_equal_the_subgraph_truth(sandbox) -> None:
    markets = [tokens(sandbox.world, m) for m in range(0, 250)]
    sg = client(sandbox.urls)
    report = await sg.metrics(markets)
    await sg.http.aclose()
    assert report.complete
    assert len(report.rows) == 250
    for row in report.rows[:40]:
        truth = httpx.get(f"{sandbox.base}/_truth/subgraph/{row.condition_id}").json()
        oi = truth["marketOpenInterest"]
        assert row.open_interest_usd == (int(oi["amount"]) / 1e6 if oi else None)
        books = truth["orderbooks"]
        if books:
            assert row.volume_usd == pytest.approx(sum(float(b["scaledCollateralVolume"]) for b in books), abs=1e-9)
            assert row.trade_count == sum(int(b["tradesQuantity"]) for b in books)
        else:
            assert row.volume_usd is None
            assert row.trade_count is None


async def test_keyset_crawl_enumerates_every_orderbook_once(sandbox_factory) -> None:
    box = sandbox_factory(markets=1200)
    sg = client(box.urls)
    ids: list[str] = []
    async for page in sg.pages(ORDERBOOK_SUBGRAPH, "orderbooks_page", "orderbooks"):
        ids.extend(row["id"] for row in page)
    await sg.http.aclose()
    counts = httpx.get(f"{box.base}/_truth/subgraph").json()["deployments"][ORDERBOOK_SUBGRAPH]
    assert len(ids) == len(set(ids)) == counts["Orderbook"]
    assert ids == sorted(ids)


async def test_failed_chunks_are_reported_with_their_ids(sandbox_factory) -> None:
    box = sandbox_factory(markets=400, rules=[FaultRule(route="subgraph", status={500: 0.5})])
    markets = [tokens(box.world, m) for m in range(400)]
    sg = client(box.urls, attempts=1)
    report = await sg.metrics(markets)
    await sg.http.aclose()
    assert report.failures, "with half the requests failing, some chunk must fail"
    assert not report.complete
    failed = {i for f in report.failures for i in f.ids}
    got = {r.condition_id for r in report.rows}
    for m in markets:
        missing = m.condition_id in failed or m.yes_token_id in failed or m.no_token_id in failed
        assert (m.condition_id not in got) == missing
    assert all("HTTP 500" in f.reason for f in report.failures)
    assert all(len(f.ids) <= 100 for f in report.failures)


async def test_graphql_errors_are_surfaced(sandbox) -> None:
    sg = client(sandbox.urls)
    with pytest.raises(GraphQLError, match="between 0 and 1000"):
        await sg.execute(OI_SUBGRAPH, "open_interest_page", {"last": "", "first": 1001}, "oversized page")
    await sg.http.aclose()
