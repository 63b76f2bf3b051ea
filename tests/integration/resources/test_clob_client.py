"""The CLOB client against the sandbox: windowed history equals the venue's path; books; resolution."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from mca_core.records import Book, ClobMarket
from mca_resources.clob import ClobClient
from mca_resources.errors import ClientError
from mca_resources.http import HttpUpstream, RetryPolicy
from mca_sandbox.world import LIVE, RESOLVED_FALSE, RESOLVED_TRUE

DAY = 86_400


def client(urls: dict[str, str]) -> ClobClient:
    return ClobClient(
        HttpUpstream(urls["clob"], name="clob", retry=RetryPolicy(attempts=4, initial_s=0.001), limits={})
    )


def long_lived_market(world, min_days: int) -> int:
    life = world.event_resolved[world.market_event] - world.event_created[world.market_event]
    candidates = np.flatnonzero((life > min_days * DAY) & np.isin(world.market_label, [RESOLVED_TRUE, RESOLVED_FALSE]))
    assert candidates.size, f"no market living {min_days} days in this world"
    return int(candidates[0])


async def test_ninety_days_of_hourly_history_equals_the_venue_path(sandbox_factory) -> None:
    box = sandbox_factory(markets=3000)
    m = long_lived_market(box.world, 95)
    e = int(box.world.market_event[m])
    end = int(box.world.event_resolved[e])
    start = end - 90 * DAY
    yes, _ = box.world.token_ids(m)
    clob = client(box.urls)
    history = await clob.prices_history(yes, start, end, fidelity_min=60)
    await clob.http.aclose()
    truth = httpx.get(
        f"{box.base}/_truth/markets/{box.world.market_id(m)}",
        params={"paths": 1, "fidelity": 60, "start": start, "end": end},
    ).json()["paths"]
    expected = [(t, p) for t, p in zip(truth["t"], truth["p_market"], strict=True) if start <= t <= end]
    got = [(int(pt.ts.timestamp()), pt.p) for pt in history.points]
    assert history.windows >= 7  # 90 days in windows the server accepts
    assert len(got) >= 89 * 24
    assert got == expected
    assert history.rejections == []


async def test_windows_do_not_duplicate_points(sandbox) -> None:
    m = long_lived_market(sandbox.world, 20)
    yes, _ = sandbox.world.token_ids(m)
    e = int(sandbox.world.market_event[m])
    clob = client(sandbox.urls)
    history = await clob.prices_history(
        yes, int(sandbox.world.event_created[e]), int(sandbox.world.event_resolved[e]), fidelity_min=30
    )
    await clob.http.aclose()
    stamps = [p.ts for p in history.points]
    assert stamps == sorted(set(stamps))


async def test_bad_range_is_refused_before_any_request(sandbox) -> None:
    clob = client(sandbox.urls)
    with pytest.raises(ValueError, match="before start"):
        await clob.prices_history("1", 200, 100)
    assert clob.http.counters.requests == 0
    await clob.http.aclose()


async def test_book_of_a_live_market_is_ordered_best_first(sandbox) -> None:
    m = int(np.flatnonzero(sandbox.world.market_label == LIVE)[0])
    yes, _ = sandbox.world.token_ids(m)
    clob = client(sandbox.urls)
    book = await clob.book(yes)
    await clob.http.aclose()
    assert isinstance(book, Book)
    assert book.asset_id == yes
    assert [lvl.price for lvl in book.bids] == sorted((lvl.price for lvl in book.bids), reverse=True)
    assert [lvl.price for lvl in book.asks] == sorted(lvl.price for lvl in book.asks)
    assert book.best_bid is not None
    assert book.best_ask is not None
    assert book.best_bid < book.best_ask


async def test_book_of_a_closed_market_is_a_404(sandbox) -> None:
    m = int(np.flatnonzero(sandbox.world.market_label == RESOLVED_TRUE)[0])
    clob = client(sandbox.urls)
    with pytest.raises(ClientError) as info:
        await clob.book(sandbox.world.token_ids(m)[0])
    await clob.http.aclose()
    assert info.value.status == 404


async def test_resolution_winner_matches_the_truth(sandbox) -> None:
    clob = client(sandbox.urls)
    resolved = np.flatnonzero(np.isin(sandbox.world.market_label, [RESOLVED_TRUE, RESOLVED_FALSE]))[:20]
    for m in resolved:
        market = await clob.market(sandbox.world.condition_id(int(m)))
        assert isinstance(market, ClobMarket)
        yes, no = sandbox.world.token_ids(int(m))
        assert market.winner_token_id == (yes if sandbox.world.market_outcome[m] else no)
    await clob.http.aclose()


async def test_batches_of_twenty_equal_the_single_token_path_and_land_their_request(sandbox) -> None:
    live = np.flatnonzero(sandbox.world.market_label == LIVE)[:45]
    tokens = [sandbox.world.token_ids(int(m))[0] for m in live] + ["0"]  # and a token the venue does not know
    end = int(sandbox.world.config.as_of_ts)
    start = end - 20 * DAY  # two windows at hourly fidelity
    pages = []
    clob = ClobClient(
        HttpUpstream(
            sandbox.urls["clob"],
            name="clob",
            retry=RetryPolicy(attempts=2, initial_s=0.001),
            limits={},
            raw_sink=pages.append,
        )
    )
    done: list[int] = []
    batched = await clob.prices_histories(tokens, start, end, fidelity_min=60, on_done=done.append)
    singles = {t: await clob.prices_history(t, start, end, fidelity_min=60) for t in tokens}
    await clob.http.aclose()
    assert clob.batch
    assert sum(done) == len(tokens)
    assert set(batched) == set(tokens)
    for token in tokens:
        assert [(p.ts, p.p) for p in batched[token].points] == [(p.ts, p.p) for p in singles[token].points]
    assert batched["0"].points == []
    assert any(batched[t].points for t in tokens[:-1])
    batch_pages = [p for p in pages if p.source == "clob.batch_prices_history"]
    assert len(tokens) > 20
    assert len(batch_pages) == -(-len(tokens) // 20) * 2  # batches of <= 20 tokens, two windows each
    assert all(len(p.request["markets"]) <= 20 for p in batch_pages)


async def test_an_upstream_without_the_batch_route_falls_back_to_one_request_per_token(sandbox_factory) -> None:
    box = sandbox_factory(markets=200)
    httpx.post(box.urls["faults"], json=[{"route": "clob.batch_prices_history", "status": {"404": 1.0}}])
    live = np.flatnonzero(box.world.market_label == LIVE)[:5]
    tokens = [box.world.token_ids(int(m))[0] for m in live]
    end = int(box.world.config.as_of_ts)
    clob = client(box.urls)
    found = await clob.prices_histories(tokens, end - 2 * DAY, end, fidelity_min=60)
    expected = {t: await clob.prices_history(t, end - 2 * DAY, end, fidelity_min=60) for t in tokens}
    await clob.http.aclose()
    assert not clob.batch
    assert {t: len(h.points) for t, h in found.items()} == {t: len(h.points) for t, h in expected.items()}
    assert all(found[t].points for t in tokens)
