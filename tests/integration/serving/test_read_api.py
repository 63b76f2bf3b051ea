"""Every read endpoint, in-process, against a snapshot the real daily graph built from the sandbox (two days of a
200-market world; trust and postmortems are the graph's own, alerts topped up so the feed has pages). Each answer is
compared with a plain-Python reading of the warehouse itself."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import duckdb
import pytest

from tests.integration.serving.servinglib import captured_logs, metric, serve

HORIZONS = ["1h", "4h", "1d", "1w", "1m"]


def warehouse_rows(world, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(world.warehouse), read_only=True) as conn:
        result = conn.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@pytest.fixture
def read_app(app_factory, world):
    return app_factory(data_dir=world.settings.data_dir, read_rate_per_min=1e9, read_rate_burst=1_000_000)


async def test_scoreboard_is_the_latest_day_with_its_filters(read_app, world) -> None:
    latest = warehouse_rows(world, "SELECT * FROM calib.scoreboard WHERE dt = (SELECT max(dt) FROM calib.scoreboard)")
    expected = sorted(
        (r for r in latest if r["window"] == "90d"),
        key=lambda r: (HORIZONS.index(r["horizon"]), r["segment_type"], r["segment"]),
    )
    category = next(r["segment"] for r in latest if r["segment_type"] == "category")
    async with serve(read_app) as client:
        rows = (await client.get("/scoreboard")).json()
        by_category = (await client.get("/scoreboard", params={"tag": category, "horizon": "1d"})).json()
        by_bucket = (await client.get("/scoreboard", params={"liquidity_bucket": "HIGH", "window": "all"})).json()
        crossed = await client.get("/scoreboard", params={"category": category, "liquidity_bucket": "LOW"})
        unknown = await client.get("/scoreboard", params={"min_trust_score": 50})
    assert [(r["horizon"], r["segment_type"], r["segment"]) for r in rows] == [
        (r["horizon"], r["segment_type"], r["segment"]) for r in expected
    ]
    assert len(rows) > 10
    for got, want in zip(rows, expected, strict=True):
        assert got["n"] == want["n"]
        assert got["low_confidence"] == want["low_confidence"]
        assert got["brier"] == pytest.approx(want["brier"], nan_ok=True)
        assert got["ece_debiased"] == pytest.approx(want["ece_debiased"], nan_ok=True)
    assert by_category
    assert {(r["segment_type"], r["segment"], r["horizon"]) for r in by_category} == {("category", category, "1d")}
    assert {(r["segment_type"], r["segment"], r["window"]) for r in by_bucket} <= {("liquidity_bucket", "HIGH", "all")}
    assert crossed.status_code == 400
    assert "one segment filter" in crossed.json()["extra"][0]["message"]
    assert unknown.status_code == 400
    assert unknown.json()["extra"][0]["key"] == "min_trust_score"


async def test_reliability_bins_and_calibration_quality(read_app, world) -> None:
    bins = warehouse_rows(
        world,
        "SELECT * FROM calib.reliability_bins WHERE dt = (SELECT max(dt) FROM calib.reliability_bins) "
        "AND \"window\" = '30d' AND segment_type = 'all'",
    )
    overall = {
        r["horizon"]: r
        for r in warehouse_rows(
            world,
            "SELECT * FROM calib.scoreboard WHERE dt = (SELECT max(dt) FROM calib.scoreboard) "
            "AND \"window\" = '90d' AND segment_type = 'all'",
        )
    }
    async with serve(read_app) as client:
        got = (await client.get("/reliability", params={"window": "30d", "segment_type": "all"})).json()
        quality = (await client.get("/metrics/calibration_quality")).json()
    key = lambda r: (HORIZONS.index(r["horizon"]), r["bin"])  # noqa: E731
    assert [(r["horizon"], r["bin"], r["n"]) for r in got] == [
        (r["horizon"], r["bin"], r["n"]) for r in sorted(bins, key=key)
    ]
    assert all(r["y_rate_ci_low"] <= r["y_rate"] <= r["y_rate_ci_high"] for r in got if r["y_rate"] is not None)
    assert [h["horizon"] for h in quality["horizons"]] == sorted(overall, key=HORIZONS.index)
    for h in quality["horizons"]:
        assert h["brier"] == pytest.approx(overall[h["horizon"]]["brier"], nan_ok=True)
    assert quality["intervals"]
    assert all(0 <= i["coverage"] <= 1 for i in quality["intervals"] if i["coverage"])


async def test_markets_search_filters_and_pages(read_app, world) -> None:
    registry = warehouse_rows(world, "SELECT market_id, question FROM core.market_registry")
    latest = {r["market_id"]: r for r in warehouse_rows(
        world, "SELECT * FROM core.markets WHERE dt = (SELECT max(dt) FROM core.markets)")}  # fmt: skip
    resolved = {r["market_id"] for r in warehouse_rows(world, "SELECT market_id FROM core.resolutions")}
    live = {m for m, r in latest.items() if not r["closed"] and m not in resolved}
    word = next(w for r in registry for w in (r["question"] or "").split() if len(w) > 5)
    matching = {r["market_id"] for r in registry if word.lower() in (r["question"] or "").lower()}
    trusted = {
        r["market_id"]
        for r in warehouse_rows(
            world,
            "SELECT * FROM trust.trust_scores WHERE trust_score >= 40 "
            "AND dt = (SELECT max(dt) FROM trust.trust_scores)",
        )
    }
    async with serve(read_app) as client:
        everything = (await client.get("/markets", params={"limit": 500})).json()
        pages = [(await client.get("/markets", params={"limit": 37, "offset": o})).json() for o in range(0, 500, 37)]
        found = (await client.get("/markets", params={"q": word.upper(), "limit": 500})).json()
        live_page = (await client.get("/markets", params={"status": "live", "limit": 500})).json()
        trust_page = (await client.get("/markets", params={"min_trust_score": 40, "limit": 500})).json()
        bad = await client.get("/markets", params={"limit": 501})
    assert everything["total"] == len(registry) == len(everything["items"])
    volumes = [r["volume_usd"] if r["volume_usd"] is not None else -1 for r in everything["items"]]
    assert volumes == sorted(volumes, reverse=True)
    assert [r["market_id"] for p in pages for r in p["items"]] == [r["market_id"] for r in everything["items"]]
    assert {r["market_id"] for r in found["items"]} == matching
    assert found["total"] == len(matching)
    assert {r["market_id"] for r in live_page["items"]} == live
    assert {r["market_id"] for r in trust_page["items"]} == trusted
    assert trusted
    assert bad.status_code == 400


async def test_market_page_has_everything_the_snapshot_knows(read_app, world) -> None:
    top = warehouse_rows(
        world, "SELECT m.market_id, m.yes_token_id FROM core.markets m JOIN trust.trust_scores t USING (market_id) "
        "WHERE m.dt = (SELECT max(dt) FROM core.markets) AND NOT m.closed ORDER BY m.volume_usd DESC LIMIT 1",
    )[0]  # fmt: skip
    market_id = top["market_id"]
    history = warehouse_rows(world, "SELECT DISTINCT ts FROM core.price_history WHERE market_id = ?", [market_id])
    alerts = warehouse_rows(world, "SELECT alert_id FROM alerts.alerts WHERE market_id = ? ORDER BY ts DESC, "
                            "alert_id DESC", [market_id])  # fmt: skip
    async with serve(read_app) as client:
        page = (await client.get(f"/markets/{market_id}")).json()
        missing = await client.get("/markets/no-such-market")
    assert page["registry"]["market_id"] == market_id
    assert page["latest"]["closed"] is False
    newest = max(r["ts"] for r in history)
    window = {r["ts"] for r in history if r["ts"] >= newest - timedelta(days=7)}
    assert len(page["path"]) == len(window) > 0
    assert [p["ts"] for p in page["path"]] == sorted(p["ts"] for p in page["path"])
    assert set(page["trust"]["components"]) == {"liquidity", "stability", "clarity", "manipulation",
                                                "time_to_expiry", "track_record"}  # fmt: skip
    assert all(v is None or 0 <= v <= 1 for v in page["trust"]["components"].values())
    assert [a["alert_id"] for a in page["alerts"]] == [a["alert_id"] for a in alerts]
    assert missing.status_code == 404
    assert "no-such-market" in missing.json()["detail"]


async def test_alerts_feed_pages_newest_first_with_a_cursor(read_app, world) -> None:
    every = warehouse_rows(world, "SELECT alert_id, ts, severity FROM alerts.alerts")
    expected = [a["alert_id"] for a in sorted(every, key=lambda a: (a["ts"], a["alert_id"]), reverse=True)]
    since = sorted(a["ts"] for a in every)[60]
    async with serve(read_app) as client:
        walked, cursor = [], None
        while True:
            params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/alerts", params=params)).json()
            walked += [a["alert_id"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        high = (await client.get("/alerts", params={"severity": "HIGH", "limit": 500})).json()["items"]
        recent = (await client.get("/alerts", params={"since": since.isoformat(), "limit": 500})).json()["items"]
        bad_cursor = await client.get("/alerts", params={"cursor": "bm90LWEtY3Vyc29y"})
        naive = await client.get("/alerts", params={"since": "2026-10-01T00:00:00"})
        too_many = await client.get("/alerts", params={"limit": 501})
    assert walked == expected
    assert {a["alert_id"] for a in high} == {a["alert_id"] for a in every if a["severity"] == "HIGH"}
    assert {a["alert_id"] for a in recent} == {a["alert_id"] for a in every if a["ts"] >= since}
    assert [r.status_code for r in (bad_cursor, naive, too_many)] == [400, 400, 400]


async def test_postmortem_as_json_and_markdown(read_app, world) -> None:
    row = warehouse_rows(world, "SELECT * FROM reports.postmortems ORDER BY market_id LIMIT 1")[0]
    async with serve(read_app) as client:
        as_json = (await client.get(f"/postmortem/{row['market_id']}")).json()
        as_md = await client.get(f"/postmortem/{row['market_id']}/markdown")
        missing = await client.get("/postmortem/unknown")
    assert as_json["markdown"] == row["markdown"]
    assert as_json["dt"] == row["dt"].isoformat()
    assert as_md.text == row["markdown"]
    assert as_md.headers["content-type"].startswith("text/markdown")
    assert missing.status_code == 404


async def test_ready_metrics_and_access_logs(read_app, world) -> None:
    async with serve(read_app) as client:
        market_id = (await client.get("/markets", params={"limit": 1})).json()["items"][0]["market_id"]
        with captured_logs() as records:
            answers = [await client.get(f"/markets/{market_id}", headers={"X-Request-ID": "probe-1"}),
                       await client.get("/markets/unknown-market"), await client.get("/scoreboard")]  # fmt: skip
        ready = (await client.get("/ready")).json()
        text = (await client.get("/metrics")).text
    snapshot = ready["snapshot"]
    assert snapshot["present"]
    assert snapshot["age_s"] >= 0
    assert snapshot["tables"]["calib.scoreboard"] > 0
    assert set(snapshot["tables"]) >= {"core.markets", "trust.trust_scores", "alerts.alerts", "reports.postmortems"}
    assert metric(text, "mca_http_requests_total", route="/markets/{market_id}", method="GET", status="200") == 1
    assert metric(text, "mca_http_requests_total", route="/markets/{market_id}", method="GET", status="404") == 1
    assert metric(text, "mca_http_request_duration_seconds_count", route="/scoreboard", method="GET") == 1
    assert market_id not in text
    assert "unknown-market" not in text
    assert 0 <= metric(text, "mca_snapshot_age_seconds") < 3600
    lines = [json.loads(r.getMessage()) for r in records if r.name == "mca.access" and r.levelno == logging.INFO]
    assert [(line["route"], line["status"]) for line in lines] == [
        ("/markets/{market_id}", 200),
        ("/markets/{market_id}", 404),
        ("/scoreboard", 200),
    ]
    assert lines[0]["request_id"] == "probe-1" == answers[0].headers["x-request-id"]
    assert all(len(line["request_id"]) > 0 for line in lines)
    assert answers[1].headers["x-request-id"]
