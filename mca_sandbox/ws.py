"""The CLOB market WebSocket at ``/ws/market`` (route ``ws.market``) and its ground truth under ``/_truth/ws``.

Protocol (as Polymarket's market channel, see shared/reference/polymarket.md §3):

- The client's first frame is ``{"assets_ids": [...], "type": "market", "custom_feature_enabled": true}`` (optional
  ``initial_dump``, default true; ``level`` is accepted and ignored). Later frames are
  ``{"operation": "subscribe"|"unsubscribe", "assets_ids": [...]}`` (a repeated first-frame shape counts as a
  subscribe). Text ``PING`` is answered with text ``PONG``; protocol pings are answered by aiohttp (autoping).
- Asset ids that are unknown, or whose market is not live at the venue's now (not yet created, or resolved:
  resolved markets have no order book), are ignored. A subscribe operation that adds nothing new is answered
  ``NO NEW ASSETS`` (a first frame naming no streamable asset gets no answer, the connection just idles); an
  unsubscribe is not acknowledged.
  More than ``MAX_ASSETS`` subscribed assets: the operation is refused with a text error and the connection stays.
- Malformed JSON, a first frame that is not a market subscription, or an unknown operation: a text error message
  (``INVALID OPERATION: ...``) and a close with code 1008 (policy violation).
- A subscription that adds assets is answered (``initial_dump`` true) by ONE frame that is a JSON array of ``book``
  events, one per newly subscribed asset. Then single-object frames: ``price_change`` (new schema, one entry per
  subscribed token of the market), ``last_trade_price``, ``best_bid_ask`` (custom features only; sent when a
  token's best bid or ask changed), ``tick_size_change`` (a 0.01-tick market trading beyond [0.04, 0.96]).
  ``market_resolved`` (custom features only; shape of ``ws_market_market_resolved.json``, ``tags`` = the market's
  category tag slug) when a subscribed market resolves YES or NO while the clock is live; a market that ends void
  or unresolved just stops. Either way its book closes and its assets leave the subscription. ``new_market`` is not
  generated.
- The books follow the world (``ws_stream.py``): once a second (``FOLLOW_S``, wall clock) each subscribed market's
  book is pulled toward the world's market price at the venue's current minute (information shocks and pump
  episodes show as moves) and its events are weighted by its trading activity (the world's volume rate over its
  mean, clipped to [0.5, 5]): bursts of volume are bursts of events, and of trades in them. With the fixed clock
  the venue's minute is ``as_of``'s, so the books hover around the price at ``as_of``.
- Timestamps: with a live clock, frame ``timestamp``s are the venue's clock (ms); with the fixed clock, the wall
  clock (the world stands still but the stream runs).
- Events: a Poisson process of ``BASE_RATE`` events/s per subscribed market (times its activity weight) times
  ``app[SPEED]``, drawn in batches every ``TICK`` seconds. When the server cannot keep up (very high speed), the
  rate saturates at its throughput: at most ``MAX_LAG`` seconds (and ``MAX_BATCH`` events) are drawn per batch and
  the rest is not made up later.
  Books and draws are seeded by (world seed, connection number), but batch sizes follow the wall clock, so a
  stream is not reproducible frame for frame: the ground truth below is the reference.
- Throughput: a batch is built synchronously (faults, sequence numbers and truth records included) and handed to
  the socket in one write of ready-made WebSocket frames, then aiohttp's flow control is awaited when the client
  reads slower than we write. bench/bench_sandbox_ws.py measures it (well above 50,000 messages/s on loopback).

Unsubscribe semantics: client frames are applied in order by the one task that sends. Every frame the server sends
after its reply to a later client frame (e.g. the ``PONG`` to a ``PING`` sent after the unsubscribe) carries none
of the unsubscribed assets; frames received between sending the unsubscribe and that reply may still carry them.

Faults (``app[FAULTS].ws_rule("ws.market")``, re-read whenever the plan changes, so ``POST /_faults`` applies to open
connections): ``disconnect_after`` N: after the N-th frame of a connection (every text frame counts: book dumps,
events, injected duplicates, PONG, acks) the TCP connection is closed without a close frame (counted
``ws.market:disconnect``). ``duplicate_rate``: a data frame (dump or event) is sent twice in a row (``duplicate``).
``reorder_rate``: a data frame is held back and sent right after the next data frame (``reorder``; a held frame
released early by a control reply is not counted: nothing overtook it). ``latency_ms``: each batch of events is
sent that long after it was generated (frame timestamps lag the send time), and the dump as much after the
subscription.

Ground truth: every frame actually sent (after faults, in send order, with the connection's 1-based sequence number)
goes to a bounded in-memory log: the last ``MAX_MESSAGES`` frames, fewer if they exceed ``MAX_BYTES`` characters in
total (oldest evicted first). ``GET /_truth/ws/messages?asset_id=&minute=&conn=&limit=`` lists them as
``{"conn", "seq", "sent_ts_ms", "frame"}`` (``frame`` is the exact text sent) in send order; a frame carrying
several assets (a dump, a two-token price_change) is listed under each. ``minute`` is the unix second of a minute
start (any second inside it is accepted) and selects frames by ``sent_ts_ms``. ``GET /_truth/ws/connections`` lists
every connection (open and the last ``MAX_CLOSED`` closed), ``GET /_truth/ws`` the log's bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from mca_sandbox.appkeys import CLOCK, FAULTS, SPEED, STATE, WORLD
from mca_sandbox.clock import Clock
from mca_sandbox.faults import FaultRule, FaultState
from mca_sandbox.render import CATEGORY_TAGS, catalog
from mca_sandbox.world import RESOLVED_FALSE, RESOLVED_TRUE, World
from mca_sandbox.ws_stream import MarketBook, MarketSpec, Stream

log = logging.getLogger(__name__)

ROUTE = "ws.market"
BASE_RATE = 5.0  # events per second per subscribed market at speed 1
TICK = 0.01  # seconds between event batches when the stream is not CPU-bound
MAX_LAG = 0.25  # at most this many seconds of events are drawn in one batch
MAX_BATCH = 1024  # ... and at most this many market events (one socket write)
MAX_ASSETS = 500  # per connection
MAX_MESSAGES = 2_000_000  # truth log bound (frames)
MAX_BYTES = 256 * 1024 * 1024  # truth log bound (characters of frames; ~0.5-0.6 GB of memory when full)
MAX_CLOSED = 10_000  # closed connections kept in the truth
FOLLOW_S = 1.0  # wall seconds between pulls of the books toward the world (and resolution checks)
MIN_ACTIVITY, MAX_ACTIVITY = 0.5, 5.0  # bounds of a market's event weight (its volume rate over its mean)

NO_NEW_ASSETS = "NO NEW ASSETS"
PONG = "PONG"


_HEAD16 = struct.Struct("!BBH").pack
_HEAD64 = struct.Struct("!BBQ").pack


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class TruthLog:
    """A ring of the last frames sent, indexed by asset; global index ``g`` counts every frame ever recorded."""

    def __init__(self, max_messages: int = MAX_MESSAGES, max_bytes: int = MAX_BYTES) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.ring: list[tuple[int, int, int, str] | None] = []
        self.first = 0  # oldest retained global index
        self.next = 0  # next global index
        self.bytes = 0
        self.by_asset: dict[str, deque[int]] = {}

    def __len__(self) -> int:
        return self.next - self.first

    def add(self, conn: int, seq: int, sent_ms: int, frame: str, assets: tuple[str, ...]) -> None:
        g = self.next
        self.next = g + 1
        ring, cap = self.ring, self.max_messages
        record = (conn, seq, sent_ms, frame)
        if g < cap:
            ring.append(record)
        else:
            slot = g % cap
            old = ring[slot]
            if old is not None:
                self.bytes -= len(old[3])
                self.first = g - cap + 1
            ring[slot] = record
        self.bytes += len(frame)
        if self.bytes > self.max_bytes:
            self._evict_bytes()
        by_asset = self.by_asset
        for asset in assets:
            index = by_asset.get(asset)
            if index is None:
                index = by_asset[asset] = deque()
            elif index[0] < self.first:
                self._trim(index)
            index.append(g)
        if g % (cap // 4 + 1) == 0 and g:
            self._sweep()

    def _evict_bytes(self) -> None:
        ring, cap = self.ring, self.max_messages
        while self.bytes > self.max_bytes and self.first < self.next - 1:
            slot = self.first % cap
            old = ring[slot]
            if old is not None:
                self.bytes -= len(old[3])
                ring[slot] = None
            self.first += 1

    def _trim(self, index: deque[int]) -> None:
        first = self.first
        while index and index[0] < first:
            index.popleft()

    def _sweep(self) -> None:
        for asset in list(self.by_asset):
            index = self.by_asset[asset]
            self._trim(index)
            if not index:
                del self.by_asset[asset]

    def _get(self, g: int) -> tuple[int, int, int, str] | None:
        return self.ring[g % self.max_messages] if g >= self.first else None

    def query(
        self, asset: str | None = None, minute: int | None = None, conn: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        if asset is not None:
            index = self.by_asset.get(asset)
            if index:
                self._trim(index)
            indices: Any = list(index) if index else []
        else:
            lo, hi = self.first, self.next
            if minute is not None:
                lo = self._bisect(minute * 1000)
                hi = self._bisect((minute + 60) * 1000)
            indices = range(lo, hi)
        out: list[dict[str, Any]] = []
        lo_ms = minute * 1000 if minute is not None else None
        for g in indices:
            record = self._get(g)
            if record is None:
                continue
            if lo_ms is not None and not lo_ms <= record[2] < lo_ms + 60_000:
                continue
            if conn is not None and record[0] != conn:
                continue
            out.append({"conn": record[0], "seq": record[1], "sent_ts_ms": record[2], "frame": record[3]})
            if limit is not None and len(out) >= limit:
                break
        return out

    def _bisect(self, ts_ms: int) -> int:
        """First retained global index whose send time is >= ts_ms (send times never decrease)."""
        lo, hi = self.first, self.next
        while lo < hi:
            mid = (lo + hi) // 2
            record = self._get(mid)
            if record is not None and record[2] >= ts_ms:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def describe(self) -> dict[str, Any]:
        return {
            "retained": len(self),
            "first_index": self.first,
            "recorded_total": self.next,
            "characters": self.bytes,
            "max_messages": self.max_messages,
            "max_bytes": self.max_bytes,
        }


class LiveSpecs(Mapping[str, tuple[MarketSpec, bool]]):
    """The streamable tokens: those of markets live at the clock's now (created, not yet resolved).

    A market's spec carries its world price at the current minute, so a new book starts where the world is.
    """

    def __init__(self, world: World, clock: Clock) -> None:
        self.world = world
        self.clock = clock
        self.ids = catalog(world)

    def live(self, m: int, now: float) -> bool:
        e = self.world.market_event[m]
        return bool(self.world.event_created[e] <= now < self.world.event_resolved[e])

    def __getitem__(self, token: str) -> tuple[MarketSpec, bool]:
        found = self.ids.token_index.get(token)
        now = self.clock.now()
        if found is None or not self.live(found[0], now):
            raise KeyError(token)
        m, side = found
        w = self.world
        price = w.last_price(m) if not self.clock.live else float(world_prices(w, [m], now)[0])
        spec = MarketSpec(
            m=m,
            condition_id=self.ids.condition_ids[m],
            yes=self.ids.yes_tokens[m],
            no=self.ids.no_tokens[m],
            price=price,
            tick=float(w.market_tick[m]),
            spread=w.spread(m),
        )
        return spec, side == 0

    def __iter__(self) -> Iterator[str]:
        now = self.clock.now()
        for m in range(self.world.n_markets):
            if self.live(m, now):
                yield self.ids.yes_tokens[m]
                yield self.ids.no_tokens[m]

    def __len__(self) -> int:
        return sum(1 for _ in self)


def world_prices(world: World, markets: list[int], now: float) -> np.ndarray:
    """The world's YES market price of each market at now's minute (the last minute before it resolves)."""
    ms = np.asarray(markets, dtype=np.int64)
    e = world.market_event[ms]
    t = np.minimum((int(now) // 60) * 60, world.event_resolved[e] - 60)
    return world.market_prices(ms, np.maximum(t, world.event_created[e]))


class WsState:
    """Per-application WebSocket state: the streamable assets, the truth log and the connections."""

    def __init__(self) -> None:
        self.log = TruthLog()
        self.specs: LiveSpecs | None = None
        self.open: dict[int, Connection] = {}
        self.closed: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.next_id = 1
        self.shutting_down = False

    def streamable(self, app: web.Application) -> LiveSpecs:
        """Token id -> (market, is YES) for every market live at the venue's now (built on first use)."""
        if self.specs is None:
            self.specs = LiveSpecs(app[WORLD], app[CLOCK])
        return self.specs

    def retire(self, conn: Connection) -> None:
        self.open.pop(conn.id, None)
        self.closed[conn.id] = conn.describe()
        while len(self.closed) > MAX_CLOSED:
            self.closed.popitem(last=False)

    def connections(self) -> list[dict[str, Any]]:
        rows = [*self.closed.values(), *(c.describe() for c in self.open.values())]
        return sorted(rows, key=lambda r: r["conn"])


def _state(app: web.Application) -> WsState:
    state = app[STATE].get("ws")
    if state is None:
        state = app[STATE]["ws"] = WsState()
    return state


class ForcedDisconnect(Exception):
    """The fault plan's ``disconnect_after`` was reached."""


class ProtocolError(Exception):
    """A client frame the market channel does not accept (answered with a text error and a 1008 close)."""


def _assets_ids(raw: dict[str, Any]) -> list[str]:
    ids = raw.get("assets_ids")
    if not isinstance(ids, list) or not all(isinstance(a, str | int) and not isinstance(a, bool) for a in ids):
        raise ProtocolError("assets_ids must be a list of token id strings")
    return [str(a) for a in ids]


class Connection:
    """One client connection: a reader (this handler's task) and one writer task that sends every frame."""

    def __init__(self, app: web.Application, request: web.Request, ws: web.WebSocketResponse, conn_id: int) -> None:
        self.app = app
        self.ws = ws
        self.id = conn_id
        self.state = _state(app)
        self.faults: FaultState = app[FAULTS]
        self.seed = (app[WORLD].config.seed, conn_id)  # books and draws are seeded per (world seed, connection)
        self.stream = Stream(self.state.streamable(app), seed=hash(self.seed))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.remote = f"{peer[0]}:{peer[1]}" if peer else None
        self.transport = request.transport
        self.opened_ms = _now_ms()
        self.closed_ms: int | None = None
        self.close_reason: str | None = None
        self.custom = False
        self.initial_dump = True
        self.subscribed_once = False
        self.seq = 0
        self.data_messages = 0
        self.duplicates = 0
        self.reordered = 0
        self.forced_at: int | None = None
        self.held: tuple[str, tuple[str, ...]] | None = None
        self.control: deque[tuple[Any, ...]] = deque()
        self.wake = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self._rules: list[FaultRule] | None = None
        self._rule = FaultRule(route=ROUTE)
        self.log = self.state.log
        self._out: list[bytes] = []
        self.clock: Clock = app[CLOCK]
        self.world: World = app[WORLD]
        self._weights = np.empty(0)  # cumulative event weights of stream.active (activity, clipped)
        self._weighted: list[MarketBook] | None = None  # the active list they were computed for
        self._followed_at = -1e18  # wall time of the last pull toward the world

    # --- truth -----------------------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "conn": self.id,
            "remote": self.remote,
            "open": self.closed_ms is None,
            "opened_ts_ms": self.opened_ms,
            "closed_ts_ms": self.closed_ms,
            "close_reason": self.close_reason,
            "custom_feature_enabled": self.custom,
            "assets": list(self.stream.subscribed),
            "messages_sent": self.seq,
            "data_messages_sent": self.data_messages,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "disconnect_forced_at_seq": self.forced_at,
        }

    # --- sending: synchronous batches written at once (one task sends; nothing else runs inside a batch) -----------
    def rule(self) -> FaultRule:
        rules = self.faults.rules
        if rules is not self._rules:
            self._rules = rules
            self._rule = self.faults.ws_rule(ROUTE)
        return self._rule

    def _begin(self) -> FaultRule:
        """Start a batch: fail if the client is gone (so nothing unsent is ever recorded); the plan in force."""
        transport = self.transport
        if self.ws.closed or transport is None or transport.is_closing():
            raise ConnectionResetError("client gone")
        return self.rule()

    def _emit(self, text: str, assets: tuple[str, ...], rule: FaultRule) -> None:
        """Queue one text frame and record it; raises ForcedDisconnect once ``disconnect_after`` frames are out."""
        limit = rule.disconnect_after
        if limit is not None and self.seq >= limit:
            raise ForcedDisconnect
        data = text.encode()
        n = len(data)
        out = self._out
        if n < 126:
            out.append(bytes((0x81, n)))
        elif n < 65536:
            out.append(_HEAD16(0x81, 126, n))
        else:
            out.append(_HEAD64(0x81, 127, n))
        out.append(data)
        self.seq = seq = self.seq + 1
        self.log.add(self.id, seq, time.time_ns() // 1_000_000, text, assets)
        if limit is not None and seq >= limit:
            raise ForcedDisconnect

    def _emit_data(self, text: str, assets: tuple[str, ...], rule: FaultRule) -> None:
        self._emit(text, assets, rule)
        self.data_messages += 1
        if rule.duplicate_rate and self.faults.draw() < rule.duplicate_rate:
            self._emit(text, assets, rule)
            self.data_messages += 1
            self.duplicates += 1
            self.faults.count(ROUTE, "duplicate")

    def send_data(self, text: str, assets: tuple[str, ...], rule: FaultRule) -> None:
        """A dump or an event, subject to the duplicate and reorder faults."""
        held = self.held
        if held is not None:
            self.held = None
            self._emit_data(text, assets, rule)
            self._emit_data(held[0], held[1], rule)
            self.reordered += 1
            self.faults.count(ROUTE, "reorder")
            return
        if rule.reorder_rate and self.faults.draw() < rule.reorder_rate:
            self.held = (text, assets)
            return
        self._emit_data(text, assets, rule)

    def _send_batch(self, items: list[tuple[str, tuple[str, ...]]]) -> None:
        rule = self._begin()
        send = self.send_data
        try:
            for text, assets in items:
                send(text, assets, rule)
        finally:
            self._write()

    def _write(self) -> None:
        """Hand the queued frames to the socket in one write (also when a forced disconnect cut the batch)."""
        out = self._out
        if out:
            data = b"".join(out)
            out.clear()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)

    async def _drain(self) -> None:
        """Wait while the socket's buffer is over its high-water mark (the client reads slower than we write)."""
        writer = self.ws._payload_writer  # aiohttp's own flow control (what WebSocketResponse.close uses)
        if writer is not None:
            await writer.drain()

    # --- the writer task ---------------------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except ForcedDisconnect:
            self.forced_at = self.seq
            self.close_reason = "forced_disconnect"
            self.faults.count(ROUTE, "disconnect")
            if self.transport is not None:
                self.transport.close()  # flushes what was written, then drops the TCP connection: no close frame
        except ConnectionResetError:
            self.close_reason = self.close_reason or "client_gone"
        except Exception:
            log.exception("ws.market connection %s: stream failed", self.id)
            self.close_reason = "server_error"
            with contextlib.suppress(Exception):
                await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"server error")

    def _stamp(self) -> str:
        """Frame timestamps (ms): the venue's clock when it is live, the wall clock while it stands still."""
        if self.clock.live:
            return str(int(self.clock.now() * 1000))
        return str(_now_ms())

    def _follow_world(self) -> list[tuple[str, tuple[str, ...]]]:
        """Pull every book toward the world's price now and weight markets by their trading activity; with a live
        clock, close the markets that resolved (``market_resolved`` frames for winners, custom features only)."""
        stream, world = self.stream, self.world
        now = self.clock.now()
        frames: list[tuple[str, tuple[str, ...]]] = []
        if self.clock.live:
            for book in list(stream.active):
                m = book.spec.m
                if world.event_resolved[world.market_event[m]] <= now:
                    frame = _resolved_frame(world, book, self._stamp())
                    assets = tuple(stream.close(book))
                    if frame is not None and self.custom and assets:
                        frames.append((frame, assets))
        active = stream.active
        if active:
            ms = np.asarray([b.spec.m for b in active], dtype=np.int64)
            prices = world_prices(world, ms.tolist(), now)
            rate = world.flows(ms, np.full(ms.size, int(now), dtype=np.int64)).rate
            activity = rate * 3600 / np.maximum(world.market_hourly_volume[ms], 1e-9)
            for book, price, a in zip(active, prices.tolist(), activity.tolist(), strict=True):
                book.retarget(price, a)
            self._weights = np.cumsum(np.clip(activity, MIN_ACTIVITY, MAX_ACTIVITY))
        else:
            self._weights = np.empty(0)
        self._weighted = active
        return frames

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        rng = np.random.default_rng(list(self.seed))
        limit = self.rule().disconnect_after
        if limit is not None and limit <= 0:
            raise ForcedDisconnect
        last = loop.time()
        batch: list[tuple[str, tuple[str, ...]]] = []
        stream = self.stream
        while True:
            if self.control:
                await self._process_control()
            began = loop.time()
            if stream.active is not self._weighted or began - self._followed_at >= FOLLOW_S:
                self._followed_at = began
                closed = self._follow_world()
                if closed:
                    self._send_batch(closed)
                    await self._drain()
            n = len(stream.active)
            weights = self._weights
            rate = BASE_RATE * (float(weights[-1]) if n else 0.0) * float(self.app[SPEED])
            if rate <= 0:
                await self._pause(None if not self.clock.live or not n else FOLLOW_S)
                last = loop.time()
                continue
            dt = min(began - last, MAX_LAG)
            last = began
            k = min(int(rng.poisson(rate * dt)), MAX_BATCH)
            if k:
                batch.clear()
                picks = np.minimum(np.searchsorted(weights, rng.random(k) * weights[-1], side="right"), n - 1)
                stream.events(picks.tolist(), self._stamp(), self.custom, batch)
                latency = self.rule().latency_ms
                if latency > 0:
                    await asyncio.sleep(latency / 1000.0)
                self._send_batch(batch)
                await self._drain()
            wait = TICK - (loop.time() - began)
            if wait > 0:
                await self._pause(wait)
            else:
                await asyncio.sleep(0)

    async def _pause(self, seconds: float | None) -> None:
        """Sleep until a client frame needs an answer, or at most ``seconds``."""
        if self.control:
            return
        self.wake.clear()
        if seconds is None:
            await self.wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()

    async def _process_control(self) -> None:
        while self.control:
            item = self.control.popleft()
            kind = item[0]
            if kind == "subscribe":
                dump = self._subscribe(item[1], item[2], first=item[3])
                if dump is not None:
                    latency = self.rule().latency_ms
                    if latency > 0:
                        await asyncio.sleep(latency / 1000.0)
                    self._send_batch([dump])
            else:
                rule = self._begin()
                try:
                    self._release_held(rule)
                    if kind == "text":
                        self._emit(item[1], (), rule)
                    elif kind == "unsubscribe":
                        self.stream.unsubscribe(item[1])
                finally:
                    self._write()
            await self._drain()

    def _release_held(self, rule: FaultRule) -> None:
        """A held frame goes out before a control reply (not a reorder: nothing overtook it)."""
        held = self.held
        if held is not None:
            self.held = None
            self._emit_data(held[0], held[1], rule)

    def _subscribe(self, assets: list[str], dump: bool, first: bool) -> tuple[str, tuple[str, ...]] | None:
        """Apply a subscription; returns the dump frame to send, if any (control replies are queued here)."""
        stream = self.stream
        wanted = list(dict.fromkeys(a for a in assets if stream.known(a) and a not in stream.subscribed))
        if not wanted:
            if not first:
                self.control.appendleft(("text", NO_NEW_ASSETS))
            return None
        if len(stream.subscribed) + len(wanted) > MAX_ASSETS:
            self.control.appendleft(
                (
                    "text",
                    f"INVALID OPERATION: at most {MAX_ASSETS} assets per connection "
                    f"({len(stream.subscribed)} subscribed, {len(wanted)} more asked)",
                )
            )
            return None
        added = stream.subscribe(wanted)
        if not (dump and added):
            return None
        return stream.dump(added, self._stamp()), tuple(added)

    def push(self, *item: Any) -> None:
        self.control.append(item)
        self.wake.set()

    # --- the reader (the handler's own task) -------------------------------------------------------------------------
    def on_text(self, text: str) -> None:
        """Queue what a client frame asks for; raises ProtocolError on a frame the channel refuses."""
        if text.strip().upper() == "PING":
            self.push("text", PONG)
            return
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"malformed JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise ProtocolError("expected a JSON object")
        operation = raw.get("operation")
        if not self.subscribed_once:
            if operation is not None or str(raw.get("type", "")).lower() != "market":
                raise ProtocolError('the first frame must be {"assets_ids": [...], "type": "market"}')
            ids = _assets_ids(raw)
            self.custom = bool(raw.get("custom_feature_enabled", False))
            self.initial_dump = bool(raw.get("initial_dump", True))
            self.subscribed_once = True
            self.push("subscribe", ids, self.initial_dump, True)
            return
        if operation is None and str(raw.get("type", "")).lower() == "market":
            operation = "subscribe"
        if not isinstance(operation, str) or operation.lower() not in ("subscribe", "unsubscribe"):
            raise ProtocolError(f"unknown operation {operation!r} (subscribe or unsubscribe)")
        ids = _assets_ids(raw)
        if operation.lower() == "subscribe":
            self.push("subscribe", ids, bool(raw.get("initial_dump", self.initial_dump)), False)
        else:
            self.push("unsubscribe", ids)

    async def stop_writer(self) -> None:
        task = self.writer
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def refuse(self, reason: str) -> None:
        """Send the error text, then close with 1008 (the writer is stopped first so the order stays exact)."""
        await self.stop_writer()
        self.close_reason = "policy_violation"
        with contextlib.suppress(ForcedDisconnect, ConnectionResetError):
            rule = self._begin()
            try:
                self._emit(f"INVALID OPERATION: {reason}", (), rule)
            finally:
                self._write()
        await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"invalid operation")

    async def serve(self) -> None:
        self.writer = asyncio.create_task(self.run(), name=f"ws.market#{self.id}")
        async for msg in self.ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                data = msg.data
                try:
                    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
                    self.on_text(text)
                except (ProtocolError, UnicodeDecodeError) as exc:
                    await self.refuse(str(exc) if isinstance(exc, ProtocolError) else "frames must be UTF-8 text")
                    break
            elif msg.type is WSMsgType.ERROR:
                break


def _resolved_frame(world: World, book: MarketBook, ts: str) -> str | None:
    """The ``market_resolved`` event of a market that resolved YES or NO (none for void or unresolved ones)."""
    spec = book.spec
    fate = int(world.market_fate[spec.m])
    if fate not in (RESOLVED_TRUE, RESOLVED_FALSE):
        return None
    winner, outcome = (spec.yes, "Yes") if fate == RESOLVED_TRUE else (spec.no, "No")
    tag = CATEGORY_TAGS[int(world.market_category[spec.m])][2]
    return (
        f'{{"event_type":"market_resolved","id":"{world.market_id(spec.m)}","market":"{spec.condition_id}",'
        f'"assets_ids":["{spec.yes}","{spec.no}"],"winning_asset_id":"{winner}","winning_outcome":"{outcome}",'
        f'"timestamp":"{ts}","tags":["{tag}"]}}'
    )


async def ws_market(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(compress=False, autoping=True, max_msg_size=1 << 20, timeout=2.0)
    if not ws.can_prepare(request).ok:
        return web.json_response({"error": "expected a WebSocket upgrade"}, status=400)
    await ws.prepare(request)
    state = _state(request.app)
    conn_id = state.next_id
    state.next_id += 1
    conn = Connection(request.app, request, ws, conn_id)
    state.open[conn_id] = conn
    try:
        await conn.serve()
    except ConnectionResetError:
        pass
    finally:
        await conn.stop_writer()
        conn.closed_ms = _now_ms()
        if conn.close_reason is None:
            conn.close_reason = "server_shutdown" if state.shutting_down else "client_closed"
        state.retire(conn)
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
    return ws


async def _close_all(app: web.Application) -> None:
    """On shutdown: stop every stream and close its socket (1001 going away), so handlers end promptly."""
    state = _state(app)
    state.shutting_down = True
    conns = list(state.open.values())
    for conn in conns:
        await conn.stop_writer()
    await asyncio.gather(
        *(c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for c in conns), return_exceptions=True
    )


# --- ground truth routes -------------------------------------------------------------------------------------------
def _int_param(request: web.Request, name: str, minimum: int = 0) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise web.HTTPBadRequest(reason=f"{name} must be >= {minimum}, got {value}")
    return value


async def truth_messages(request: web.Request) -> web.Response:
    minute = _int_param(request, "minute")
    rows = _state(request.app).log.query(
        asset=request.query.get("asset_id") or None,
        minute=minute - minute % 60 if minute is not None else None,
        conn=_int_param(request, "conn", 1),
        limit=_int_param(request, "limit", 1),
    )
    return web.json_response(rows, dumps=lambda obj: json.dumps(obj, separators=(",", ":")))


async def truth_connections(request: web.Request) -> web.Response:
    return web.json_response(_state(request.app).connections())


async def truth_summary(request: web.Request) -> web.Response:
    state = _state(request.app)
    return web.json_response(
        {"log": state.log.describe(), "open_connections": len(state.open), "connections_total": state.next_id - 1}
    )


def setup(app: web.Application) -> None:
    """Register the market WebSocket and its ground-truth routes."""
    app[STATE]["ws"] = WsState()
    app.router.add_get("/ws/market", ws_market, name=ROUTE)
    app.router.add_get("/_truth/ws", truth_summary, name="_truth_ws")
    app.router.add_get("/_truth/ws/messages", truth_messages, name="_truth_ws_messages")
    app.router.add_get("/_truth/ws/connections", truth_connections, name="_truth_ws_connections")
    app.on_shutdown.append(_close_all)
