"""The fault plan: parsing, reproducible rates, and what the middleware does to a response."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mca_sandbox.appkeys import FAULTS
from mca_sandbox.faults import FaultRule, FaultState, fault_middleware, parse_plan
from mca_sandbox.faults import setup as faults_setup


def test_compact_plan_parses_every_kind() -> None:
    rules = parse_plan(
        "gamma.*:429=0.05,500=0.1,malformed=0.01,latency_ms=3;ws.market:disconnect_after=2000,duplicate=0.02"
    )
    assert rules[0].route == "gamma.*"
    assert rules[0].status == {429: 0.05, 500: 0.1}
    assert rules[0].malformed_rate == 0.01
    assert rules[0].latency_ms == 3
    assert rules[1].disconnect_after == 2000
    assert rules[1].duplicate_rate == 0.02


def test_json_plan_parses() -> None:
    rules = parse_plan(json.dumps({"rules": [{"route": "clob.*", "status": {"503": 0.5}, "throttle": True}]}))
    assert rules == [FaultRule(route="clob.*", status={503: 0.5}, throttle=True)]


@pytest.mark.parametrize(
    "spec",
    ['[{"route": "x", "bogus": 1}]', '[{"status": {"200": 0.5}}]', '[{"malformed_rate": 2}]'],
)
def test_bad_plan_is_refused_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match=r"unknown|4xx|probability"):
        parse_plan(spec)


def test_status_faults_fire_at_the_configured_rate() -> None:
    state = FaultState([FaultRule(route="gamma.*", status={500: 0.1, 429: 0.05})], seed=1)
    n = 20_000
    statuses = [state.decide("gamma.markets_keyset").status for _ in range(n)]
    share_500 = statuses.count(500) / n
    share_429 = statuses.count(429) / n
    assert abs(share_500 - 0.1) < 4 * (0.1 * 0.9 / n) ** 0.5
    # 429 is drawn only when 500 did not fire: 0.9 * 0.05
    assert abs(share_429 - 0.045) < 4 * (0.045 * 0.955 / n) ** 0.5
    assert state.fired["gamma.markets_keyset:500"] == statuses.count(500)
    assert all(state.decide("clob.book").status is None for _ in range(100))


def test_same_seed_gives_the_same_fault_sequence() -> None:
    rules = [FaultRule(status={500: 0.3})]
    a, b = FaultState(rules, seed=4), FaultState(rules, seed=4)
    assert [a.decide("r").status for _ in range(200)] == [b.decide("r").status for _ in range(200)]


def test_throttle_queues_past_the_published_limit() -> None:
    state = FaultState([FaultRule(route="gamma.markets_keyset", throttle=True)])
    delays = [state.decide("gamma.markets_keyset").delay_s for _ in range(301)]
    assert all(d == 0 for d in delays[:300])
    assert 9.0 < delays[300] <= 10.0


async def _client(rules: list[FaultRule]) -> TestClient:
    async def page(_: web.Request) -> web.Response:
        return web.json_response({"markets": [{"id": "1"}, {"id": "2"}], "next_cursor": "abc"})

    app = web.Application(middlewares=[fault_middleware])
    app[FAULTS] = FaultState(rules, seed=2)
    app.router.add_get("/page", page, name="test.page")
    faults_setup(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_injected_429_carries_retry_after() -> None:
    client = await _client([FaultRule(route="test.*", status={429: 1.0}, retry_after=2.5)])
    try:
        resp = await client.get("/page")
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2.5"
    finally:
        await client.close()


async def test_truncated_malformed_and_empty_bodies() -> None:
    client = await _client([FaultRule(route="test.*", empty_rate=1.0)])
    try:
        assert await (await client.get("/page")).json() == {"markets": [], "next_cursor": "abc"}
        await client.post("/_faults", json=[{"route": "test.*", "truncate_rate": 1.0}])
        body = await (await client.get("/page")).text()
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
        await client.post("/_faults", json={"spec": "test.*:malformed=1"})
        body = await (await client.get("/page")).text()
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
        described = await (await client.get("/_faults")).json()
        assert described["fired"] == {"test.page:malformed": 1}
    finally:
        await client.close()


async def test_bad_plan_posted_at_run_time_gets_400_and_keeps_the_old_plan() -> None:
    client = await _client([FaultRule(route="test.*", status={503: 1.0})])
    try:
        resp = await client.post("/_faults", json=[{"route": "x", "nope": 1}])
        assert resp.status == 400
        assert "unknown fault rule field" in (await resp.json())["error"]
        assert (await client.get("/page")).status == 503
    finally:
        await client.close()
