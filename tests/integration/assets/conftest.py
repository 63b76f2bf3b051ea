"""A sandbox and a fully materialized partition shared by the graph tests (real DuckDB file, real instance)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest

from mca_assets.definitions import build_definitions
from mca_resources.settings import Settings
from tests.conftest import RunningSandbox, start_sandbox


@dataclass
class Graph:
    sandbox: RunningSandbox
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    dt: date

    def materialize(self, partition: str | None = None, **kw: object) -> dg.ExecuteInJobResult:
        job = self.defs.resolve_job_def("daily_job")
        return job.execute_in_process(
            instance=self.instance, partition_key=partition or self.dt.isoformat(), raise_on_error=False, **kw
        )

    def truth_resolutions(self, dt: date) -> list[dict]:
        return httpx.get(f"{self.sandbox.base}/_truth/resolutions", params={"date": dt.isoformat()}).json()["markets"]


def settings_for(sandbox: RunningSandbox, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        gamma_url=sandbox.urls["gamma"],
        clob_url=sandbox.urls["clob"],
        ws_url=sandbox.urls["ws"],
        subgraph_url=sandbox.urls["subgraph"],
        tollama_url=sandbox.urls["tollama"],
        http_max_retries=4,
    )


def busiest_day(sandbox: RunningSandbox) -> date:
    """The day whose cohort has the most distinct labels, then the most markets."""
    truth = httpx.get(f"{sandbox.base}/_truth/markets", params={"limit": 10000}).json()["markets"]
    by_day: dict[date, Counter[str]] = {}
    for m in truth:
        if m["resolved_ts"] is None:
            continue
        day = datetime.fromtimestamp(m["resolved_ts"], UTC).date()
        if day >= date(2026, 9, 1):
            by_day.setdefault(day, Counter())[m["label"]] += 1
    return max(by_day, key=lambda d: (len(by_day[d]), sum(by_day[d].values())))


@pytest.fixture(scope="session")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    sandbox = start_sandbox(markets=1500, seed=11)
    data_dir = tmp_path_factory.mktemp("data")
    settings = settings_for(sandbox, data_dir)
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as instance:
        graph = Graph(sandbox, settings, build_definitions(settings), instance, busiest_day(sandbox))
        result = graph.materialize()
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        yield graph
    sandbox.stop()
