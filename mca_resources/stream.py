"""The CLOB market-channel WebSocket client: a resilient, deduplicated, bounded stream of typed events.

``MarketStream`` keeps one connection to ``/ws/market`` and turns its frames into typed ``WsEvent`` records
(``mca_core.wsparse``), each stamped with the UTC time its frame was received (``recv_ts``)::

    async with MarketStream(StreamConfig(url=settings.ws_url), asset_ids) as stream:
        async for event in stream.iter_until(deadline):
            ...
        print(stream.counters.as_dict())

Decisions (each one is a promise the tests check):

- **Protocol.** The first frame after opening is ``{"assets_ids": [...], "type": "market",
  "custom_feature_enabled": true}`` with the *current* asset set; later changes are sent as
  ``{"operation": "subscribe"|"unsubscribe", "assets_ids": [...]}``. A text ``PING`` goes out every
  ``ping_interval_s`` (10 s); ``PONG`` and ``NO NEW ASSETS`` are counted as control frames, never as events
  or rejections, and a server ``PING`` is answered with ``PONG``. Frames may be arrays or single objects and
  ``price_change`` may use either schema (``parse_ws_frame`` handles both). The library's own protocol-level
  keepalive is off: the text PING plus an **idle timeout** replaces it (no frame for ``idle_timeout_s``,
  default 3 PING intervals, while the reader waits on the socket = the connection is dead and is replaced).
  The timeout only runs while the reader waits for the socket, so a consumer that applies backpressure never
  makes a healthy connection look dead.
- **Reconnects.** A lost connection (closed by the server, reset, idle) is replaced after a jittered
  exponential backoff (``backoff_delay``: "equal jitter", uniform in [cap/2, cap] with cap = min(max,
  initial * 2**(n-1)) for the n-th consecutive attempt), and the new connection subscribes the asset set *as it
  is then*, so run-time ``subscribe``/``unsubscribe`` calls survive reconnects. ``max_reconnects`` bounds the
  **consecutive** attempts that bring no frame (a connection that delivers a frame resets the count and the
  backoff); with ``max_reconnects=n``, after a failed first attempt or a lost connection at most n further
  attempts are made in a row, then the stream fails: iterating raises ``StreamError`` (last cause chained) once
  the events already queued have been yielded. ``None`` = retry forever.
- **Gaps.** A gap opens when an established connection is lost (``start`` = when the loss was detected,
  ``last_frame`` = receive time of the last frame before it) and closes at the first frame received on a later
  connection (``end``). A gap left open at close/failure keeps ``end=None``. Every reconnect that delivered
  data closes exactly the one open gap, so closed gaps <= ``reconnects``.
- **Deduplication.** An event is dropped when its ``dedupe_key`` is among the last ``dedupe_window``
  (default 100 000) distinct keys seen: a FIFO window (set + deque, O(1)); a repeated key does not refresh
  its place. One refinement: ``dedupe_key`` is content + exchange ms, so a quote that flickers A -> B -> A within
  one millisecond (common with market makers) repeats a key without being a replay. An event that sets a piece of
  state (a book, one price level of one side, the best bid/ask, the tick size) is therefore a duplicate only
  while that state's last setter is the same key; if something else set it in between, the event is a real
  return to an earlier state and is delivered (dropping it would leave the consumer on the wrong quote; the price
  is that a replay arriving *after* its state changed again is delivered too: the two cannot be told apart).
  The last setter per state is kept per subscribed asset (levels x assets) and forgotten on unsubscribe. Trades
  and announcements have no state: a key in the window is a duplicate (old-schema trades without
  ``transaction_hash`` that match in ms, price, size and side are indistinguishable from a replay).
  Dedupe runs before the subscription filter, over every parsed event. ``counters.duplicate_events``
  counts dropped events; ``counters.duplicates`` counts *frames* whose every event was a duplicate, i.e. replayed
  messages, which is what a venue that "sends a message twice" counts.
- **Unsubscribe.** ``unsubscribe(ids)`` removes the ids from the set *before* it sends the request, and the
  reader drops every event of an asset outside the set (``counters.filtered``). So once ``unsubscribe``
  returns, no event of those assets received afterwards is yielded; only events already queued at that moment
  (at most ``pending`` at return, yielded first since the queue is FIFO) can still carry them. ``market_resolved``
  is dropped only when none of its ``assets_ids`` is subscribed; ``new_market`` is never filtered.
- **Backpressure.** Events wait in a bounded FIFO (``queue_size``, default 10 000). ``overflow="block"``
  (default): the reader waits for room, stops reading the socket, and TCP backpressure reaches the server (the
  venue may then drop the connection, which the reconnect logic handles); nothing is lost in the client.
  ``overflow="drop_oldest"``: the oldest queued event is evicted and counted in ``counters.dropped``; the reader
  never waits, so the feed stays live and lag stays low at the price of holes.
- **Rejections.** A frame or event that does not parse is counted (``counters.rejections``, by reason prefix in
  ``rejection_reasons``, the last 20 kept in ``recent_rejections``) and the stream goes on; nothing in a frame
  can crash the reader.
- **Lag.** For every delivered non-``book`` event, lag = receive time - exchange ``ts`` in ms (books are
  excluded: a snapshot's timestamp may be its last change, not its sending time). Kept: last, max, sum/count
  and a histogram over ``LAG_BUCKETS_MS``.
- **Raw hook.** ``on_raw(text, recv_ts)`` (sync or async) sees every frame as received, control frames included,
  before parsing, so raw JSONL can be landed first. An exception in the hook fails the stream (``StreamError``).
- **Errors.** Connection failures (refused, reset, handshake refused, timeouts) are retried as above; an
  invalid URL fails at once; anything unexpected fails the stream with a ``StreamError`` chaining the cause
  rather than retrying a bug. One connection carries one asset set: more than ``MAX_ASSETS_PER_CONNECTION``
  (500) is logged as a warning, not split (run several streams).
- **Lifecycle.** ``async with`` starts the reader task and on exit cancels it, closes the socket and wakes any
  waiting consumer (iteration then ends); no task is left pending. One consumer at a time is supported.

Logs go to the ``mca.stream`` logger; frames are never logged (there are no secrets on this channel anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from mca_core.records import (
    Rejection,
    WsBestBidAsk,
    WsBook,
    WsEvent,
    WsMarketResolved,
    WsNewMarket,
    WsPriceChange,
    WsTickSizeChange,
)
from mca_core.wsparse import dedupe_key, parse_ws_frame
from mca_resources.errors import StreamError

__all__ = [
    "LAG_BUCKETS_MS",
    "MAX_ASSETS_PER_CONNECTION",
    "BufferClosed",
    "DedupeWindow",
    "EventBuffer",
    "Gap",
    "MarketStream",
    "Overflow",
    "RawHook",
    "StreamConfig",
    "StreamCounters",
    "backoff_delay",
    "state_slot",
]

log = logging.getLogger("mca.stream")

Overflow = Literal["block", "drop_oldest"]
RawHook = Callable[[str, datetime], Awaitable[None] | None]
T = TypeVar("T")

#: Upper bounds (inclusive, ms) of the lag histogram buckets; one more bucket holds everything above.
LAG_BUCKETS_MS: tuple[int, ...] = (10, 50, 100, 250, 500, 1_000, 5_000, 30_000)
RECENT_REJECTIONS = 20
#: Polymarket serves about this many assets per connection (3rd-party reports; the sandbox refuses more).
MAX_ASSETS_PER_CONNECTION = 500


def _now() -> datetime:
    return datetime.now(UTC)


# ----------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class StreamConfig:
    """How to connect and how hard to hold on; see the module docstring for the semantics."""

    url: str
    ping_interval_s: float = 10.0
    idle_timeout_s: float | None = None  # None = 3 * ping_interval_s
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_reconnects: int | None = None  # consecutive attempts without a frame; None = forever
    queue_size: int = 10_000
    overflow: Overflow = "block"
    dedupe_window: int = 100_000
    custom_feature_enabled: bool = True
    max_frame_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.overflow not in ("block", "drop_oldest"):
            raise ValueError(f"overflow must be 'block' or 'drop_oldest', got {self.overflow!r}")
        for name in ("ping_interval_s", "connect_timeout_s", "close_timeout_s", "backoff_max_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.backoff_initial_s < 0 or self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must be in [0, backoff_max_s]")
        if self.idle_timeout_s is not None and not self.idle_timeout_s > self.ping_interval_s:
            raise ValueError("idle_timeout_s must exceed ping_interval_s (a PONG is expected every interval)")
        if self.max_reconnects is not None and self.max_reconnects < 0:
            raise ValueError("max_reconnects must be >= 0 or None")
        if self.queue_size < 1 or self.dedupe_window < 1 or self.max_frame_bytes < 1:
            raise ValueError("queue_size, dedupe_window and max_frame_bytes must be >= 1")

    @property
    def idle_timeout(self) -> float:
        return self.idle_timeout_s if self.idle_timeout_s is not None else 3.0 * self.ping_interval_s


# ----------------------------------------------------------------------------------- pure parts


def backoff_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before the ``attempt``-th consecutive reconnect attempt (1-based), with equal jitter.

    cap = min(max_s, initial_s * 2 ** (attempt - 1)); the delay is uniform in [cap / 2, cap], so attempts
    never collapse to zero (no hammering of a venue that is down) and never exceed ``max_s``.
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    cap = min(max_s, initial_s * 2.0 ** min(attempt - 1, 60))
    draw = (rng or random).random()
    return cap / 2.0 + draw * cap / 2.0


class DedupeWindow:
    """The last ``size`` distinct keys seen, first in first out; ``seen(key)`` answers and remembers."""

    __slots__ = ("_keys", "_order", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be >= 1, got {size}")
        self.size = size
        self._keys: set[str] = set()
        self._order: deque[str] = deque()

    def seen(self, key: str) -> bool:
        """True when ``key`` is in the window (a duplicate); otherwise add it, evicting the oldest if full."""
        if key in self._keys:
            return True
        if len(self._order) >= self.size:
            self._keys.discard(self._order.popleft())
        self._order.append(key)
        self._keys.add(key)
        return False

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._order)


class BufferClosed(Exception):
    """The buffer was closed without an error and holds nothing more."""


class EventBuffer(Generic[T]):
    """Bounded FIFO between one producer (the reader) and its consumer, with an explicit overflow policy.

    ``block``: ``put`` waits until there is room (or the buffer closes). ``drop_oldest``: ``put`` never waits; when
    full, the oldest item is evicted and counted in ``dropped``. ``close(error)`` wakes everyone: ``get`` keeps
    returning what is queued, then raises ``error`` (or ``BufferClosed``); ``put`` on a closed buffer discards.
    """

    def __init__(self, maxsize: int, overflow: Overflow = "block") -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        if overflow not in ("block", "drop_oldest"):
            raise ValueError(f"unknown overflow policy {overflow!r}")
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self.closed = False
        self.error: BaseException | None = None
        self._items: deque[T] = deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: T) -> bool:
        """Queue ``item``; False when it was discarded because the buffer is closed."""
        items = self._items
        while len(items) >= self.maxsize and not self.closed:
            if self.overflow == "drop_oldest":
                items.popleft()
                self.dropped += 1
                break
            self._writable.clear()
            await self._writable.wait()
        if self.closed:
            return False
        items.append(item)
        self._readable.set()
        return True

    def get_nowait(self) -> T:
        """The oldest item; raises ``asyncio.QueueEmpty`` when none is queued (even if closed)."""
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        self._writable.set()
        if not self._items and not self.closed:
            self._readable.clear()
        return item

    async def get(self) -> T:
        """Wait for the oldest item; after ``close`` drain first, then raise the close error or ``BufferClosed``."""
        while True:
            if self._items:
                return self.get_nowait()
            if self.closed:
                if self.error is not None:
                    raise self.error
                raise BufferClosed
            self._readable.clear()
            await self._readable.wait()

    def close(self, error: BaseException | None = None) -> None:
        """Stop accepting items and wake every waiter; the first error given is the one ``get`` raises."""
        if error is not None and self.error is None:
            self.error = error
        self.closed = True
        self._readable.set()
        self._writable.set()


# --------------------------------------------------------------------------------------- counters


@dataclass
class Gap:
    """A stretch without a connection: from the detected loss to the first frame of a later connection."""

    start: datetime
    end: datetime | None = None
    last_frame: datetime | None = None  # receive time of the last frame before the loss
    cause: str = ""

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else (self.end - self.start).total_seconds()


@dataclass
class StreamCounters:
    """What the stream saw; read it any time (single-threaded, updated by the reader as frames arrive)."""

    frames: int = 0  # every frame received: data, control and rejected
    control_frames: int = 0  # PONG / NO NEW ASSETS / PING
    pongs: int = 0
    no_new_assets: int = 0
    pings_sent: int = 0
    events: int = 0  # events parsed from frames, before filtering and dedupe
    delivered: int = 0  # events queued for the consumer
    filtered: int = 0  # events (not duplicates) of assets not (any more) subscribed
    duplicates: int = 0  # frames whose every event was a duplicate (replayed messages)
    duplicate_events: int = 0  # events dropped as duplicates
    dropped: int = 0  # events evicted by overflow="drop_oldest"
    rejections: int = 0
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    recent_rejections: deque[Rejection] = field(default_factory=lambda: deque(maxlen=RECENT_REJECTIONS))
    connects: int = 0  # connections opened and subscribed
    connect_failures: int = 0  # attempts that did not get that far
    disconnects: int = 0  # established connections lost (not counting our own close)
    reconnects: int = 0  # connections opened after the first
    gaps: list[Gap] = field(default_factory=list)
    last_lag_ms: float | None = None
    max_lag_ms: float | None = None
    lag_sum_ms: float = 0.0
    lag_count: int = 0
    lag_histogram: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS_MS) + 1))

    def observe_lag(self, lag_ms: float) -> None:
        self.last_lag_ms = lag_ms
        if self.max_lag_ms is None or lag_ms > self.max_lag_ms:
            self.max_lag_ms = lag_ms
        self.lag_sum_ms += lag_ms
        self.lag_count += 1
        i = 0
        for bound in LAG_BUCKETS_MS:
            if lag_ms <= bound:
                break
            i += 1
        self.lag_histogram[i] += 1

    @property
    def mean_lag_ms(self) -> float | None:
        return self.lag_sum_ms / self.lag_count if self.lag_count else None

    @property
    def gap_seconds(self) -> float:
        """Total length of the closed gaps."""
        return sum(g.seconds or 0.0 for g in self.gaps)

    def as_dict(self) -> dict[str, Any]:
        """A flat summary (numbers only, gaps as count and seconds) for ``rt.capture_runs``."""
        return {
            "frames": self.frames,
            "control_frames": self.control_frames,
            "events": self.events,
            "delivered": self.delivered,
            "filtered": self.filtered,
            "duplicates": self.duplicates,
            "duplicate_events": self.duplicate_events,
            "dropped": self.dropped,
            "rejections": self.rejections,
            "connects": self.connects,
            "connect_failures": self.connect_failures,
            "disconnects": self.disconnects,
            "reconnects": self.reconnects,
            "gaps": len(self.gaps),
            "open_gaps": sum(1 for g in self.gaps if g.end is None),
            "gap_seconds": self.gap_seconds,
            "pings_sent": self.pings_sent,
            "pongs": self.pongs,
            "last_lag_ms": self.last_lag_ms,
            "max_lag_ms": self.max_lag_ms,
            "mean_lag_ms": self.mean_lag_ms,
        }


# ----------------------------------------------------------------------------------------- stream


def state_slot(event: WsEvent) -> tuple[Any, ...] | None:
    """The piece of market state an event sets (None for events that set no state: trades, announcements)."""
    if isinstance(event, WsPriceChange):
        return ("price_change", event.asset_id, event.side, event.price)
    if isinstance(event, WsBestBidAsk):
        return ("best_bid_ask", event.asset_id)
    if isinstance(event, WsBook):
        return ("book", event.asset_id)
    if isinstance(event, WsTickSizeChange):
        return ("tick_size_change", event.asset_id)
    return None


class MarketStream:
    """A market-channel subscription that outlives its connections; iterate it for deduplicated events."""

    def __init__(
        self,
        config: StreamConfig,
        asset_ids: Iterable[str] = (),
        *,
        on_raw: RawHook | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.counters = StreamCounters()
        self._assets: dict[str, None] = dict.fromkeys(asset_ids)  # an ordered set
        self._on_raw = on_raw
        self._rng = rng or random.Random()
        self._buffer: EventBuffer[WsEvent] = EventBuffer(config.queue_size, config.overflow)
        self._window = DedupeWindow(config.dedupe_window)
        self._latest: dict[tuple[Any, ...], str] = {}  # state slot -> dedupe key of the event that last set it
        self._lock = asyncio.Lock()  # orders "send the subscription" against subscribe()/unsubscribe()
        self._ws: ClientConnection | None = None
        self._wake = asyncio.Event()  # set on every connect, failure and close
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_frame: datetime | None = None

    # --- state -------------------------------------------------------------------------------------------------
    @property
    def assets(self) -> tuple[str, ...]:
        """The asset set as it stands (what a reconnect subscribes)."""
        return tuple(self._assets)

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def pending(self) -> int:
        """Events queued and not yet taken by the consumer."""
        return len(self._buffer)

    @property
    def error(self) -> BaseException | None:
        """Why the stream failed, once it has."""
        return self._buffer.error

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Wait until a connection is open and subscribed; raises ``TimeoutError``, the stream's failure, or
        ``StreamError`` when the stream is closed."""
        async with asyncio.timeout(timeout_s):
            while self._ws is None:
                if self._buffer.error is not None:
                    raise self._buffer.error
                if self._buffer.closed:
                    raise StreamError("MarketStream is closed", url=self.config.url)
                self._wake.clear()
                await self._wake.wait()

    # --- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("MarketStream already started")
        self._task = asyncio.create_task(self._run(), name="mca.stream.reader")

    async def aclose(self) -> None:
        """Stop reading, close the socket, end iteration; safe to call twice."""
        self._closing = True
        self._buffer.close()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        self._wake.set()

    async def __aenter__(self) -> MarketStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- consuming ---------------------------------------------------------------------------------------------
    def __aiter__(self) -> MarketStream:
        return self

    async def __anext__(self) -> WsEvent:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def get(self, timeout_s: float | None = None) -> WsEvent | None:
        """The next event; None once the stream is closed and drained; ``TimeoutError`` when none came in time;
        ``StreamError`` (after the queued events) when reconnecting gave up."""
        if self._task is None and not self._buffer.closed:
            raise StreamError("MarketStream not started: use `async with MarketStream(...)`", url=self.config.url)
        try:
            async with asyncio.timeout(timeout_s):
                return await self._buffer.get()
        except BufferClosed:
            return None

    async def iter_until(self, deadline: datetime) -> AsyncIterator[WsEvent]:
        """Yield events until ``deadline`` (aware datetime) passes or the stream closes; the stream stays open."""
        while True:
            remaining = (deadline - _now()).total_seconds()
            if remaining <= 0:
                return
            try:
                event = await self.get(timeout_s=remaining)
            except TimeoutError:
                return
            if event is None:
                return
            yield event

    # --- subscriptions -----------------------------------------------------------------------------------------
    async def subscribe(self, asset_ids: Iterable[str]) -> list[str]:
        """Add assets (returns the ones that were new). Sent now if connected; a reconnect includes them anyway."""
        async with self._lock:
            new = [a for a in dict.fromkeys(asset_ids) if a not in self._assets]
            if not new:
                return []
            self._assets.update(dict.fromkeys(new))
            if len(self._assets) > MAX_ASSETS_PER_CONNECTION:
                log.warning(
                    "%d assets on one connection; the venue serves about %d (split across streams)",
                    len(self._assets),
                    MAX_ASSETS_PER_CONNECTION,
                )
            await self._send_operation("subscribe", new)
        log.info("subscribed %d asset(s); %d in total", len(new), len(self._assets))
        return new

    async def unsubscribe(self, asset_ids: Iterable[str]) -> list[str]:
        """Remove assets (returns the ones that were subscribed); their later events are filtered out."""
        async with self._lock:
            gone = [a for a in dict.fromkeys(asset_ids) if a in self._assets]
            if not gone:
                return []
            for asset in gone:
                del self._assets[asset]
            dropped = set(gone)
            self._latest = {slot: key for slot, key in self._latest.items() if slot[1] not in dropped}
            await self._send_operation("unsubscribe", gone)
        log.info("unsubscribed %d asset(s); %d in total", len(gone), len(self._assets))
        return gone

    async def _send_operation(self, operation: str, assets: list[str]) -> None:
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(ConnectionClosed):  # if closed, the reconnect subscribes the current set
            await ws.send(json.dumps({"operation": operation, "assets_ids": assets}))

    def _subscription(self) -> str:
        return json.dumps(
            {
                "assets_ids": list(self._assets),
                "type": "market",
                "custom_feature_enabled": self.config.custom_feature_enabled,
            }
        )

    # --- frames (synchronous, testable without a socket) ---------------------------------------------------------
    def _wanted(self, event: WsEvent) -> bool:
        assets = self._assets
        if isinstance(event, WsMarketResolved):
            return not event.assets_ids or any(a in assets for a in event.assets_ids)
        if isinstance(event, WsNewMarket):
            return True
        return event.asset_id in assets

    def _accept(self, frame: str | bytes, recv_ts: datetime) -> list[WsEvent]:
        """Count one frame and return its events that are subscribed and not yet seen, lag observed."""
        c = self.counters
        c.frames += 1
        try:
            result = parse_ws_frame(frame, recv_ts)
        except Exception as exc:  # parse_ws_frame promises not to raise; a bug must still not kill the stream
            log.exception("parser failed on a frame")
            self._reject(Rejection(source="ws.market", reason=f"parser error: {exc!r}", record_id=None, raw_excerpt=""))
            return []
        if result.control is not None:
            c.control_frames += 1
            if result.control == "PONG":
                c.pongs += 1
            elif result.control == "NO NEW ASSETS":
                c.no_new_assets += 1
            return []
        for rejection in result.rejections:
            self._reject(rejection)
        events = result.events
        if not events:
            return []
        c.events += len(events)
        fresh: list[WsEvent] = []
        duplicates = 0
        seen = self._window.seen
        wanted = self._wanted
        latest = self._latest
        for event in events:
            key = dedupe_key(event)
            slot = state_slot(event)
            if seen(key) and (slot is None or latest.get(slot) == key):
                duplicates += 1
                continue
            if slot is not None:
                latest[slot] = key
            if wanted(event):
                fresh.append(event)
            else:
                c.filtered += 1
        if duplicates:
            c.duplicate_events += duplicates
            if duplicates == len(events):
                c.duplicates += 1
        recv_ms = recv_ts.timestamp() * 1000.0
        for event in fresh:
            if not isinstance(event, WsBook):
                c.observe_lag(recv_ms - event.ts_ms)
        return fresh

    def _reject(self, rejection: Rejection) -> None:
        c = self.counters
        c.rejections += 1
        c.rejection_reasons[rejection.reason.split(":", 1)[0][:80]] += 1
        c.recent_rejections.append(rejection)
        if c.rejections in (1, 10, 100) or c.rejections % 1000 == 0:
            log.warning("rejected frame content (%d so far): %s", c.rejections, rejection.reason[:200])

    async def _deliver(self, frame: str | bytes, recv_ts: datetime, ws: ClientConnection) -> None:
        if self._on_raw is not None:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            try:
                result = self._on_raw(text, recv_ts)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                raise StreamError(f"on_raw hook failed: {exc!r}", url=self.config.url) from exc
        events = self._accept(frame, recv_ts)
        if events:
            buffer = self._buffer
            c = self.counters
            for event in events:
                if await buffer.put(event):
                    c.delivered += 1
            c.dropped = buffer.dropped
        elif len(frame) < 16 and frame.strip() in ("PING", b"PING"):
            with contextlib.suppress(ConnectionClosed):
                await ws.send("PONG")

    # --- connection loop ---------------------------------------------------------------------------------------
    async def _run(self) -> None:
        cfg = self.config
        c = self.counters
        failures = 0  # consecutive attempts that brought no frame
        cause: BaseException | None = None
        try:
            while True:
                ws: ClientConnection | None = None
                try:
                    ws = await self._open()
                except InvalidURI as exc:
                    raise StreamError(f"invalid WebSocket URL: {exc}", url=cfg.url) from exc
                except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                    c.connect_failures += 1
                    cause = exc
                    log.warning("connect to %s failed: %r", cfg.url, exc)
                if ws is not None:
                    c.connects += 1
                    if c.connects > 1:
                        c.reconnects += 1
                    log.info("connected to %s (%d assets, connection %d)", cfg.url, len(self._assets), c.connects)
                    got_frame, cause, lost_at = await self._session(ws)
                    c.disconnects += 1
                    if got_frame:
                        failures = 0
                    if not c.gaps or c.gaps[-1].end is not None:
                        c.gaps.append(Gap(start=lost_at, last_frame=self._last_frame, cause=repr(cause)))
                    log.warning("connection lost: %r", cause)
                failures += 1
                if cfg.max_reconnects is not None and failures > cfg.max_reconnects:
                    raise StreamError(
                        f"gave up: {cfg.max_reconnects} reconnect attempt(s) in a row brought no data; "
                        f"last error: {cause!r}",
                        url=cfg.url,
                    ) from cause
                delay = backoff_delay(failures, cfg.backoff_initial_s, cfg.backoff_max_s, self._rng)
                log.info("reconnecting in %.2f s (attempt %d)", delay, failures)
                await asyncio.sleep(delay)
        except StreamError as exc:
            self._fail(exc)
        except Exception as exc:
            log.exception("stream reader crashed")
            failure = StreamError(f"stream reader crashed: {exc!r}", url=cfg.url)
            failure.__cause__ = exc
            self._fail(failure)

    def _fail(self, error: StreamError) -> None:
        log.error("stream failed: %s", error)
        self._buffer.close(error)
        self._wake.set()

    async def _open(self) -> ClientConnection:
        cfg = self.config
        ws = await connect(
            cfg.url,
            open_timeout=cfg.connect_timeout_s,
            close_timeout=cfg.close_timeout_s,
            ping_interval=None,  # the text PING + idle timeout below replace the library keepalive
            max_size=cfg.max_frame_bytes,
        )
        try:
            async with self._lock:
                await ws.send(self._subscription())
                self._ws = ws
        except BaseException:
            await ws.close()
            raise
        self._wake.set()
        return ws

    async def _session(self, ws: ClientConnection) -> tuple[bool, BaseException, datetime]:
        """Read one connection until it is lost; returns (did it bring a frame, why it ended, when)."""
        pinger = asyncio.create_task(self._pinger(ws), name="mca.stream.ping")
        idle = self.config.idle_timeout
        got_frame = False
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        frame = await ws.recv()
                except TimeoutError:
                    return got_frame, StreamError(f"no frame for {idle:g} s", url=self.config.url), _now()
                except ConnectionClosed as exc:
                    return got_frame, exc, _now()
                recv_ts = _now()
                if not got_frame:
                    got_frame = True
                    gaps = self.counters.gaps
                    if gaps and gaps[-1].end is None:
                        gaps[-1].end = recv_ts
                self._last_frame = recv_ts
                await self._deliver(frame, recv_ts, ws)
        finally:
            self._ws = None
            pinger.cancel()
            await asyncio.wait([pinger])
            await ws.close()

    async def _pinger(self, ws: ClientConnection) -> None:
        interval = self.config.ping_interval_s
        try:
            while True:
                await asyncio.sleep(interval)
                await ws.send("PING")
                self.counters.pings_sent += 1
        except ConnectionClosed:
            return
