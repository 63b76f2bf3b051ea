"""The service under test: a real app (in-process client or uvicorn on loopback) against the sandbox's tollama."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from litestar import Litestar

from mca_assets.definitions import build_definitions
from mca_resources.serving_snapshot import publish_snapshot
from mca_resources.settings import Settings
from mca_serving.app import create_app
from mca_serving.auth import _PLACEHOLDERS
from tests.conftest import RunningSandbox, start_sandbox
from tests.integration.assets.conftest import busiest_day, settings_for
from tests.integration.serving.servinglib import token_file

MODELS = "sandbox-quantile,sandbox-crossing,sandbox-missing,sandbox-nan,sandbox-slow,mock"


@pytest.fixture(scope="module")
def tollama_box() -> Iterator[RunningSandbox]:
    """A small sandbox per module (its fault plan is changed by the tests)."""
    box = start_sandbox(markets=20)
    yield box
    box.stop()


def random_token() -> str:
    """A random token the service accepts: one that happens to spell a placeholder word ("test", "token", ...)
    would refuse start-up."""
    while True:
        candidate = secrets.token_urlsafe(32)
        if not any(word in candidate.lower() for word in _PLACEHOLDERS):
            return candidate


@pytest.fixture
def token() -> str:
    return random_token()


@pytest.fixture
def bob_token() -> str:
    """A second identity's token, for what one client's requests must not do to another's."""
    return random_token()


@pytest.fixture
def settings(tmp_path: Path, token: str, bob_token: str, tollama_box: RunningSandbox) -> Settings:
    tokens = token_file(tmp_path / "tokens", f"# identity:token\nalice:{token}\nbob:{bob_token}\n")
    tollama_box.faults.set_rules([])
    return Settings(
        data_dir=tmp_path / "data",
        tollama_url=tollama_box.urls["tollama"],
        api_tokens_file=tokens,
        environment="sandbox",
        tsfm_models=MODELS,
        tsfm_timeout_s=0.5,
        tsfm_rate_per_min=60_000.0,
        tsfm_rate_burst=1000,
    )


@pytest.fixture
def app_factory(settings: Settings) -> Callable[..., Litestar]:
    def factory(**overrides: Any) -> Litestar:
        return create_app(replace(settings, **overrides))

    return factory


@dataclass
class World:
    """The real daily graph over a short sandbox world (two days), published; ``warehouse`` is its warehouse."""

    settings: Settings
    dt: date
    warehouse: Path

    def publish(self, serving_dir: Path | None = None) -> Path:
        with duckdb.connect(str(self.warehouse)) as conn:
            return publish_snapshot(conn, serving_dir or self.settings.serving_dir, source="test").path


def seed_downstream(warehouse: Path, dt: date) -> None:
    """More alerts than a two-day world fires (the feed's paging needs pages), and postmortems when the graph's own
    stage selected none, for some of the graph's own markets; trust scores are the graph's own."""
    with duckdb.connect(str(warehouse)) as conn:
        markets = [r[0] for r in conn.execute(
            "SELECT market_id FROM core.markets WHERE dt = ? ORDER BY volume_usd DESC NULLS LAST, market_id LIMIT 30",
            [dt],
        ).fetchall()]  # fmt: skip
        resolved = [r[0] for r in conn.execute(
            "SELECT market_id FROM core.resolutions ORDER BY market_id LIMIT 5"
        ).fetchall()]  # fmt: skip
        base = datetime.combine(dt, datetime.min.time(), UTC)
        conn.executemany(
            "INSERT INTO alerts.alerts (alert_id, dt, ts, market_id, source, severity, reason, reason_codes, "
            "evidence, message, first_seen_ts, last_seen_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(f"seed{i:03d}", dt, ts, markets[i % len(markets)], ("rule", "check", "drift")[i % 3],
              ("HIGH", "MED", "FYI")[i % 3], "band_breach", ["band_breach", f"code{i % 4}"], '{"z": 3.1}',
              f"alert {i}", ts, ts)
             for i in range(120) for ts in [base + timedelta(minutes=7 * (i // 2))]],
        )  # fmt: skip
        if conn.execute("SELECT count(*) FROM reports.postmortems").fetchone()[0]:  # type: ignore[index]
            return  # the graph's own postmortem stage wrote them
        conn.executemany(
            "INSERT INTO reports.postmortems (dt, market_id, path, markdown, reason) VALUES (?, ?, ?, ?, 'test')",
            [(dt, m, f"reports/postmortem/{m}_{dt}.md", f"# Postmortem of {m}\n\nResolved.\n") for m in resolved],
        )


def graph_world(root: Path) -> World:
    """Two days of a 200-market sandbox world through the real daily graph under ``root``, topped up and published
    (the read tests' world and bench_dashboard's)."""
    sandbox = start_sandbox(markets=200, seed=11)
    settings = settings_for(sandbox, root / "data")
    dt = busiest_day(sandbox)
    home = root / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        job = build_definitions(settings).resolve_job_def("daily_job")
        for day in (dt - timedelta(days=1), dt):
            result = job.execute_in_process(instance=instance, partition_key=day.isoformat(), raise_on_error=False)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
    sandbox.stop()
    world = World(settings, dt, settings.warehouse_path)
    seed_downstream(world.warehouse, dt)
    world.publish()
    return world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return graph_world(tmp_path_factory.mktemp("world"))
