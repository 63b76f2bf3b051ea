"""Fast parsing of CLOB market-channel WebSocket frames into typed records.

Promises of ``parse_ws_frame``:

- never raises on frame content; every frame yields events, rejections and/or one control word;
- a frame may be a JSON array of events (the initial book dump, sometimes later batches) or a
  single event object; plain-text ``PONG``/``PING``/``NO NEW ASSETS`` are control messages;
- ``price_change`` in the new schema (``price_changes[]``, since ~2025-09) yields one
  ``WsPriceChange`` per entry; the old single-object schema yields one record with
  ``best_bid``/``best_ask`` None;
- an invalid or unknown event becomes a ``Rejection`` (source ``ws.market``) while the other
  events of the same frame are still returned;
- prices are validated into [0, 1] and sizes >= 0 (no NaN), book sides are sorted best-first,
  ``ts`` is the exchange time (UTC) from the ms string and ``recv_ts`` is what the caller passed.

Speed: frames are decoded by one ``msgspec.json.Decoder`` over a tagged union of wire Structs in
non-strict mode (numeric strings decode straight to floats/ints, bounds are checked in C); only a
frame that fails is re-parsed event by event to isolate the bad ones. bench/bench_ws_parse.py
measures it against bare ``json.loads``. ``expand_frame`` is the same parse for any output: the capture's
load path (``mca_core.ticks.parse_frames``) maps wire Structs straight to table rows, without records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar

import msgspec

from mca_core._fields import Invalid, excerpt
from mca_core._wswire import (
    DECODER,
    UNTYPED,
    WIRE_BY_TAG,
    WireBestBidAsk,
    WireBook,
    WireChange,
    WireLastTrade,
    WireNewMarket,
    WirePriceChange,
    WireResolved,
    WireTickSize,
)
from mca_core.records import (
    Rejection,
    WsBestBidAsk,
    WsBook,
    WsEvent,
    WsLastTradePrice,
    WsMarketResolved,
    WsNewMarket,
    WsPriceChange,
    WsTickSizeChange,
)
from mca_core.timeparse import EPOCH

__all__ = [
    "CONTROL_MESSAGES", "SOURCE", "Expander", "WsParseResult", "blank", "dedupe_key", "expand_frame", "parse_ws_frame",
    "price_changes",
]  # fmt: skip

SOURCE = "ws.market"
#: Plain-text frames that are protocol chatter, not data.
CONTROL_MESSAGES = frozenset({"PONG", "PING", "NO NEW ASSETS"})

_PRICE = attrgetter("price")
C = TypeVar("C")
T = TypeVar("T")
#: what ``expand_frame`` returns: outputs, rejections, control word
Expanded = tuple[list[T], list[Rejection], str | None]


class WsParseResult(msgspec.Struct, frozen=True):
    """What one frame contained: typed events, rejections, and a control word (or None)."""

    events: list[WsEvent]
    rejections: list[Rejection]
    control: str | None = None


# ---------------------------------------------------------------------------------- expansion
# Decoded wire Structs are already valid (bounds are checked while decoding); an expander only maps one to its
# outputs, so ``expand_frame`` can drive other mappings (``mca_core.ticks`` expands straight to table rows).

#: what ``expand_frame`` calls per wire Struct: ``(wire, context, out)``, appending the wire's outputs to ``out``
Expander = Callable[[Any, C, list[T]], None]


def blank(value: float | str | None) -> float | None:
    """A ``LoosePrice`` / ``LooseNumber`` as a float or None (``""`` upstream means absent)."""
    return None if isinstance(value, str) else value


def _opt_id(value: str | int | None) -> str | None:
    return None if value is None or value == "" else str(value)


def price_changes(w: WirePriceChange) -> list[WireChange]:
    """The changes of a ``price_change``: ``price_changes[]``, or the old single-change schema as one entry
    (no best bid/ask)."""
    if w.price_changes is not None:
        return w.price_changes
    if not w.asset_id or w.price is None or w.size is None or w.side is None:
        raise Invalid("price_change has neither price_changes[] nor asset_id/price/size/side")
    return [WireChange(asset_id=w.asset_id, price=w.price, size=w.size, side=w.side, hash=w.hash)]


def _x_book(w: WireBook, recv_ts: datetime, out: list[WsEvent]) -> None:
    bids = w.bids
    asks = w.asks
    bids.sort(key=_PRICE, reverse=True)
    asks.sort(key=_PRICE)
    out.append(
        WsBook(
            recv_ts=recv_ts,
            ts=EPOCH + timedelta(milliseconds=w.timestamp),
            ts_ms=w.timestamp,
            market=w.market,
            asset_id=w.asset_id,
            hash=w.hash,
            bids=bids,
            asks=asks,
            tick_size=blank(w.tick_size),
            last_trade_price=blank(w.last_trade_price),
        )
    )


def _x_price_change(w: WirePriceChange, recv_ts: datetime, out: list[WsEvent]) -> None:
    ms = w.timestamp
    ts = EPOCH + timedelta(milliseconds=ms)
    market = w.market
    for c in price_changes(w):
        out.append(
            WsPriceChange(
                recv_ts=recv_ts,
                ts=ts,
                ts_ms=ms,
                market=market,
                asset_id=c.asset_id,
                price=c.price,
                size=c.size,
                side=c.side,
                hash=c.hash,
                best_bid=blank(c.best_bid),
                best_ask=blank(c.best_ask),
            )
        )


def _x_last_trade(w: WireLastTrade, recv_ts: datetime, out: list[WsEvent]) -> None:
    out.append(
        WsLastTradePrice(
            recv_ts=recv_ts,
            ts=EPOCH + timedelta(milliseconds=w.timestamp),
            ts_ms=w.timestamp,
            market=w.market,
            asset_id=w.asset_id,
            price=w.price,
            size=w.size,
            side=w.side,
            fee_rate_bps=blank(w.fee_rate_bps),
            transaction_hash=w.transaction_hash or None,
        )
    )


def _x_best_bid_ask(w: WireBestBidAsk, recv_ts: datetime, out: list[WsEvent]) -> None:
    out.append(
        WsBestBidAsk(
            recv_ts=recv_ts,
            ts=EPOCH + timedelta(milliseconds=w.timestamp),
            ts_ms=w.timestamp,
            market=w.market,
            asset_id=w.asset_id,
            best_bid=blank(w.best_bid),
            best_ask=blank(w.best_ask),
            spread=blank(w.spread),
        )
    )


def _x_tick_size(w: WireTickSize, recv_ts: datetime, out: list[WsEvent]) -> None:
    out.append(
        WsTickSizeChange(
            recv_ts=recv_ts,
            ts=EPOCH + timedelta(milliseconds=w.timestamp),
            ts_ms=w.timestamp,
            market=w.market,
            asset_id=w.asset_id,
            old_tick_size=blank(w.old_tick_size),
            new_tick_size=w.new_tick_size,
        )
    )


def _x_resolved(w: WireResolved, recv_ts: datetime, out: list[WsEvent]) -> None:
    out.append(
        WsMarketResolved(
            recv_ts=recv_ts,
            ts=EPOCH + timedelta(milliseconds=w.timestamp),
            ts_ms=w.timestamp,
            market_id=_opt_id(w.id),
            market=w.market,
            assets_ids=w.assets_ids,
            winning_asset_id=w.winning_asset_id,
            winning_outcome=w.winning_outcome or None,
            tags=w.tags,
        )
    )


def _x_new_market(w: WireNewMarket, recv_ts: datetime, out: list[WsEvent]) -> None:
    out.append(
        WsNewMarket(
            recv_ts=recv_ts,
            ts=EPOCH + timedelta(milliseconds=w.timestamp),
            ts_ms=w.timestamp,
            market_id=_opt_id(w.id),
            market=w.market,
            condition_id=w.condition_id or None,
            question=w.question or None,
            slug=w.slug or None,
            event_id=_opt_id(w.event_message.id) if w.event_message is not None else None,
            assets_ids=w.assets_ids,
            outcomes=w.outcomes,
            clob_token_ids=w.clob_token_ids,
            tags=w.tags,
            active=w.active,
            order_price_min_tick_size=blank(w.order_price_min_tick_size),
        )
    )


_EXPANDERS: dict[type[Any], Expander[datetime, WsEvent]] = {
    WireBook: _x_book,
    WirePriceChange: _x_price_change,
    WireLastTrade: _x_last_trade,
    WireBestBidAsk: _x_best_bid_ask,
    WireTickSize: _x_tick_size,
    WireResolved: _x_resolved,
    WireNewMarket: _x_new_market,
}


# ------------------------------------------------------------------------------------ parsing


def _reject(reason: str, raw: object) -> Rejection:
    record_id: str | None = None
    if isinstance(raw, dict):
        for key in ("asset_id", "market", "id"):
            value = raw.get(key)
            if isinstance(value, str) and value:
                record_id = value
                break
    return Rejection(source=SOURCE, reason=reason, record_id=record_id, raw_excerpt=excerpt(raw))


def _parse_text(frame: str | bytes) -> Expanded[Any]:
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    word = text.strip().upper()
    if word in CONTROL_MESSAGES:
        return [], [], word
    reason = "empty frame" if not word else "frame is neither JSON nor a control message"
    return [], [_reject(reason, text)], None


def _parse_slow(frame: str | bytes, expanders: Mapping[type[Any], Expander[C, T]], context: C) -> Expanded[T]:
    """Event-by-event parse of a frame the fast path refused, isolating the bad events."""
    try:
        decoded = UNTYPED.decode(frame)
    except msgspec.DecodeError as exc:
        return [], [_reject(f"malformed JSON: {exc}", frame)], None
    items = decoded if isinstance(decoded, list) else [decoded]
    outputs: list[T] = []
    rejections: list[Rejection] = []
    for item in items:
        if not isinstance(item, dict):
            rejections.append(_reject(f"expected an event object, got {type(item).__name__}", item))
            continue
        event_type = item.get("event_type")
        wire_type = WIRE_BY_TAG.get(event_type) if isinstance(event_type, str) else None
        if wire_type is None:
            what = "missing event_type" if event_type is None else f"unknown event_type {event_type!r}"
            rejections.append(_reject(what, item))
            continue
        expanded: list[T] = []
        try:
            wire = msgspec.convert(item, wire_type, strict=False)
            expanders[wire_type](wire, context, expanded)
        except msgspec.ValidationError as exc:
            rejections.append(_reject(f"{event_type}: {exc}", item))
        except Invalid as exc:
            rejections.append(_reject(f"{event_type}: {exc.reason}", item))
        except (ValueError, OverflowError) as exc:
            rejections.append(_reject(f"{event_type}: {exc}", item))
        else:
            outputs.extend(expanded)
    return outputs, rejections, None


def expand_frame(frame: str | bytes, expanders: Mapping[type[Any], Expander[C, T]], context: C) -> Expanded[T]:
    """Decode one frame and expand each wire event by ``expanders[type(wire)](wire, context, out)``: the framing,
    control words and rejection isolation of ``parse_ws_frame`` (module docstring) for any kind of output.

    Returns the outputs, the rejections and the control word (or None).
    """
    try:
        decoded = DECODER.decode(frame)
    except msgspec.ValidationError:
        return _parse_slow(frame, expanders, context)
    except msgspec.DecodeError:
        return _parse_text(frame)
    out: list[T] = []
    try:
        if type(decoded) is list:
            for wire in decoded:
                expanders[type(wire)](wire, context, out)
        else:
            expanders[type(decoded)](decoded, context, out)
    except (Invalid, ValueError, OverflowError):
        return _parse_slow(frame, expanders, context)
    return out, [], None


def parse_ws_frame(frame: str | bytes, recv_ts: datetime) -> WsParseResult:
    """Parse one market-channel frame; see the module docstring for what is promised.

    ``recv_ts`` should be an aware UTC datetime taken when the frame arrived; it is stamped on
    every event unchanged.
    """
    events, rejections, control = expand_frame(frame, _EXPANDERS, recv_ts)
    return WsParseResult(events, rejections, control)


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)


def dedupe_key(event: WsEvent) -> str:
    """Stable identity of a market-channel record, for dropping replays across reconnects and
    overlapping capture windows. Floats render with ``repr`` (shortest round-trip), so "0.50" and
    "0.5" upstream give the same key. Prefixed by the event type so types never collide:

    - book: ``book|asset_id|hash`` (the hash identifies the book state)
    - price_change: ``price_change|asset_id|ts_ms|side|price|size|hash``
    - last_trade_price: ``last_trade_price|asset_id|ts_ms|price|size|side|transaction_hash``
    - best_bid_ask: ``best_bid_ask|asset_id|ts_ms|best_bid|best_ask``
    - tick_size_change: ``tick_size_change|asset_id|ts_ms|old|new``
    - market_resolved: ``market_resolved|market|winning_asset_id``
    - new_market: ``new_market|market|market_id``
    """
    if isinstance(event, WsPriceChange):
        return (
            f"price_change|{event.asset_id}|{event.ts_ms}|{event.side}|{event.price!r}|"
            f"{event.size!r}|{event.hash or ''}"
        )
    if isinstance(event, WsBook):
        return f"book|{event.asset_id}|{event.hash or event.ts_ms}"
    if isinstance(event, WsLastTradePrice):
        return (
            f"last_trade_price|{event.asset_id}|{event.ts_ms}|{event.price!r}|{event.size!r}|"
            f"{event.side or ''}|{event.transaction_hash or ''}"
        )
    if isinstance(event, WsBestBidAsk):
        return f"best_bid_ask|{event.asset_id}|{event.ts_ms}|{_num(event.best_bid)}|{_num(event.best_ask)}"
    if isinstance(event, WsTickSizeChange):
        return f"tick_size_change|{event.asset_id}|{event.ts_ms}|{_num(event.old_tick_size)}|{event.new_tick_size!r}"
    if isinstance(event, WsMarketResolved):
        return f"market_resolved|{event.market}|{event.winning_asset_id}"
    return f"new_market|{event.market}|{event.market_id or ''}"
