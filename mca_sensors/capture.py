"""One bounded capture of the market channel into an on-disk spool, and reading the spool back.

The spool is NDJSON, one line per frame *as received* (control frames included), written by the stream's raw
hook before anything parses it: ``{"c": connection number, "r": receive time in unix microseconds, "f": frame
text}``. A background task flushes the file every ``FLUSH_EVERY_S`` (0.5 s), so a crash of the run loses at most
the last second of frames; a torn last line is skipped on reading. Parsing, dedupe and bars happen after the
window, from the spool alone (``mca_sensors.load``), so a failed load is re-run without reconnecting.

The capture itself is a ``MarketStream`` (subscribe, PING keepalive, reconnect with backoff and resubscribe); its
events are drained (they are already in the spool) only so its bounded queue never blocks the reader.

Coverage: a connection *covers* the time from its first frame to its last one (to the end of the capture when it
is still open then). Every second of ``[window_start, window_end]`` outside all covered spans is a gap: before the
first frame (``late_start``: the run launched or connected late), between connections (``reconnect``), after the
last frame of a lost connection (``early_stop``), or the whole window (``missed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
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


@dataclass(frozen=True)
class Span:
    """What one connection covered: receive time of its first frame to that of its last (or the capture end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Gap:
    """An uncovered stretch of a window, and why (``late_start``, ``reconnect``, ``early_stop``, ``missed``)."""

    start: datetime
    end: datetime
    kind: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """The ``gaps_json`` item of ``rt.capture_runs``."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "seconds": self.seconds,
            "kind": self.kind,
        }


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
    requested_at: datetime | None = None  # when the run was requested (its creation in the instance)
    covered: list[Span] = field(default_factory=list)  # per connection: first frame .. last frame (or capture end)

    def to_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureSummary:
        return msgspec.convert(data, cls)

    @property
    def connected_at(self) -> datetime | None:
        """Receive time of the capture's first frame."""
        return min((span.start for span in self.covered), default=None)

    @property
    def launch_latency_s(self) -> float | None:
        """Seconds from the run's request to its first frame (None if either is unknown)."""
        connected = self.connected_at
        if connected is None or self.requested_at is None:
            return None
        return (connected - self.requested_at).total_seconds()

    @property
    def gaps(self) -> list[Gap]:
        return window_gaps(self.window_start, self.window_end, self.covered)

    @property
    def coverage(self) -> float:
        """Share of the window inside covered spans, in [0, 1]."""
        window = (self.window_end - self.window_start).total_seconds()
        return max(0.0, 1.0 - sum(g.seconds for g in self.gaps) / window) if window > 0 else 0.0


def uncovered(start: datetime, end: datetime, spans: list[Span]) -> list[tuple[datetime, datetime]]:
    """The stretches of ``[start, end]`` outside every span (spans may overlap and reach outside the window)."""
    holes: list[tuple[datetime, datetime]] = []
    reached = start
    for span in sorted(spans, key=lambda s: s.start):
        if span.start > reached:
            holes.append((reached, min(span.start, end)))
        reached = max(reached, span.end)
        if reached >= end:
            break
    if reached < end:
        holes.append((reached, end))
    return [(lo, hi) for lo, hi in holes if hi > lo]


def window_gaps(start: datetime, end: datetime, spans: list[Span]) -> list[Gap]:
    """``uncovered`` with the reason of each stretch, named by where it lies in the window."""
    kinds = {(True, True): "missed", (True, False): "late_start", (False, True): "early_stop"}
    return [Gap(lo, hi, kinds.get((lo == start, hi == end), "reconnect")) for lo, hi in uncovered(start, end, spans)]


def _now() -> datetime:
    return datetime.now(UTC)


async def capture_to_spool(
    config: StreamConfig,
    asset_ids: list[str],
    window_start: datetime,
    window_end: datetime,
    spool_path: Path,
    on_connected: Callable[[datetime], None] | None = None,
) -> CaptureSummary:
    """Capture the market channel for ``asset_ids`` from now until ``window_end``.

    The capture connects at once, also when ``window_start`` is still ahead: the sensor launches a run just early
    enough for it to be connected when its window opens, and what it sees before is kept (the predecessor's last
    seconds, deduplicated on load). ``on_connected`` is called once, with the receive time of the first frame. A
    window already over when called captures nothing (status ``expired``). Frames are appended to ``spool_path``
    (created with its folder); the summary holds the stream's counters and the covered spans.
    """
    summary = CaptureSummary(str(spool_path), list(asset_ids), window_start, window_end)
    if _now() >= window_end or not asset_ids:
        summary.status = "expired" if asset_ids else "no_assets"
        return summary
    spool_path.parent.mkdir(parents=True, exist_ok=True)
    frames: dict[int, list[datetime]] = {}  # connection -> [first frame, last frame]
    with spool_path.open("ab") as spool:
        stream: MarketStream

        def on_raw(text: str, recv_ts: datetime) -> None:
            conn = stream.counters.connects
            micros = int(recv_ts.timestamp() * 1_000_000)
            spool.write(_ENCODER.encode(SpoolLine(conn, micros, text)) + b"\n")
            if conn in frames:
                frames[conn][1] = recv_ts
                return
            frames[conn] = [recv_ts, recv_ts]
            if len(frames) == 1 and on_connected is not None:
                on_connected(recv_ts)

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
                summary.capture_end = end = _now()
                if stream.connected and stream.counters.connects in frames:
                    frames[stream.counters.connects][1] = end  # still open and healthy: covered to the end
        finally:
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flushing
            spool.flush()
    summary.counters = stream.counters.as_dict()
    summary.covered = [Span(first, last) for first, last in frames.values()]
    log.info(
        "captured %s frames, %d reconnects into %s; coverage %.4f",
        stream.counters.frames,
        stream.counters.reconnects,
        spool_path,
        summary.coverage,
    )
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
