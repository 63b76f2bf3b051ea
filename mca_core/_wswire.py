"""Wire format of the CLOB market channel as msgspec Structs (private to ``mca_core.wsparse`` and the expanders
it drives, ``mca_core.ticks``).

These mirror what Polymarket sends, field for field; they are decoded in non-strict mode so that
numeric strings become floats/ints in C, and every bound is checked during decoding, so a decoded Struct is
valid as a whole. Numeric fields that upstream may also send as ``""`` are typed ``LoosePrice`` /
``LooseNumber``: a checked float, ``""`` or None (the expanders read ``""`` as absent).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from mca_core.records import BookLevel, Price, Side, Size

Id = Annotated[str, Meta(min_length=1)]
Ms = Annotated[int, Meta(ge=0, le=10**14)]  # epoch ms, before year 5138
LoosePrice = Price | Literal[""] | None  # a price in [0, 1] (NaN rejected) that may also arrive as ""
LooseNumber = Annotated[float, Meta(ge=0.0, le=sys.float_info.max)] | Literal[""] | None  # finite, >= 0


class WireBook(msgspec.Struct, kw_only=True, tag_field="event_type", tag="book"):
    market: Id
    asset_id: Id
    timestamp: Ms
    hash: str | None = None
    bids: list[BookLevel] = []
    asks: list[BookLevel] = []
    tick_size: LoosePrice = None
    last_trade_price: LoosePrice = None


class WireChange(msgspec.Struct, kw_only=True):
    asset_id: Id
    price: Price
    size: Size
    side: Side
    hash: str | None = None
    best_bid: LoosePrice = None
    best_ask: LoosePrice = None


class WirePriceChange(msgspec.Struct, kw_only=True, tag_field="event_type", tag="price_change"):
    market: Id
    timestamp: Ms
    price_changes: list[WireChange] | None = None
    # old (pre Sept-2025) single-change schema
    asset_id: str | None = None
    price: Price | None = None
    size: Size | None = None
    side: Side | None = None
    hash: str | None = None


class WireLastTrade(msgspec.Struct, kw_only=True, tag_field="event_type", tag="last_trade_price"):
    market: Id
    asset_id: Id
    timestamp: Ms
    price: Price
    size: Size
    side: Side | None = None
    fee_rate_bps: LooseNumber = None
    transaction_hash: str | None = None


class WireBestBidAsk(msgspec.Struct, kw_only=True, tag_field="event_type", tag="best_bid_ask"):
    market: Id
    asset_id: Id
    timestamp: Ms
    best_bid: LoosePrice = None
    best_ask: LoosePrice = None
    spread: LoosePrice = None


class WireTickSize(msgspec.Struct, kw_only=True, tag_field="event_type", tag="tick_size_change"):
    market: Id
    asset_id: Id
    timestamp: Ms
    new_tick_size: Price
    old_tick_size: LoosePrice = None


class WireResolved(msgspec.Struct, kw_only=True, tag_field="event_type", tag="market_resolved"):
    market: Id
    timestamp: Ms
    winning_asset_id: Id
    id: str | int | None = None
    assets_ids: list[str] = []
    winning_outcome: str | None = None
    tags: list[str] = []


class WireEventMessage(msgspec.Struct):
    id: str | int | None = None


class WireNewMarket(msgspec.Struct, kw_only=True, tag_field="event_type", tag="new_market"):
    market: Id
    timestamp: Ms
    id: str | int | None = None
    question: str | None = None
    slug: str | None = None
    condition_id: str | None = None
    event_message: WireEventMessage | None = None
    assets_ids: list[str] = []
    outcomes: list[str] = []
    clob_token_ids: list[str] = []
    tags: list[str] = []
    active: bool | None = None
    order_price_min_tick_size: LoosePrice = None


Wire = WireBook | WirePriceChange | WireLastTrade | WireBestBidAsk | WireTickSize | WireResolved | WireNewMarket
#: One decoder for both framings: a JSON array of events or a single event object.
DECODER = msgspec.json.Decoder(list[Wire] | Wire, strict=False)
UNTYPED = msgspec.json.Decoder()
WIRE_BY_TAG: dict[str, type[Any]] = {
    "book": WireBook,
    "price_change": WirePriceChange,
    "last_trade_price": WireLastTrade,
    "best_bid_ask": WireBestBidAsk,
    "tick_size_change": WireTickSize,
    "market_resolved": WireResolved,
    "new_market": WireNewMarket,
}
