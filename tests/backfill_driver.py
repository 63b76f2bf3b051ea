"""Drive a real Dagster asset backfill to its end: the backfill daemon's and the run queue's own iterations.

The runs are launched by the instance's run launcher into real run-worker processes of a real code server; only
the daemons' sleeps are skipped (the backfill daemon waits a fixed 30 s between iterations). Used by the DuckLake
backfill test and bench/bench_backfill.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.dagster_run import RunRecord
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from mca_assets.partitions import daily_partitions
from tests.conftest import REPO

log = logging.getLogger("mca.backfill_driver")


@dataclass
class BackfillOutcome:
    status: BulkActionStatus
    runs: list[RunRecord]
    wall_s: float

    @property
    def failed(self) -> list[str]:
        return [r.dagster_run.run_id for r in self.runs if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS]


@contextmanager
def code_location(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """The ``mca`` code location served by a gRPC code server subprocess (the process's env is its env)."""
    with WorkspaceProcessContext(instance, ModuleTarget("mca_assets.definitions", None, str(REPO), "mca")) as ctx:
        yield ctx


def run_backfill(
    workspace: WorkspaceProcessContext,
    selection: Sequence[dg.AssetKey],
    partitions: Sequence[str],
    backfill_id: str,
    on_iteration: Callable[[], None] = lambda: None,
    deadline_s: float = 900,
    tags: Mapping[str, str] | None = None,
) -> BackfillOutcome:
    """Submit an asset backfill of ``selection`` over ``partitions`` and iterate the daemons until it ends."""
    instance = workspace.instance
    # exactly these days of these assets (the UI's "partitions per asset" launch); from_asset_partitions would also
    # follow every partition mapping downstream, and an every-day dependency maps to every day since the start
    subset = AssetGraphSubset(
        partitions_subsets_by_asset_key={
            key: daily_partitions.subset_with_partition_keys(list(partitions)) for key in selection
        }
    )
    instance.add_backfill(
        PartitionBackfill.from_asset_graph_subset(
            backfill_id=backfill_id,
            backfill_timestamp=time.time(),
            tags=dict(tags or {}),
            dynamic_partitions_store=instance,
            asset_graph_subset=subset,
            title=None,
            description=None,
            run_config=None,
        )
    )
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    began = time.monotonic()
    while True:
        list(execute_backfill_iteration(workspace, log))
        list(queue.run_iteration(workspace))
        on_iteration()
        backfill = instance.get_backfill(backfill_id)
        assert backfill is not None
        if backfill.status != BulkActionStatus.REQUESTED:
            break
        if time.monotonic() - began > deadline_s:
            raise TimeoutError(f"backfill {backfill_id} still running after {deadline_s:.0f} s")
        time.sleep(1)
    wall = time.monotonic() - began
    runs = list(instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))
    return BackfillOutcome(backfill.status, sorted(runs, key=lambda r: r.create_timestamp), wall)


def barrier_waves(asset_graph: BaseAssetGraph, keys: Collection[dg.AssetKey]) -> dict[dg.AssetKey, int]:
    """The wave of each asset of ``keys`` in a backfill: 0 for the day-local graph, one more behind each dependency
    on every day (`mca_assets.common.every_day`), which waits for that parent's whole range."""
    waves: dict[dg.AssetKey, int] = {}

    def wave(key: dg.AssetKey) -> int:
        if key not in waves:
            waves[key] = max(
                (wave(p) + isinstance(asset_graph.get_partition_mapping(key, p), dg.AllPartitionMapping)
                 for p in asset_graph.get(key).parent_keys if p in keys),
                default=0,
            )  # fmt: skip
        return waves[key]

    for key in keys:
        wave(key)
    return waves


def overlap_peak(intervals: Sequence[tuple[float, float]]) -> int:
    """The largest number of [start, end] intervals open at one instant (an end before a start at a tie)."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak
