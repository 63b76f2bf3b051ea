"""The ``realtime_capture`` job: capture one window of the market channel, then load it into ``rt.*``.

Two ops so that the socket is never held together with the DuckDB write lock: ``capture_window`` only talks to
the venue and writes the spool (``<capture_dir>/<run_id>.jsonl`` plus ``<run_id>.summary.json``);
``load_capture`` (in the warehouse pool) parses, dedupes and writes the four tables in one transaction.
Re-executing ``load_capture`` of a run from its spool is idempotent.

Run config (the sensor fills it in)::

    ops:
      capture_window:
        config: {asset_ids: [...], window_start: "2026-11-24T10:00:00+00:00", window_end: "...", capture_dir: ""}
"""

import asyncio
import json
from datetime import datetime
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_resources.dagster_resources import PolymarketResource
from mca_resources.dagster_storage import WRITER_POOL, StorageResource, warehouse_connection
from mca_resources.stream import StreamConfig
from mca_sensors.capture import CaptureSummary, capture_to_spool
from mca_sensors.load import load_capture

JOB_NAME = "realtime_capture"
#: tags every capture run carries (the sensor reads the window back from them)
WINDOW_START_TAG = "mca/window_start"
WINDOW_END_TAG = "mca/window_end"
#: set by the run when its first frame arrives: with the run's creation time, its launch-to-connect latency
CONNECTED_TAG = "mca/connected_at"


class CaptureConfig(dg.Config):
    """One capture window; ``capture_dir`` empty = ``<data_dir>/capture``."""

    asset_ids: list[str]
    window_start: str
    window_end: str
    capture_dir: str = ""


def _aware(text: str) -> datetime:
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise dg.Failure(f"window bounds must carry a time zone, got {text!r}", allow_retries=False)
    return ts


_LATE = ("late_start", "missed")


def coverage_metadata(summary: CaptureSummary) -> dict[str, dg.MetadataValue]:
    """What a user checks first on a capture run: how much of its window it covered, and when it connected."""
    gaps = summary.gaps
    latency = summary.launch_latency_s
    return {
        "coverage": dg.MetadataValue.float(summary.coverage),
        "gaps": dg.MetadataValue.int(len(gaps)),
        "gap_seconds": dg.MetadataValue.float(float(sum(g.seconds for g in gaps))),
        "late_start_s": dg.MetadataValue.float(float(sum(g.seconds for g in gaps if g.kind in _LATE))),
        "launch_latency_s": dg.MetadataValue.float(latency) if latency is not None else dg.MetadataValue.null(),
        "status": dg.MetadataValue.text(summary.status),
    }


@dg.op(tags={"kind": "websocket"})
def capture_window(
    context: dg.OpExecutionContext, config: CaptureConfig, polymarket: PolymarketResource, storage: StorageResource
) -> dg.Output[dict]:  # type: ignore[type-arg]
    """Stream the window to the spool; returns the capture summary (JSON) for the load step."""
    start, end = _aware(config.window_start), _aware(config.window_end)
    if end <= start:
        raise dg.Failure(f"empty window {start} .. {end}", allow_retries=False)
    folder = Path(config.capture_dir) if config.capture_dir else Path(storage.data_dir) / "capture"
    run_id = context.run.run_id
    spool = folder / f"{run_id}.jsonl"
    stream = StreamConfig(url=polymarket.ws_url, backoff_initial_s=0.2, backoff_max_s=10.0)
    record = context.instance.get_run_record_by_id(run_id)

    def on_connected(first_frame: datetime) -> None:
        context.instance.add_run_tags(run_id, {CONNECTED_TAG: first_frame.isoformat()})

    summary = asyncio.run(capture_to_spool(stream, list(config.asset_ids), start, end, spool, on_connected))
    summary.requested_at = record.create_timestamp if record is not None else None
    payload = summary.to_json()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run_id}.summary.json").write_text(json.dumps(payload))  # the spool's counters, for a manual reload
    c = summary.counters
    context.log.info(
        f"captured {c.get('frames', 0)} frames ({summary.status}), {c.get('reconnects', 0)} reconnects, "
        f"coverage {summary.coverage:.4f} of the window, {len(summary.gaps)} gaps"
    )
    return dg.Output(payload, metadata=coverage_metadata(summary))


@dg.op(pool=WRITER_POOL, tags={"kind": "duckdb"})
def load_capture_op(context: dg.OpExecutionContext, summary: dict, warehouse: DuckDBResource) -> dg.Output[dict]:  # type: ignore[type-arg]
    """Dedupe the spool and write rt.ticks, rt.bars_1m, rt.bars_5m and rt.capture_runs in one transaction."""
    capture = CaptureSummary.from_json(summary)
    with warehouse_connection(warehouse) as conn:
        written = load_capture(conn, context.run.run_id, capture)
    counts = {name: dg.MetadataValue.int(n) for name, n in written.items()}
    return dg.Output(written, metadata={**counts, **coverage_metadata(capture)})


@dg.job(name=JOB_NAME, description="Capture one window of the market WebSocket into rt.ticks and 1m/5m bars.")
def realtime_capture() -> None:
    load_capture_op(capture_window())
