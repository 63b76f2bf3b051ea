"""One bounded capture of the market channel into an on-disk spool, and reading the spool back.

The spool is NDJSON, one line per frame *as received* (control frames included), written by the stream's raw
hook before anything parses it: ``{"c": connection number, "r": receive time in unix microseconds, "f": frame
text}``. A background task flushes the file every ``FLUSH_EVERY_S`` (0.5 s), so a crash of the run loses at most
the last second of frames; a torn last line is skipped on reading. Parsing, dedupe and bars happen after the
window, from the spool alone (``mca_sensors.load``), so a failed load is re-run without reconnecting.

The capture itself is a ``MarketStream`` (subscribe, PING keepalive, reconnect with backoff and resubscribe); its
events are drained (they are already in the spool) only so its bounded queue never blocks the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from mca_resources.stream import MarketStream, StreamConfig

log = logging.getLogger("mca.capture")

FLUSH_EVERY_S = 0.5


class SpoolLine(msgspec.Struct):
    c: int  # connection number within the capture (1 = first connection)
    r: int  # receive time, unix microseconds
    f: str  # the frame text


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(SpoolLine)


@dataclass
class CaptureSummary:
    """What one capture saw; the counters of ``rt.capture_runs`` that only the live stream knows."""

    spool_path: str
    asset_ids: list[str]
    window_start: datetime
    window_end: datetime
    capture_start: datetime | None = None
    capture_end: datetime | None = None
    status: str = "captured"
    counters: dict[str, Any] = field(default_factory=dict)
    gaps: list[dict[str, Any]] = field(default_factory=list)  # {start, end, seconds} as ISO strings / float

    def to_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureSummary:
        return msgspec.convert(data, cls)


def _now() -> datetime:
    return datetime.now(UTC)


async def capture_to_spool(
    config: StreamConfig, asset_ids: list[str], window_start: datetime, window_end: datetime, spool_path: Path
) -> CaptureSummary:
    """Capture the market channel for ``asset_ids`` from max(now, ``window_start``) until ``window_end``.

    A window already over when called captures nothing (status ``expired``). Frames are appended to ``spool_path``
    (created with its folder); the returned summary holds the stream's counters and its gaps, an open gap closed
    at the end of the capture.
    """
    summary = CaptureSummary(str(spool_path), list(asset_ids), window_start, window_end)
    wait = (window_start - _now()).total_seconds()
    if wait > 0:
        await asyncio.sleep(wait)
    if _now() >= window_end or not asset_ids:
        summary.status = "expired" if asset_ids else "no_assets"
        return summary
    spool_path.parent.mkdir(parents=True, exist_ok=True)
    with spool_path.open("ab") as spool:
        stream: MarketStream

        def on_raw(text: str, recv_ts: datetime) -> None:
            micros = int(recv_ts.timestamp() * 1_000_000)
            spool.write(_ENCODER.encode(SpoolLine(stream.counters.connects, micros, text)) + b"\n")

        async def flusher() -> None:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                spool.flush()

        stream = MarketStream(config, asset_ids, on_raw=on_raw)
        flushing = asyncio.create_task(flusher(), name="mca.capture.flush")
        summary.capture_start = _now()
        try:
            async with stream:
                async for _event in stream.iter_until(window_end):
                    pass
                summary.capture_end = _now()
        finally:
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flushing
            spool.flush()
    counters = stream.counters
    summary.counters = counters.as_dict()
    end = summary.capture_end
    summary.gaps = [
        {
            "start": g.start.isoformat(),
            "end": (g.end or end).isoformat(),
            "seconds": ((g.end or end) - g.start).total_seconds(),
        }
        for g in counters.gaps
        if end is not None
    ]
    log.info("captured %s frames, %d reconnects into %s", counters.frames, counters.reconnects, spool_path)
    return summary


def read_spool(spool_path: Path) -> Iterator[tuple[int, int, str]]:
    """``(conn, recv_us, frame)`` per spooled frame in arrival order; a torn (crash-cut) line is skipped."""
    if not spool_path.exists():
        return
    with spool_path.open("rb") as spool:
        for line in spool:
            try:
                item = _DECODER.decode(line)
            except msgspec.DecodeError:
                log.warning("skipping a torn spool line in %s", spool_path)
                continue
            yield item.c, item.r, item.f
