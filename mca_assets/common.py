"""What every stage shares: partition dates, retry policy, writing and metadata helpers.

The warehouse pool and connection helper live with the Dagster resources (`mca_resources.dagster_storage`), since
the realtime job of `mca_sensors` writes the warehouse too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.partitions import daily_partitions
from mca_resources.dagster_storage import BACKFILL_POLICY as BACKFILL
from mca_resources.dagster_storage import WRITER_POOL, warehouse_connection
from mca_resources.errors import ClientError, PaginationError
from mca_resources.http import RawSink
from mca_resources.landing import RawLanding
from mca_resources.warehouse import replace_partition

T = TypeVar("T")

#: Network-bound assets retry the whole step a few times on top of the clients' own request retries.
NETWORK_RETRY = dg.RetryPolicy(max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def every_day(key: dg.AssetKey) -> dg.AssetDep:
    """A dependency on every day of ``key``, for an asset whose day d reads earlier days (windows, day-over-day).

    It is the barrier a backfill needs: these days run once every day of ``key`` in the backfill is written, so
    parallel one-day runs on a DuckLake read what a serial run reads (a job run of one day is not held back).
    """
    return dg.AssetDep(key, partition_mapping=dg.AllPartitionMapping())


def daily_asset(
    key: dg.AssetKey | list[str],
    *,
    group: str,
    description: str,
    deps: Sequence[object] = (),
    network: bool = False,
    owners: Sequence[str] = ("team:data",),
    check_specs: Sequence[dg.AssetCheckSpec] = (),
    code_version: str = "1",
) -> Callable[..., dg.AssetsDefinition]:
    """The decorator every daily asset uses: one partitioning, single-run backfills, and either the network
    retry policy (assets that only land raw files) or the warehouse pool (assets that write DuckDB)."""
    return dg.asset(
        key=key,
        deps=list(deps),  # type: ignore[arg-type]
        partitions_def=daily_partitions,
        backfill_policy=BACKFILL,
        retry_policy=NETWORK_RETRY if network else None,
        pool=None if network else WRITER_POOL,
        group_name=group,
        kinds={"python"} if network else {"duckdb", "polars"},
        owners=list(owners),
        code_version=code_version,
        description=description,
        check_specs=list(check_specs),
    )


def intraday_asset(
    key: dg.AssetKey,
    *,
    description: str,
    deps: Sequence[dg.AssetKey],
    owners: Sequence[str],
    kinds: Sequence[str] = ("duckdb", "polars"),
) -> Callable[..., dg.AssetsDefinition]:
    """The decorator of the ``intraday_refresh`` job's assets: not partitioned (each run is "now"), in the
    ``intraday`` group the daily CLI selection leaves out, and behind the warehouse pool like every writer."""
    return dg.asset(
        key=key,
        deps=list(deps),
        group_name="intraday",
        kinds=set(kinds),
        owners=list(owners),
        pool=WRITER_POOL,
        description=description,
    )


def written_result(
    written: dict[str, int], severity: dg.AssetCheckSeverity, **metadata: object
) -> dg.MaterializeResult:
    """The materialization of a warehouse asset: rows per day, the non-empty check, and the asset's own metadata."""
    from mca_assets.checklib import non_empty_result

    return dg.MaterializeResult(
        check_results=[non_empty_result(written, severity)],
        metadata={"rows": sum(written.values()), "rows_per_day": dg.MetadataValue.json(written), **metadata},
    )


def partition_dates(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days this run covers, in order."""
    window = context.partition_time_window
    start = window.start.date()
    days = (window.end - window.start).days
    return [start + timedelta(days=i) for i in range(days)]


@contextmanager
def upstream_errors(what: str) -> Iterator[None]:
    """Step retries are for transient failures: a 4xx or a broken paging contract fails the step for good."""
    try:
        yield
    except (ClientError, PaginationError) as exc:
        raise dg.Failure(f"{what}: {exc}", allow_retries=False) from exc


def land_day(
    raw_dir: Path, dataset: str, dt: date, run_id: str, fetch: Callable[[RawSink], Coroutine[Any, Any, T]]
) -> tuple[T, RawLanding]:
    """Run one day's network fetch with every page landed as received; publish the day only if it succeeds.

    ``fetch`` gets the raw-page hook to give its client; a 4xx fails the step for good (`upstream_errors`).
    """
    with upstream_errors(f"{dataset} {dt}"), RawLanding(raw_dir, dataset, dt, run_id) as landing:
        return asyncio.run(fetch(landing.write)), landing


def write_days(warehouse: DuckDBResource, table: str, frames: dict[date, pl.DataFrame]) -> dict[str, int]:
    """Replace each day's partition of ``table`` (one transaction per day); returns rows per day."""
    written: dict[str, int] = {}
    with warehouse_connection(warehouse) as conn:
        for dt, frame in frames.items():
            written[dt.isoformat()] = replace_partition(conn, table, dt, frame)
    return written


class Progress:
    """Progress of a long fetch in the run log: done / total, rate and ETA, at most every ``every_s`` seconds."""

    def __init__(self, log: Callable[[str], None], what: str, total: int, unit: str, every_s: float = 5.0) -> None:
        self.log, self.what, self.total, self.unit, self.every_s = log, what, total, unit, every_s
        self.done = 0
        self._started = self._logged = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._logged >= self.every_s or self.done >= self.total:
            self._logged = now
            self.log(self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max(1e-9, (now or time.monotonic()) - self._started)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (
            f"{self.what}: {self.done:,}/{self.total:,} {self.unit} ({self.done / max(1, self.total):.0%}), "
            f"{rate:,.0f} {self.unit}/s, ETA {eta:,.0f} s"
        )


def _cell(value: object) -> str:
    """A table cell: floats to 4 significant digits (a metric's 16th digit is noise to a reader), text cut at 40."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)[:40]


def preview(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    """A markdown preview of the first rows, for the asset's materialization page."""
    if frame.is_empty():
        return dg.MetadataValue.md("_no rows_")
    head = frame.head(rows)
    cols = head.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))
