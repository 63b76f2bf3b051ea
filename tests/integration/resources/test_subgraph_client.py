"""The subgraph client against the sandbox: metrics equal the truth; failures are reported per chunk."""

from __future__ import annotations

import httpx
import pytest

from mca_resources.errors import GraphQLError
from mca_resources.http import HttpUpstream, RetryPolicy
from mca_resources.subgraph import IDS_PER_CHUNK, OI_SUBGRAPH, ORDERBOOK_SUBGRAPH, MarketTokens, SubgraphClient
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
    box = sandbox_factory(markets=2500, rules=[FaultRule(route="subgraph", status={500: 0.5})])
    markets = [tokens(box.world, m) for m in range(2500)]
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
    assert all(len(f.ids) <= IDS_PER_CHUNK for f in report.failures)


async def test_graphql_errors_are_surfaced(sandbox) -> None:
    sg = client(sandbox.urls)
    with pytest.raises(GraphQLError, match="between 0 and 1000"):
        await sg.execute(OI_SUBGRAPH, "open_interest_page", {"last": "", "first": 1001}, "oversized page")
    await sg.http.aclose()


async def test_blocks_at_finds_the_block_of_each_instant_and_metrics_travel_to_it(sandbox) -> None:
    from mca_sandbox.subgraph import POLYGON_GENESIS_TS, block_number

    head_ts = int(sandbox.world.config.as_of_ts)
    times = [head_ts - 86_400 * 3 + 3600 * h for h in range(0, 48, 5)]
    sg = client(sandbox.urls)
    blocks = await sg.blocks_at(times)
    assert {t: b.number for t, b in blocks.items()} == {t: block_number(t) for t in times}
    assert all(b.timestamp == POLYGON_GENESIS_TS + 2 * b.number for b in blocks.values())
    markets = [tokens(sandbox.world, m) for m in range(0, 120)]
    t = times[0]
    report = await sg.metrics(markets, block=blocks[t].number)
    with pytest.raises(ValueError, match="after the head"):
        await sg.blocks_at([head_ts + 3600])
    await sg.http.aclose()
    assert report.complete
    assert report.block == blocks[t]
    at = {r.condition_id: r for r in report.rows}
    for condition_id in list(at)[:30]:
        truth = httpx.get(f"{sandbox.base}/_truth/subgraph/{condition_id}", params={"ts": blocks[t].timestamp}).json()
        oi = truth["marketOpenInterest"]
        assert at[condition_id].open_interest_usd == (int(oi["amount"]) / 1e6 if oi else None)
        books = truth["orderbooks"]
        expected = sum(float(b["scaledCollateralVolume"]) for b in books) if books else None
        assert at[condition_id].volume_usd == (pytest.approx(expected, abs=1e-9) if books else None)
