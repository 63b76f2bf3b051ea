"""Ground truth over loopback: world config and counts, paged truth, resolution cohorts, Gamma ids, paths; faults
never touch /_truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from mca_sandbox.faults import FaultRule
from mca_sandbox.world import DAY, LIVE
from tests.conftest import RunningSandbox

HTTP = httpx.Client(timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    HTTP.close()


def get(box: RunningSandbox, path: str, params: Any = None) -> httpx.Response:
    return HTTP.get(f"{box.base}{path}", params=params)


def test_world_reports_its_config_and_counts(sandbox):
    info = get(sandbox, "/_truth/world").json()
    w = sandbox.world
    assert info["seed"] == 7
    assert info["markets"] == w.n_markets == 300
    assert info["events"] == w.n_events
    assert info["start"] == "2026-07-01"
    assert info["end"] == "2026-10-31"
    assert info["as_of"] == "2026-11-01T00:00:00Z"
    assert info["as_of_ts"] == w.config.as_of_ts
    assert info["distortion"]["politics"] == {"alpha": 0.0, "beta": 1.25}
    assert sum(info["counts"].values()) == sum(info["counts_detail"].values()) == 300
    assert info["counts"]["VOID"] == info["counts_detail"]["VOID_5050"] + info["counts_detail"]["VOID_ZERO_ZERO"]
    assert info["counts_detail"]["LIVE"] == int((w.market_label == LIVE).sum())


def test_truth_markets_are_paged_and_filtered_by_label(sandbox):
    first = get(sandbox, "/_truth/markets", {"limit": 100}).json()
    second = get(sandbox, "/_truth/markets", {"limit": 100, "offset": 100}).json()
    assert first["total"] == 300
    assert len(first["markets"]) == 100
    assert first["markets"][0] == {
        **sandbox.world.truth(0),
        "label_detail": first["markets"][0]["label_detail"],
        "uma_resolution_status": first["markets"][0]["uma_resolution_status"],
    }
    assert second["markets"][0]["market_id"] == "500100"
    void = get(sandbox, "/_truth/markets", {"label": "VOID", "limit": 10000}).json()["markets"]
    assert void
    assert {t["label"] for t in void} == {"VOID"}
    assert {t["label_detail"] for t in void} == {"VOID_5050", "VOID_ZERO_ZERO"}
    only_5050 = get(sandbox, "/_truth/markets", {"label": "void_5050"}).json()["markets"]
    assert {t["label_detail"] for t in only_5050} == {"VOID_5050"}
    assert get(sandbox, "/_truth/markets", {"label": "bogus"}).status_code == 400
    assert get(sandbox, "/_truth/markets", {"limit": 10001}).status_code == 400
    assert get(sandbox, "/_truth/markets", {"offset": "x"}).status_code == 400


def test_resolution_cohort_of_a_day_matches_resolved_date_filter(sandbox):
    truths = get(sandbox, "/_truth/markets", {"limit": 10000}).json()["markets"]
    days = Counter(datetime.fromtimestamp(t["resolved_ts"], UTC).date().isoformat() for t in truths if t["resolved_ts"])
    day, size = days.most_common(1)[0]
    cohort = get(sandbox, "/_truth/resolutions", {"date": day}).json()
    assert cohort["date"] == day
    assert len(cohort["markets"]) == size
    start = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())
    for item in cohort["markets"]:
        assert start <= item["resolved_ts"] < start + DAY
        assert set(item) == {"market_id", "event_id", "label", "label_detail", "resolved_ts", "outcome"}
        assert (item["outcome"] is not None) == item["label"].startswith("RESOLVED")
    same = get(sandbox, "/_truth/markets", {"resolved_date": day, "limit": 10000}).json()["markets"]
    assert [t["market_id"] for t in same] == [c["market_id"] for c in cohort["markets"]]
    assert get(sandbox, "/_truth/resolutions").status_code == 400
    assert get(sandbox, "/_truth/resolutions", {"date": "2026-02-30"}).status_code == 400


def test_gamma_ids_list_every_market_and_event(sandbox):
    ids = get(sandbox, "/_truth/gamma_ids").json()
    assert ids["market_ids"] == [str(500_000 + m) for m in range(300)]
    assert ids["event_ids"] == [str(90_000 + e) for e in range(sandbox.world.n_events)]


def test_market_paths_follow_the_world(sandbox):
    w = sandbox.world
    m = 17
    body = get(sandbox, "/_truth/markets/500017", {"paths": 1, "fidelity": 60}).json()
    assert body["market_id"] == "500017"
    ts, p_true, p_market = w.paths(m, 0, w.config.as_of_ts + 1, 3600)
    t = ts + int(w.market_history_offset[m])
    keep = t <= w.config.as_of_ts
    assert body["paths"]["t"] == t[keep].tolist()
    assert np.allclose(body["paths"]["p_true"], p_true[keep])
    assert body["paths"]["p_market"] == p_market[keep].tolist()
    assert "paths" not in get(sandbox, "/_truth/markets/500017").json()
    assert get(sandbox, "/_truth/markets/999999").status_code == 404
    assert get(sandbox, "/_truth/markets/500017", {"paths": 1, "fidelity": 0}).status_code == 400


def test_faults_never_touch_the_truth(sandbox_factory):
    box = sandbox_factory(markets=30, rules=[FaultRule(route="*", status={500: 1.0}, malformed_rate=1.0)])
    assert get(box, "/gamma/markets").status_code == 500
    for path in ("/_truth/world", "/_truth/markets", "/_truth/gamma_ids", "/_truth/markets/500001"):
        response = get(box, path)
        assert response.status_code == 200
        assert response.json()
    assert get(box, "/_truth/resolutions", {"date": "2026-08-01"}).status_code == 200


def test_markets_created_after_as_of_are_hidden_everywhere(sandbox_factory):
    box = sandbox_factory(markets=400, seed=3, as_of=datetime(2026, 8, 1, tzinfo=UTC))
    w = box.world
    unborn = [m for m in range(w.n_markets) if w.event_created[w.market_event[m]] > w.config.as_of_ts]
    assert unborn
    ids = get(box, "/_truth/gamma_ids").json()
    assert w.market_id(unborn[0]) not in ids["market_ids"]
    assert len(ids["market_ids"]) == w.n_markets - len(unborn)
    crawled = get(box, "/gamma/markets/keyset", {"limit": 100}).json()
    cursor = crawled.get("next_cursor")
    seen = [m["id"] for m in crawled["markets"]]
    while cursor:
        page = get(box, "/gamma/markets/keyset", {"limit": 100, "after_cursor": cursor}).json()
        seen += [m["id"] for m in page["markets"]]
        cursor = page.get("next_cursor")
    assert seen == ids["market_ids"]
    assert get(box, f"/gamma/markets/{w.market_id(unborn[0])}").status_code == 404
    yes = w.token_ids(unborn[0])[0]
    assert get(box, "/clob/book", {"token_id": yes}).status_code == 404
    assert get(box, "/clob/prices-history", {"market": yes, "interval": "max"}).json() == {"history": []}
