"""Episodes and clarity over loopback: the truth lists them, and the venue's prices, volumes and texts show them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

from mca_sandbox.episodes import KINDS
from tests.conftest import RunningSandbox

HTTP = httpx.Client(timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _close_client():
    yield
    HTTP.close()


def get(box: RunningSandbox, path: str, params: Any = None) -> httpx.Response:
    return HTTP.get(f"{box.base}{path}", params=params)


@pytest.fixture(scope="module")
def pair() -> Any:
    """The same world with busy manipulation and without: the second is the first one's base."""
    from tests.conftest import start_sandbox

    busy = start_sandbox(markets=600, seed=31, manipulation_rate=4.0)
    quiet = start_sandbox(markets=600, seed=31, manipulation_rate=0.0)
    yield busy, quiet
    busy.stop()
    quiet.stop()


def all_episodes(box: RunningSandbox, **params: Any) -> list[dict[str, Any]]:
    body = get(box, "/_truth/episodes", {"limit": 10000, **params}).json()
    assert body["total"] == len(body["episodes"])
    return body["episodes"]


def history(box: RunningSandbox, token: str, start: int, end: int) -> dict[int, float]:
    rows = get(box, "/clob/prices-history", {"market": token, "startTs": start, "endTs": end, "fidelity": 1}).json()
    return {row["t"]: row["p"] for row in rows["history"]}


def test_episodes_are_listed_with_their_fields_and_filtered(sandbox):
    episodes = all_episodes(sandbox)
    assert {e["kind"] for e in episodes} == set(KINDS)
    as_of = sandbox.world.config.as_of_ts
    for e in episodes:
        assert set(e) == {"episode_id", "market_id", "event_id", "kind", "start_ts", "end_ts", "magnitude",
                          "price_move_ts", "volume_start_ts", "volume_end_ts", "volume_usd", "volume_multiple",
                          "open_interest_usd", "trades"}  # fmt: skip
        assert e["start_ts"] <= as_of
        assert e["start_ts"] < e["end_ts"]
        assert e["volume_usd"] > 0
        assert (e["price_move_ts"] is None) == (e["kind"] == "wash")
    pumps = all_episodes(sandbox, kind="pump_and_revert")
    assert pumps == [e for e in episodes if e["kind"] == "pump_and_revert"]
    market = pumps[0]["market_id"]
    assert all_episodes(sandbox, market_id=market) == [e for e in episodes if e["market_id"] == market]
    start, end = pumps[0]["start_ts"], pumps[0]["end_ts"]
    window = all_episodes(sandbox, start=start, end=end)
    assert pumps[0] in window
    assert all(e["end_ts"] > start and e["start_ts"] < end for e in window)
    assert get(sandbox, "/_truth/episodes", {"kind": "bogus"}).status_code == 400
    assert get(sandbox, "/_truth/episodes", {"market_id": "1"}).status_code == 404
    assert get(sandbox, "/_truth/episodes", {"start": "x"}).status_code == 400


def test_a_market_truth_carries_its_clarity_and_episodes(sandbox):
    by_market: dict[str, list[dict[str, Any]]] = {}
    for e in all_episodes(sandbox):
        by_market.setdefault(e["market_id"], []).append(e)
    market_id, episodes = next(iter(by_market.items()))
    truth = get(sandbox, f"/_truth/markets/{market_id}").json()
    assert truth["episodes"] == episodes
    assert set(truth["clarity"]) == {"clear", "kinds"}
    assert truth["clarity"]["clear"] == (truth["clarity"]["kinds"] == [])


def test_a_pump_moves_the_served_price_inside_its_window_and_reverts(pair):
    busy, quiet = pair
    checked = 0
    for e in all_episodes(busy, kind="pump_and_revert"):
        if (
            abs(e["magnitude"]) < 0.05
            or len(all_episodes(busy, market_id=e["market_id"]))
            != len(all_episodes(quiet, market_id=e["market_id"])) + 1
        ):
            continue
        truth = get(busy, f"/_truth/markets/{e['market_id']}").json()
        token = truth["yes_token_id"]
        start, end = e["start_ts"] - 1800, e["end_ts"] + 1800
        mine, base = history(busy, token, start, end), history(quiet, token, start, end)
        assert mine.keys() == base.keys()
        moved = {t: mine[t] - base[t] for t in mine}
        peak = max(moved.values(), key=abs)
        assert peak == pytest.approx(e["magnitude"], abs=0.011)
        assert all(abs(d) < 1e-9 for t, d in moved.items() if t < e["start_ts"] or t > e["end_ts"])
        tail = [d for t, d in moved.items() if e["end_ts"] - 0.08 * (e["end_ts"] - e["start_ts"]) < t <= e["end_ts"]]
        assert all(abs(d) < 1e-9 for d in tail)  # reverted before the episode ends
        checked += 1
        if checked == 5:
            break
    assert checked == 5


def test_wash_bursts_add_volume_to_gamma_but_leave_the_served_price(pair):
    busy, quiet = pair
    as_of = busy.world.config.as_of_ts
    checked = 0
    for e in all_episodes(busy, kind="wash"):
        mine = all_episodes(busy, market_id=e["market_id"])
        if [x["kind"] for x in mine] != ["wash"] or all_episodes(quiet, market_id=e["market_id"]):
            continue
        token = get(busy, f"/_truth/markets/{e['market_id']}").json()["yes_token_id"]
        start, end = e["start_ts"] - 600, e["end_ts"] + 600
        assert history(busy, token, start, end) == history(quiet, token, start, end)
        if e["end_ts"] <= as_of:
            volumes = [get(b, f"/_truth/markets/{e['market_id']}").json()["volume_usd"] for b in (busy, quiet)]
            assert volumes[0] - volumes[1] == pytest.approx(e["volume_usd"], abs=1e-5)
            checked += 1
    assert checked >= 5


def test_an_information_shock_moves_the_truth(sandbox):
    shocks = [e for e in all_episodes(sandbox, kind="information_shock") if abs(e["magnitude"]) > 0.15]
    assert shocks
    for e in shocks[:5]:
        paths = get(
            sandbox,
            f"/_truth/markets/{e['market_id']}",
            {"paths": 1, "fidelity": 1, "start": e["start_ts"] - 120, "end": e["start_ts"] + 120},
        ).json()["paths"]
        offset = paths["t"][0] % 60
        p = dict(zip((t - offset for t in paths["t"]), paths["p_true"], strict=True))
        assert p[e["start_ts"]] - p[e["start_ts"] - 60] == pytest.approx(e["magnitude"], abs=0.05)


def test_texts_in_gamma_and_clob_follow_the_clarity(sandbox):
    w = sandbox.world
    seen = {True: 0, False: 0}
    for market in get(sandbox, "/gamma/markets", {"limit": 100}).json():
        m = w.market_index(market["id"])
        clarity = get(sandbox, f"/_truth/markets/{market['id']}").json()["clarity"]
        clob = get(sandbox, f"/clob/markets/{market['conditionId']}").json()
        assert clob["question"] == market["question"]
        assert clob["description"] == market["description"]
        if clarity["clear"] or "no_source" not in clarity["kinds"]:
            assert market["resolutionSource"].startswith("https://")
        else:
            assert market["resolutionSource"] == ""
        seen[clarity["clear"]] += 1
        assert w.clarity(m) == clarity
    assert seen[True] > 50


def test_ambiguous_markets_end_void_or_unresolved_several_times_more_often(sandbox_factory):
    box = sandbox_factory(markets=12_000, seed=8)
    clarity = get(box, "/_truth/world").json()["clarity"]
    assert clarity["ambiguous"]["markets"] > 1000
    assert clarity["ambiguous"]["void_or_unresolved_share"] > 3.5 * clarity["clear"]["void_or_unresolved_share"]
    for name in ("clear", "ambiguous"):
        labels = clarity[name]["labels"]
        assert sum(labels.values()) == clarity[name]["markets"]


def test_the_world_reports_rates_episode_counts_and_clock(sandbox):
    info = get(sandbox, "/_truth/world").json()
    assert info["rates"] == {
        "manipulation_rate": 1.0,
        "shock_rate": 1.0,
        "ambiguous_share": 0.15,
        "ambiguous_risk": 6.0,
        "per_days": 30,
    }
    assert info["clock"] == "fixed"
    assert info["as_of_ts"] == info["clock_origin_ts"] == sandbox.world.config.as_of_ts
    listed = all_episodes(sandbox)
    assert info["episodes"] == {k: sum(e["kind"] == k for e in listed) for k in KINDS}


def test_paths_volume_is_the_truth_at_each_shown_time(pair):
    busy, _ = pair
    e = next(e for e in all_episodes(busy, kind="wash") if e["end_ts"] < busy.world.config.as_of_ts)
    paths = get(busy, f"/_truth/markets/{e['market_id']}", {"paths": 1, "fidelity": 10}).json()["paths"]
    inside = [v for t, v in zip(paths["t"], paths["volume"], strict=True) if e["start_ts"] <= t <= e["end_ts"]]
    assert len(inside) >= 5
    steps = np.diff(inside)
    normal = busy.world.market_hourly_volume[busy.world.market_index(e["market_id"])] / 6
    assert np.median(steps) > 3 * normal  # ten minutes of a burst carry several times a normal ten minutes
    assert json.dumps(paths)  # plain JSON numbers


def test_the_same_seed_gives_byte_identical_new_routes(sandbox_factory):
    a, b = (sandbox_factory(markets=400, seed=23) for _ in range(2))
    world = a.world
    as_of = world.config.as_of_ts
    tokens = [world.token_ids(m)[0] for m in range(5)]
    block = (as_of - 1_590_824_836) // 2 - 100_000
    requests: list[tuple[str, str, Any]] = [
        ("GET", "/_truth/episodes", {"limit": 500}),
        ("GET", "/_truth/world", None),
        ("GET", f"/_truth/markets/{world.market_id(3)}", {"paths": 1, "fidelity": 30}),
        ("GET", f"/_truth/subgraph/{world.condition_id(3)}", {"ts": as_of - 86_400}),
        ("POST", "/clob/batch-prices-history", {"markets": tokens, "interval": "max", "fidelity": 720}),
        ("POST", "/subgraphs/orderbook-subgraph/0.0.1/gn",
         {"query": f"{{ orderbooks(first: 50, block: {{number: {block}}}) {{ id collateralVolume }} }}"}),
        ("GET", "/gamma/markets/keyset", {"limit": 100, "order": "volume24hr", "ascending": "false"}),
    ]  # fmt: skip
    for method, path, payload in requests:
        if method == "GET":
            ra, rb = (get(box, path, payload) for box in (a, b))
        else:
            ra, rb = (HTTP.post(f"{box.base}{path}", json=payload) for box in (a, b))
        assert ra.status_code == 200, path
        assert ra.content == rb.content, path
