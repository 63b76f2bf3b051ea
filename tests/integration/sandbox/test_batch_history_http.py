"""POST /clob/batch-prices-history over loopback: the single route's answer per token, point for point, and its 400s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mca_sandbox.faults import PUBLISHED_LIMITS_PER_10S, FaultState
from mca_sandbox.world import DAY
from tests.conftest import RunningSandbox

HTTP = httpx.Client(timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _close_client():
    yield
    HTTP.close()


def batch(box: RunningSandbox, body: Any) -> httpx.Response:
    return HTTP.post(f"{box.base}/clob/batch-prices-history", json=body)


def single(box: RunningSandbox, **params: Any) -> list[dict[str, Any]]:
    response = HTTP.get(f"{box.base}/clob/prices-history", params=params)
    assert response.status_code == 200
    return response.json()["history"]


def tokens(box: RunningSandbox, n: int, label: str = "LIVE") -> list[str]:
    truth = HTTP.get(f"{box.base}/_truth/markets", params={"limit": n, "label": label}).json()["markets"]
    return [t for item in truth for t in (item["yes_token_id"], item["no_token_id"])][:n]


def test_each_token_gets_exactly_the_single_route_answer(sandbox):
    ids = tokens(sandbox, 10) + tokens(sandbox, 10, "RESOLVED_TRUE")
    as_of = sandbox.world.config.as_of_ts
    start, end = as_of - 10 * DAY, as_of
    body = batch(sandbox, {"markets": ids, "start_ts": start, "end_ts": end, "fidelity": 60}).json()
    assert list(body["history"]) == ids
    for token in ids:
        assert body["history"][token] == single(sandbox, market=token, startTs=start, endTs=end, fidelity=60)
    for interval, fidelity in (("1w", 30), ("max", 720), ("max", 60), ("1d", 1)):
        body = batch(sandbox, {"markets": ids[:6], "interval": interval, "fidelity": fidelity}).json()
        for token in ids[:6]:
            expected = single(sandbox, market=token, interval=interval, fidelity=fidelity)
            assert body["history"][token] == expected, (interval, fidelity)
    assert any(body["history"][t] for t in ids[:6])


def test_unknown_tokens_get_an_empty_list_and_repeats_one_key(sandbox):
    known = tokens(sandbox, 1)[0]
    body = batch(sandbox, {"markets": ["123", known, known], "interval": "1d", "fidelity": 60}).json()
    assert body["history"]["123"] == []
    assert list(body["history"]) == ["123", known]
    assert body["history"][known] == single(sandbox, market=known, interval="1d", fidelity=60)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"markets": [str(i) for i in range(21)], "interval": "1d"}, "at most 20"),
        ({"markets": "123", "interval": "1d"}, "list"),
        ({"markets": [], "interval": "1d"}, "non-empty"),
        ({"markets": [123], "interval": "1d"}, "strings"),
        ({"interval": "1d"}, "markets"),
        ({"markets": ["1"], "start_ts": "10", "end_ts": 20}, "start_ts"),
        ({"markets": ["1"], "start_ts": 10.5, "end_ts": 20}, "start_ts"),
        ({"markets": ["1"], "start_ts": True, "end_ts": 20}, "start_ts"),
        ({"markets": ["1"], "interval": 7}, "interval"),
        ({"markets": ["1"], "interval": "2d"}, "interval"),
        ({"markets": ["1"], "interval": "1d", "fidelity": "60"}, "fidelity"),
        ({"markets": ["1"], "interval": "1d", "fidelity": 0}, "fidelity"),
        ({"markets": ["1"], "interval": "1d", "start_ts": 1, "end_ts": 2}, "mutually exclusive"),
        ({"markets": ["1"], "start_ts": 1}, "either interval or both"),
        ({"markets": ["1"], "start_ts": 0, "end_ts": 20 * DAY, "fidelity": 60}, "too long"),
        ({"markets": ["1"], "interval": "1d", "colour": "red"}, "unknown field"),
        (["1"], "JSON object"),
    ],
)
def test_bad_bodies_answer_400_with_a_clear_error(sandbox, body, needle):
    response = batch(sandbox, body)
    assert response.status_code == 400
    assert needle in response.json()["error"]


def test_a_body_that_is_not_json_is_a_400(sandbox):
    response = HTTP.post(f"{sandbox.base}/clob/batch-prices-history", content=b"{nope")
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_range_limits_are_the_single_routes(sandbox):
    as_of = sandbox.world.config.as_of_ts
    ok = {"markets": ["1"], "start_ts": as_of - 15 * DAY, "end_ts": as_of, "fidelity": 60}
    assert batch(sandbox, ok).status_code == 200
    assert batch(sandbox, {**ok, "start_ts": as_of - 15 * DAY - 1}).status_code == 400
    assert batch(sandbox, {**ok, "start_ts": as_of - 90 * DAY, "fidelity": 61}).status_code == 200


def test_throttle_counts_batches_against_the_prices_history_limit():
    faults = FaultState()
    key = next(k for k in PUBLISHED_LIMITS_PER_10S if k.endswith("prices_history"))
    assert PUBLISHED_LIMITS_PER_10S[key] == 1000
    for _ in range(1000):
        assert faults._throttle_delay("clob.batch_prices_history") == 0.0
    assert faults._throttle_delay("clob.prices_history") > 0  # the 1,001st request of the shared window waits
