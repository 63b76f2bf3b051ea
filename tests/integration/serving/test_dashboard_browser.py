"""The dashboard in headless Chromium (Debian's package, started here) against the real service on loopback, over a
snapshot the real daily graph built from the sandbox: drawn reliability diagrams, grades equal to a plain-Python
reading of the rule, the alert feed newest first and picking up a newly published alert by itself, a market page,
a rendered postmortem, and no console error, failed request or uncaught exception on the way. Screenshots are
kept under ``test-artifacts/dashboard/``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mca_resources.serving_snapshot import current_snapshot, publish_snapshot
from mca_resources.settings import Settings
from mca_serving.app import create_app
from tests.chromium import open_page, running_chromium
from tests.integration.serving.dashboardlib import live_server, reference_grade

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"
HORIZONS = ["1h", "4h", "1d", "1w", "1m"]
ONE_MB = 1_000_000
#: {horizon: dots} of the drawn reliability diagrams (one grid of figures)
DRAWN_DIAGRAMS = """(() => {
  const c = document.querySelector('[data-chart=reliability][data-points]');
  return c && JSON.parse(c.dataset.points);
})()"""
#: figures with a canvas, searched through the nested shadow roots BokehJS renders into: it drew them
FIGURES_WITH_CANVAS = """(() => {
  const figures = (root) => [...root.querySelectorAll('*')].flatMap(e =>
    (e.classList.contains('bk-Figure') ? [e] : []).concat(e.shadowRoot ? figures(e.shadowRoot) : []));
  const canvasIn = (root) => !!root.querySelector('canvas') ||
    [...root.querySelectorAll('*')].some(e => e.shadowRoot && canvasIn(e.shadowRoot));
  const drawn = (f) => !!f.shadowRoot && canvasIn(f.shadowRoot);
  return figures(document.querySelector('[data-chart=reliability]')).filter(drawn).length;
})()"""


async def show(page, route: str) -> None:
    """Move the page to ``#/route`` (same document: no load event) and wait until the view has rendered."""
    await page.evaluate(f"document.getElementById('view').dataset.ready = 'false'; location.hash = {json.dumps(route)}")
    await page.wait_for("document.getElementById('view').dataset.ready === 'true'")


def rows(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        result = conn.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@dataclass
class OwnWorld:
    warehouse: Path
    market_id: str  # a live market with trust, alerts and a path in the snapshot, given a forecast band here


@pytest.fixture
def own_world(world, tmp_path: Path) -> OwnWorld:
    """A copy of the graph's warehouse (the feed test adds an alert) with a forecast band for one market (the
    sandbox world has no intraday refresh), published into this test's own data dir."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(world.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        market_id, last = conn.execute(
            "SELECT t.market_id, max(h.ts) FROM trust.trust_scores t JOIN alerts.alerts a USING (market_id) "
            "JOIN core.price_history h USING (market_id) JOIN core.markets m USING (market_id) WHERE NOT m.closed "
            "GROUP BY t.market_id ORDER BY count(DISTINCT a.alert_id) DESC, t.market_id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        conn.executemany(
            "INSERT INTO serving.forecast_bands VALUES (?, ?, ?, ?, ?, ?, ?, 'tollama', 'sandbox-quantile', NULL, "
            "true)",
            [(last, market_id, k, last + timedelta(hours=k), 0.3, 0.5, 0.7) for k in range(1, 7)],
        )
        publish_snapshot(conn, tmp_path / "data" / "serving", source="test")
    return OwnWorld(warehouse, market_id)


@pytest.fixture
def service(settings: Settings, own_world: OwnWorld, tmp_path: Path) -> Iterator[str]:
    served = replace(settings, data_dir=tmp_path / "data", read_rate_per_min=1e6, read_rate_burst=10_000)
    with live_server(create_app(served), served) as url:
        yield url


async def test_dashboard_in_headless_chromium(service: str, own_world: OwnWorld, tmp_path: Path) -> None:
    with running_chromium() as devtools:
        async with open_page(devtools, cache=False) as page:
            # researcher: the scoreboard's grades follow the documented rule
            await page.goto(f"{service}/#/scoreboard")
            await page.wait_for("document.getElementById('view').dataset.ready === 'true'")
            shown = await page.evaluate(
                "Object.fromEntries([...document.querySelectorAll('tr[data-row]')]"
                ".map(r => [r.dataset.row, r.dataset.grade]))"
            )
            latest = rows(own_world.warehouse, "SELECT * FROM calib.scoreboard WHERE \"window\" = '90d' "
                          "AND dt = (SELECT max(dt) FROM calib.scoreboard)")  # fmt: skip
            assert shown == {f"{r['horizon']}|{r['segment_type']}|{r['segment']}": reference_grade(r) for r in latest}
            assert len(set(shown.values()) - {"–"}) >= 1
            transfer = sum(r.get("encoded_bytes", 0) for r in page.requests.values())
            assert 0 < transfer < ONE_MB, transfer  # the whole first load: page, BokehJS, our files, API answers
            await page.screenshot(ARTIFACTS / "scoreboard.png")

            # reliability diagrams: one drawn figure per scored horizon, one dot per non-empty bin
            await show(page, "#/reliability")
            bins = rows(own_world.warehouse, "SELECT horizon, count(*) AS n FROM calib.reliability_bins "
                        "WHERE \"window\" = '90d' AND segment_type = 'all' AND p_mean IS NOT NULL "
                        "AND y_rate IS NOT NULL AND dt = (SELECT max(dt) FROM calib.reliability_bins) "
                        "GROUP BY horizon")  # fmt: skip
            expected = {r["horizon"]: r["n"] for r in bins}
            assert expected
            drawn = await page.wait_for(DRAWN_DIAGRAMS)
            assert drawn == expected
            canvases = await page.evaluate(FIGURES_WITH_CANVAS)
            assert canvases == len(expected)  # BokehJS drew onto a canvas in every figure
            await page.screenshot(ARTIFACTS / "reliability.png")

            # market watcher: the feed, newest first, then a new alert arrives with the next snapshot
            await show(page, "#/alerts")
            await page.wait_for("document.querySelectorAll('#feed tr[data-alert]').length > 0")
            ids = await page.evaluate(
                "[...document.querySelectorAll('#feed tr[data-alert]')].map(r => r.dataset.alert)"
            )
            newest = rows(
                own_world.warehouse,
                "SELECT alert_id FROM alerts.alerts ORDER BY ts DESC NULLS LAST, alert_id DESC LIMIT 100",
            )
            assert ids == [r["alert_id"] for r in newest]
            with duckdb.connect(str(own_world.warehouse)) as conn:
                conn.execute(
                    "INSERT INTO alerts.alerts SELECT * REPLACE ('zz-new' AS alert_id, ts + INTERVAL 1 MINUTE AS ts, "
                    "'HIGH' AS severity, 'arrived while watching' AS message) FROM alerts.alerts ORDER BY ts DESC "
                    "LIMIT 1"
                )
                publish_snapshot(conn, tmp_path / "data" / "serving", source="test")
            first = await page.wait_for(
                "(() => { const r = document.querySelector('#feed tr[data-alert]');"
                " return r && r.dataset.alert === 'zz-new' && r.className; })()", timeout_s=40,
            )  # fmt: skip
            assert first == "fresh"
            await page.screenshot(ARTIFACTS / "alerts.png")

            # a market page: its path and band drawn, trust breakdown, its alerts
            market = own_world.market_id
            await show(page, f"#/market/{market}")
            points = await page.wait_for("+document.querySelector('[data-chart=market-path]')?.dataset.points")
            snapshot = current_snapshot(tmp_path / "data" / "serving")
            assert snapshot is not None

            def count(sql: str) -> int:
                with duckdb.connect(str(snapshot), read_only=True) as snap:
                    return int(snap.execute(sql, [market]).fetchone()[0])  # type: ignore[index]

            path = count("SELECT count(DISTINCT ts) FROM core.price_history WHERE market_id = ?")
            live = count("SELECT count(*) FROM core.live_paths WHERE market_id = ?")
            expected_points = min(path, 2000) + live + 6
            expected_alerts = min(count("SELECT count(*) FROM alerts.alerts WHERE market_id = ?"), 100)
            assert points == expected_points > 6  # the daily path, the intraday path and the six band steps
            await page.wait_for("document.querySelector('[data-chart=trust]')?.dataset.points")
            listed = await page.evaluate("document.querySelectorAll('tr[data-alert]').length")
            assert listed == expected_alerts > 0
            await page.screenshot(ARTIFACTS / "market.png")

            # the postmortems, rendered from markdown
            await show(page, "#/postmortems")
            reports = rows(own_world.warehouse, "SELECT DISTINCT market_id FROM reports.postmortems ORDER BY market_id")
            links = await page.evaluate("[...document.querySelectorAll('a[href^=\"#/postmortem/\"]')].map(a => a.hash)")
            assert sorted(link.removeprefix("#/postmortem/") for link in links) == [r["market_id"] for r in reports]
            await show(page, links[0])
            heading = await page.wait_for("document.querySelector('#postmortem h1')?.textContent")
            shown_id = links[0].removeprefix("#/postmortem/")
            markdown = rows(own_world.warehouse, "SELECT markdown FROM reports.postmortems WHERE market_id = ? "
                            "ORDER BY dt DESC LIMIT 1", [shown_id])[0]["markdown"]  # fmt: skip
            assert heading == next(line[2:] for line in markdown.splitlines() if line.startswith("# "))
            await page.screenshot(ARTIFACTS / "postmortem.png")

            assert page.problems == []
            # the recorder itself: a console error and a failed request on this page are caught
            await page.evaluate("console.error('probe'); fetch('/static/missing.js').catch(() => null); true")
            await page.wait_for("new Promise(r => setTimeout(() => r(true), 300))")
            assert "console.error: probe" in page.problems
            assert any(p.startswith("HTTP 404") and p.endswith("/static/missing.js") for p in page.problems)
