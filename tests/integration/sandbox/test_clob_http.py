"""CLOB REST over loopback: /book and /markets/{condition_id} contracts, book ordering and hash, winners vs truth,
prices-history vs the true paths, its range rule and the upstream traps."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from mca_sandbox.world import DAY
from tests.conftest import RunningSandbox
from tests.jsonshape import shape

HTTP = httpx.Client(timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    HTTP.close()


def get(box: RunningSandbox, path: str, params: Any = None) -> httpx.Response:
    return HTTP.get(f"{box.base}{path}", params=params)


def contract(fixtures_dir: Path, name: str) -> set[str]:
    return set(json.loads((fixtures_dir / f"shape_{name}.json").read_text())["shape"])


def truths(box: RunningSandbox) -> list[dict[str, Any]]:
    return get(box, "/_truth/markets", {"limit": 10000}).json()["markets"]


def live(box: RunningSandbox) -> list[dict[str, Any]]:
    return [t for t in truths(box) if t["label"] == "LIVE"]


# --- /book --------------------------------------------------------------------------------------------------------
def test_book_keeps_to_the_live_contract_for_yes_and_no_tokens(sandbox, fixtures_dir):
    for t in live(sandbox)[:10]:
        for token in (t["yes_token_id"], t["no_token_id"]):
            book = get(sandbox, "/clob/book", {"token_id": token}).json()
            assert shape(book) - contract(fixtures_dir, "clob__book") == set()
            assert book["asset_id"] == token
            assert book["market"] == t["condition_id"]


def test_book_best_levels_are_last_and_straddle_the_gamma_quote(sandbox):
    for t in live(sandbox):
        book = get(sandbox, "/clob/book", {"token_id": t["yes_token_id"]}).json()
        bids = [float(level["price"]) for level in book["bids"]]
        asks = [float(level["price"]) for level in book["asks"]]
        assert bids == sorted(bids)  # ascending: best (highest) bid last
        assert asks == sorted(asks, reverse=True)  # descending: best (lowest) ask last
        assert bids[-1] < asks[-1]
        market = get(sandbox, f"/gamma/markets/{t['market_id']}").json()
        assert market["bestBid"] == pytest.approx(bids[-1])
        assert market["bestAsk"] == pytest.approx(asks[-1])
        assert market["spread"] == pytest.approx(asks[-1] - bids[-1])
        traded = t["volume_usd"] >= 100  # a market that has hardly traded yet has no last trade
        assert book["last_trade_price"] == (json.loads(market["outcomePrices"])[0] if traded else "")
        tick = float(book["tick_size"])
        assert all(abs(p / tick - round(p / tick)) < 1e-6 for p in bids + asks)
        assert all(float(level["size"]) >= 5 for level in book["bids"] + book["asks"])
        assert book["neg_risk"] == t["neg_risk"]


def test_no_book_mirrors_the_yes_book(sandbox):
    t = live(sandbox)[0]
    yes = get(sandbox, "/clob/book", {"token_id": t["yes_token_id"]}).json()
    no = get(sandbox, "/clob/book", {"token_id": t["no_token_id"]}).json()
    assert float(no["bids"][-1]["price"]) == pytest.approx(1 - float(yes["asks"][-1]["price"]))
    assert float(no["asks"][-1]["price"]) == pytest.approx(1 - float(yes["bids"][-1]["price"]))
    assert float(no["last_trade_price"]) == pytest.approx(1 - float(yes["last_trade_price"]))


def test_book_hash_is_the_sha1_of_its_content_and_stable(sandbox):
    token = live(sandbox)[1]["yes_token_id"]
    first = get(sandbox, "/clob/book", {"token_id": token})
    second = get(sandbox, "/clob/book", {"token_id": token})
    assert first.content == second.content
    book = first.json()
    assert len(book["hash"]) == 40
    assert int(book["hash"], 16) >= 0
    content = {**book, "hash": ""}
    assert hashlib.sha1(msgspec.json.encode(content)).hexdigest() == book["hash"]
    assert book["timestamp"].isdigit()
    assert int(book["timestamp"]) <= sandbox.world.config.as_of_ts * 1000


def test_closed_or_unknown_tokens_have_no_book(sandbox):
    closed = next(t for t in truths(sandbox) if t["label"] != "LIVE")
    for token in (closed["yes_token_id"], "123", "not-a-token"):
        response = get(sandbox, "/clob/book", {"token_id": token})
        assert response.status_code == 404
        assert response.json() == {"error": "No orderbook exists for the requested token id"}
    assert get(sandbox, "/clob/book").status_code == 400


def test_post_books_returns_the_books_that_exist(sandbox):
    tokens = [t["yes_token_id"] for t in live(sandbox)[:3]]
    closed = next(t for t in truths(sandbox) if t["label"] != "LIVE")["yes_token_id"]
    response = HTTP.post(f"{sandbox.base}/clob/books", json=[{"token_id": t} for t in [*tokens, closed]])
    assert response.status_code == 200
    books = response.json()
    assert [b["asset_id"] for b in books] == tokens
    assert books[0] == get(sandbox, "/clob/book", {"token_id": tokens[0]}).json()
    too_many = [{"token_id": tokens[0]}] * 501
    assert HTTP.post(f"{sandbox.base}/clob/books", json=too_many).status_code == 400
    assert HTTP.post(f"{sandbox.base}/clob/books", content=b"nope").status_code == 400
    assert HTTP.post(f"{sandbox.base}/clob/books", json={"token_id": tokens[0]}).status_code == 400


# --- /markets/{condition_id} --------------------------------------------------------------------------------------
def test_clob_market_keeps_to_the_contract_and_winner_matches_the_truth(sandbox, fixtures_dir):
    seen = set()
    for t in truths(sandbox):
        market = get(sandbox, f"/clob/markets/{t['condition_id']}").json()
        assert shape(market) - contract(fixtures_dir, "clob__markets_condition_id") == set()
        yes, no = market["tokens"]
        assert (yes["token_id"], no["token_id"]) == (t["yes_token_id"], t["no_token_id"])
        assert (yes["outcome"], no["outcome"]) == ("Yes", "No")
        label = t["label_detail"]
        seen.add(label)
        assert market["closed"] == (label != "LIVE")
        assert yes["winner"] == (label == "RESOLVED_TRUE")
        assert no["winner"] == (label == "RESOLVED_FALSE")
        if label.startswith("RESOLVED"):
            assert yes["winner"] == (t["outcome"] == 1)
            assert (yes["price"], no["price"]) == ((1, 0) if t["outcome"] == 1 else (0, 1))
        assert market["is_50_50_outcome"] == (label == "VOID_5050")
        if label == "VOID_5050":
            assert (yes["price"], no["price"]) == (0.5, 0.5)
        if label == "VOID_ZERO_ZERO":
            assert (yes["price"], no["price"]) == (0, 0)
        gamma = get(sandbox, f"/gamma/markets/{t['market_id']}").json()
        assert market["market_slug"] == gamma["slug"]
        assert market["question"] == gamma["question"]
        assert market["description"] == gamma["description"]
        assert market["neg_risk"] == gamma["negRisk"]
        assert [yes["price"], no["price"]] == [float(p) for p in json.loads(gamma["outcomePrices"])]
    assert seen == {"LIVE", "RESOLVED_TRUE", "RESOLVED_FALSE", "VOID_5050", "VOID_ZERO_ZERO", "UNRESOLVED"}


def test_unknown_condition_id_is_404(sandbox):
    response = get(sandbox, "/clob/markets/0xdeadbeef")
    assert response.status_code == 404
    assert response.json() == {"error": "market not found"}


# --- /prices-history ----------------------------------------------------------------------------------------------
def history(box: RunningSandbox, **params: Any) -> httpx.Response:
    return get(box, "/clob/prices-history", params)


def true_paths(box: RunningSandbox, market_id: str, start: int, end: int, fidelity: int) -> dict[str, list[float]]:
    params = {"paths": 1, "fidelity": fidelity, "start": start, "end": end}
    return get(box, f"/_truth/markets/{market_id}", params).json()["paths"]


def test_prices_history_equals_the_true_market_path_on_the_same_grid(sandbox):
    w = sandbox.world
    for t in truths(sandbox)[:40]:
        start = t["created_ts"]
        end = start + 10 * DAY
        got = history(sandbox, market=t["yes_token_id"], startTs=start, endTs=end, fidelity=60).json()["history"]
        expected = true_paths(sandbox, t["market_id"], start, end, 60)
        assert [p["t"] for p in got] == expected["t"]
        assert [p["p"] for p in got] == expected["p_market"]
        offset = int(w.market_history_offset[w.market_index(t["market_id"])])
        assert all((p["t"] - offset) % 3600 == 0 for p in got)  # grid + the market's fixed, unaligned offset
        assert all(p["t"] <= w.config.as_of_ts for p in got)
        assert all(0 < p["p"] < 1 for p in got)


def test_no_token_history_is_one_minus_yes(sandbox):
    t = truths(sandbox)[3]
    start, end = t["created_ts"], t["created_ts"] + 5 * DAY
    yes = history(sandbox, market=t["yes_token_id"], startTs=start, endTs=end, fidelity=30).json()["history"]
    no = history(sandbox, market=t["no_token_id"], startTs=start, endTs=end, fidelity=30).json()["history"]
    assert [p["t"] for p in yes] == [p["t"] for p in no]
    assert all(abs(a["p"] + b["p"] - 1) < 1e-9 for a, b in zip(yes, no, strict=True))


def test_windowed_requests_tile_the_whole_history_without_repeats(sandbox):
    t = next(t for t in truths(sandbox) if t["resolved_ts"] and t["resolved_ts"] - t["created_ts"] > 20 * DAY)
    start, stop = t["created_ts"], t["resolved_ts"] + 1
    points: list[int] = []
    for lo in range(start, stop, 15 * DAY):
        hi = min(lo + 15 * DAY, stop)
        points += [p["t"] for p in history(sandbox, market=t["yes_token_id"], startTs=lo, endTs=hi).json()["history"]]
    assert len(points) == len(set(points))
    assert points == sorted(points)
    assert points == true_paths(sandbox, t["market_id"], start, stop, 1)["t"]


def test_range_rule_is_enforced(sandbox):
    token = truths(sandbox)[0]["yes_token_id"]
    start = 1_780_000_000
    assert history(sandbox, market=token, startTs=start, endTs=start + 15 * DAY, fidelity=60).status_code == 200
    too_long = history(sandbox, market=token, startTs=start, endTs=start + 15 * DAY + 1, fidelity=60)
    assert too_long.status_code == 400
    assert "15 days" in too_long.json()["error"]
    assert history(sandbox, market=token, startTs=start, endTs=start + 16 * DAY).status_code == 400  # default 1 min
    assert history(sandbox, market=token, startTs=start, endTs=start + 90 * DAY, fidelity=61).status_code == 200
    assert history(sandbox, market=token, startTs=start, endTs=start + 91 * DAY, fidelity=1440).status_code == 400


def test_interval_and_start_end_are_mutually_exclusive_and_one_is_required(sandbox):
    token = truths(sandbox)[0]["yes_token_id"]
    both = history(sandbox, market=token, interval="1d", startTs=1, endTs=2)
    assert both.status_code == 400
    assert "mutually exclusive" in both.json()["error"]
    assert history(sandbox, market=token).status_code == 400
    assert history(sandbox, market=token, startTs=1).status_code == 400
    assert history(sandbox, market=token, interval="2d").status_code == 400
    missing = history(sandbox, interval="1d")
    assert missing.status_code == 400
    assert "market" in missing.json()["error"]


def test_intervals_end_at_as_of(sandbox):
    t = next(t for t in live(sandbox) if sandbox.world.config.as_of_ts - t["created_ts"] > 8 * DAY)
    as_of = sandbox.world.config.as_of_ts
    week = history(sandbox, market=t["yes_token_id"], interval="1w", fidelity=60).json()["history"]
    assert len(week) in (167, 168)
    assert as_of - 7 * DAY <= week[0]["t"]
    assert week[-1]["t"] <= as_of
    full = history(sandbox, market=t["yes_token_id"], interval="max", fidelity=60).json()["history"]
    assert full[-len(week) :] == week
    assert history(sandbox, market=t["yes_token_id"], interval="all", fidelity=60).json()["history"] == full


def test_closed_market_max_interval_at_fine_fidelity_is_empty_like_upstream(sandbox):
    t = next(t for t in truths(sandbox) if t["label"] == "RESOLVED_TRUE")
    assert history(sandbox, market=t["yes_token_id"], interval="max", fidelity=60).json() == {"history": []}
    assert history(sandbox, market=t["yes_token_id"], interval="max").json() == {"history": []}
    coarse = history(sandbox, market=t["yes_token_id"], interval="max", fidelity=720).json()["history"]
    assert coarse
    assert [p["t"] for p in coarse] == true_paths(sandbox, t["market_id"], 0, 2**40, 720)["t"]
    explicit = history(sandbox, market=t["yes_token_id"], startTs=t["created_ts"], endTs=t["created_ts"] + DAY)
    assert explicit.json()["history"]


def test_unknown_token_gets_an_empty_history(sandbox):
    assert history(sandbox, market="12345", interval="1d").json() == {"history": []}


@pytest.mark.parametrize(
    "params",
    [
        {"startTs": "abc", "endTs": "1"},
        {"startTs": "5", "endTs": "1"},
        {"startTs": "-5", "endTs": "1"},
        {"startTs": str(10**20), "endTs": str(10**20 + 10)},
        {"interval": "1d", "fidelity": "0"},
        {"interval": "1d", "fidelity": "x"},
        {"interval": "1d", "fidelity": str(10**12)},
        {"interval": "1d", "fidelity": "1.5"},
    ],
)
def test_bad_history_requests_are_400_json_never_500(sandbox, params):
    token = truths(sandbox)[0]["yes_token_id"]
    response = history(sandbox, market=token, **params)
    assert response.status_code == 400
    assert response.json()["error"]


def test_clob_responses_are_byte_identical_for_the_same_seed(sandbox_factory):
    a, b, c = (sandbox_factory(markets=150, seed=s) for s in (31, 31, 32))
    t = next(t for t in live(a))
    for path, params in [
        ("/clob/book", {"token_id": t["yes_token_id"]}),
        (f"/clob/markets/{t['condition_id']}", None),
        ("/clob/prices-history", {"market": t["yes_token_id"], "interval": "1w", "fidelity": 60}),
    ]:
        assert get(a, path, params).content == get(b, path, params).content
    t_other = live(c)[0]
    assert get(c, "/clob/book", {"token_id": t_other["yes_token_id"]}).content != (
        get(a, "/clob/book", {"token_id": t["yes_token_id"]}).content
    )
