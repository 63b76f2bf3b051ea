"""Rules of every route: query parameters are the declared ones, patterns match whole values, and everything but
``/health``, ``/metrics`` and the forecaster (limited by its own guard) is rate limited per client address."""

from __future__ import annotations

import duckdb
import pytest

from mca_resources.serving_snapshot import publish_snapshot
from mca_resources.warehouse import ensure_schema
from tests.integration.serving.servinglib import auth, body, metric, serve


@pytest.fixture
def warehouse(settings) -> None:
    """A published snapshot of empty tables: the read endpoints answer ``[]``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        ensure_schema(conn)
        publish_snapshot(conn, settings.serving_dir)


@pytest.mark.parametrize(
    ("url", "keys"),
    [
        ("/scoreboard?window=90d%0A", ["window"]),  # Python's $ matches before a final newline
        ("/scoreboard?horizon=1d%0A", ["horizon"]),
        ("/scoreboard?tags=politics", ["tags"]),
        ("/scoreboard?segments=category&bucket=LOW", ["bucket", "segments"]),
        ("/scoreboard?window=90d&min_trust_score=60&order=brier", ["min_trust_score", "order"]),
        ("/markets?limit=5&sort=volume", ["sort"]),
        ("/health?verbose=1", ["verbose"]),
        ("/schema/openapi.json?x=1", ["x"]),
    ],
)
async def test_unknown_or_malformed_query_parameters_are_400_naming_them(app_factory, warehouse, url, keys) -> None:
    async with serve(app_factory()) as client:
        response = await client.get(url)
    assert response.status_code == 400, response.text
    assert sorted(e["key"] for e in response.json()["extra"]) == keys
    assert {e["source"] for e in response.json()["extra"]} == {"query"}


async def test_declared_parameters_still_work(app_factory, warehouse) -> None:
    async with serve(app_factory()) as client:
        scoreboard = await client.get("/scoreboard?window=30d&horizon=1d")
        markets = await client.get("/markets?limit=5&offset=0&status=live")
        metrics = (await client.get("/metrics")).text
    assert (scoreboard.status_code, scoreboard.json()) == (200, [])
    assert (markets.status_code, markets.json()) == (200, {"items": [], "total": 0, "limit": 5, "offset": 0})
    assert metric(metrics, "mca_query_rejected_total") == 0


async def test_the_forecaster_takes_no_query_parameters(app_factory, token) -> None:
    async with serve(app_factory()) as client:
        response = await client.post("/tsfm/forecast?model=mock", json=body(), headers=auth(token))
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "model"


async def test_read_endpoints_are_rate_limited_per_address(app_factory, token, warehouse) -> None:
    app = app_factory(read_rate_per_min=1.0, read_rate_burst=3)
    async with serve(app) as client:
        reads = [(await client.get("/scoreboard")).status_code for _ in range(5)]
        limited = await client.get("/markets")
        health = [(await client.get("/health")).status_code for _ in range(20)]
        metrics = [(await client.get("/metrics")) for _ in range(20)]
        forecast = await client.post("/tsfm/forecast", json=body(), headers=auth(token))
    assert reads == [200, 200, 200, 429, 429]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert set(health) == {200}
    assert {m.status_code for m in metrics} == {200}
    assert forecast.status_code == 200  # its own limits, not the read bucket
    assert metric(metrics[-1].text, "mca_read_rate_limited_total") == 3
