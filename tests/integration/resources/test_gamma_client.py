"""The Gamma client against the sandbox over loopback: complete, exactly-once crawls that survive faults."""

from __future__ import annotations

import httpx
import pytest

from mca_resources.errors import RetriesExhausted
from mca_resources.gamma import GammaClient, GammaFilters
from mca_resources.http import HttpUpstream, RetryPolicy
from mca_sandbox.faults import FaultRule

FAST_RETRY = RetryPolicy(attempts=8, initial_s=0.005, max_s=0.05, max_retry_after_s=0.05)


def client(urls: dict[str, str], retry: RetryPolicy = FAST_RETRY) -> GammaClient:
    return GammaClient(HttpUpstream(urls["gamma"], name="gamma", retry=retry, limits={}, timeout_s=5))


def truth_ids(base: str) -> tuple[list[str], list[str]]:
    body = httpx.get(f"{base}/_truth/gamma_ids").json()
    return body["market_ids"], body["event_ids"]


async def test_crawl_returns_every_market_exactly_once(sandbox) -> None:
    gamma = client(sandbox.urls)
    crawl = await gamma.markets()
    await gamma.http.aclose()
    market_ids, _ = truth_ids(sandbox.base)
    got = [m.market_id for m in crawl.records]
    assert sorted(got) == sorted(market_ids)
    assert crawl.stats.duplicates == 0
    assert crawl.rejections == []
    assert crawl.stats.pages == -(-len(market_ids) // 100)


async def test_event_crawl_keeps_nested_markets(sandbox) -> None:
    gamma = client(sandbox.urls)
    crawl = await gamma.events()
    await gamma.http.aclose()
    _, event_ids = truth_ids(sandbox.base)
    assert sorted(e.event_id for e in crawl.records) == sorted(event_ids)
    nested = sorted(m.market_id for e in crawl.records for m in e.markets)
    assert nested == sorted(truth_ids(sandbox.base)[0])


async def test_filters_are_resent_on_every_page(sandbox) -> None:
    gamma = client(sandbox.urls)
    closed = await gamma.markets(GammaFilters(closed=True))
    live = await gamma.markets(GammaFilters(closed=False))
    await gamma.http.aclose()
    assert all(m.closed for m in closed.records)
    assert not any(m.closed for m in live.records)
    assert len(closed.records) + len(live.records) == len(truth_ids(sandbox.base)[0])


async def test_crawl_of_20000_markets_survives_faults(sandbox_factory) -> None:
    rules = [
        FaultRule(
            route="gamma.*", status={500: 0.05, 502: 0.03, 503: 0.02, 429: 0.05}, retry_after=0.01, malformed_rate=0.01
        )
    ]
    box = sandbox_factory(markets=20_000, rules=rules)
    gamma = client(box.urls, RetryPolicy(attempts=12, initial_s=0.002, max_s=0.02, max_retry_after_s=0.02))
    crawl = await gamma.markets()
    await gamma.http.aclose()
    market_ids, _ = truth_ids(box.base)
    got = [m.market_id for m in crawl.records]
    assert len(got) == len(set(got)) == len(market_ids) == 20_000
    assert set(got) == set(market_ids)
    fired = httpx.get(f"{box.base}/_faults").json()["fired"]
    assert sum(v for k, v in fired.items() if k.endswith((":500", ":502", ":503"))) > 0
    assert fired.get("gamma.markets_keyset:429", 0) > 0
    assert gamma.http.counters.retries >= sum(fired.values())


async def test_crawl_whose_retries_run_out_fails_loudly_naming_the_page(sandbox_factory) -> None:
    box = sandbox_factory(markets=500)
    gamma = client(box.urls, RetryPolicy(attempts=3, initial_s=0.001, max_s=0.005))
    httpx.post(f"{box.base}/_faults", json=[{"route": "gamma.markets_keyset", "status": {"503": 1.0}}])
    with pytest.raises(RetriesExhausted) as info:
        await gamma.markets()
    await gamma.http.aclose()
    assert info.value.attempts == 3
    assert "markets page 1" in str(info.value)
    assert info.value.last.status == 503  # type: ignore[attr-defined]


async def test_empty_page_with_a_cursor_is_asked_again(sandbox_factory) -> None:
    box = sandbox_factory(markets=1000, rules=[FaultRule(route="gamma.markets_keyset", empty_rate=0.2)])
    gamma = client(box.urls)
    crawl = await gamma.markets()
    await gamma.http.aclose()
    assert len({m.market_id for m in crawl.records}) == 1000
    assert crawl.stats.empty_page_retries > 0


async def test_legacy_fallback_hits_the_offset_cap_loudly(sandbox_factory) -> None:
    from mca_resources.errors import PaginationError

    box = sandbox_factory(markets=3000)
    httpx.post(f"{box.base}/_faults", json=[{"route": "gamma.markets_keyset", "status": {"404": 1.0}}])
    gamma = client(box.urls)
    with pytest.raises(PaginationError, match="offset cap"):
        await gamma.markets()
    await gamma.http.aclose()
    assert gamma.http.counters.requests > 20


async def test_legacy_fallback_completes_below_the_cap(sandbox_factory) -> None:
    box = sandbox_factory(markets=1500)
    httpx.post(f"{box.base}/_faults", json=[{"route": "gamma.markets_keyset", "status": {"404": 1.0}}])
    gamma = client(box.urls)
    crawl = await gamma.markets()
    await gamma.http.aclose()
    assert crawl.stats.mode == "legacy"
    assert sorted(m.market_id for m in crawl.records) == sorted(truth_ids(box.base)[0])


async def test_condition_ids_are_chunked_by_100(sandbox_factory) -> None:
    box = sandbox_factory(markets=400)
    wanted = [box.world.condition_id(m) for m in range(0, 400, 2)]  # 200 ids -> 2 requests
    gamma = client(box.urls)
    crawl = await gamma.markets(GammaFilters(condition_ids=wanted))
    await gamma.http.aclose()
    assert sorted(m.condition_id for m in crawl.records) == sorted(wanted)
    assert crawl.stats.pages >= 2


async def test_single_market_and_event(sandbox) -> None:
    gamma = client(sandbox.urls)
    market = await gamma.market("500010")
    event = await gamma.event(sandbox.world.event_id(int(sandbox.world.market_event[10])))
    await gamma.http.aclose()
    assert market.market_id == "500010"  # type: ignore[union-attr]
    assert "500010" in [m.market_id for m in event.markets]  # type: ignore[union-attr]


async def test_bad_records_are_rejected_with_reasons_and_the_crawl_goes_on(sandbox_factory) -> None:
    box = sandbox_factory(markets=3000, rules=[FaultRule(route="gamma.markets_keyset", corrupt_rate=0.03)])
    gamma = client(box.urls)
    crawl = await gamma.markets()
    await gamma.http.aclose()
    corrupted = httpx.get(f"{box.base}/_faults").json()["fired"]["gamma.markets_keyset:corrupt"]
    assert corrupted > 30
    assert len(crawl.rejections) == crawl.stats.rejected == corrupted
    assert len(crawl.records) + corrupted == 3000
    assert all(r.reason for r in crawl.rejections)
    reasons = " ".join(r.reason for r in crawl.rejections)
    for word in ("id", "NaN", "outcomePrices", "clobTokenIds"):
        assert word.lower() in reasons.lower(), word
