"""Normalised Polymarket records (msgspec Structs) shared by every stage.

Conventions promised by every record here:

- snake_case field names; optional fields are ``None`` when upstream omitted them (never ``0``
  or ``""`` as a stand-in), lists default to empty;
- timestamps are timezone-aware UTC ``datetime``s (see ``mca_core.timeparse``);
- prices and probabilities are floats in [0, 1]; money is USD floats;
- CLOB token ids are decimal strings (uint256, up to 78 digits), never ints or floats.

REST records are frozen. WebSocket records are frozen too and carry ``recv_ts`` (local receive
time given by the caller), ``ts`` (exchange time) and ``ts_ms`` (the exchange's exact integer ms).
Each WebSocket record class has an ``event_type`` class attribute and encodes as a msgspec tagged
union on ``"event_type"`` (``WsEvent``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta

__all__ = [
    "Book",
    "BookLevel",
    "ClobMarket",
    "ClobToken",
    "Event",
    "Market",
    "NormalizedBatch",
    "Price",
    "PricePoint",
    "Rejection",
    "Side",
    "Size",
    "WsBestBidAsk",
    "WsBook",
    "WsEvent",
    "WsLastTradePrice",
    "WsMarketResolved",
    "WsNewMarket",
    "WsPriceChange",
    "WsTickSizeChange",
]

Side = Literal["BUY", "SELL"]
#: A probability/price; the bounds are enforced whenever msgspec decodes or converts into it.
Price = Annotated[float, Meta(ge=0.0, le=1.0)]
#: A size in outcome shares; non-negative and finite-bounded on decode.
Size = Annotated[float, Meta(ge=0.0, le=1e15)]
T = TypeVar("T")


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    """A record that failed validation; kept (not raised) so batches continue and are counted.

    ``source`` names the payload kind (``gamma.market``, ``gamma.event``, ``clob.book``,
    ``clob.market``, ``clob.prices_history``, ``ws.market``); ``reason`` is human readable and
    names the field; ``raw_excerpt`` is a truncated compact JSON rendering of the input.
    """

    source: str
    reason: str
    record_id: str | None
    raw_excerpt: str


class NormalizedBatch(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """Result of normalising a page: the good records and one ``Rejection`` per bad one."""

    records: list[T]
    rejections: list[Rejection]


# --------------------------------------------------------------------------------------- Gamma


class Market(msgspec.Struct, frozen=True, kw_only=True):
    """One Gamma market (a binary YES/NO question for calibration purposes).

    ``outcomes``, ``outcome_prices`` and ``clob_token_ids`` are index-aligned when present.
    ``yes_token_id``/``p_yes`` refer to the FIRST outcome (``Yes``, or the first name of other
    binary pairs such as ``Up``/``Long``). ``event_id`` is the first nested event's id if the
    payload carried ``events[]``, or the parent event's id for markets nested in an event.
    ``volume_usd``/``liquidity_usd`` prefer the numeric ``volumeNum``/``liquidityNum`` and fall
    back to the string ``volume``/``liquidity``. Booleans default to ``False`` when omitted.
    """

    market_id: str
    condition_id: str
    question_id: str | None = None
    event_id: str | None = None
    question: str | None = None
    description: str | None = None
    resolution_source: str | None = None
    slug: str | None = None
    category: str | None = None
    tags: list[str] = []
    group_item_title: str | None = None
    outcomes: list[str] = []
    outcome_prices: list[float] | None = None
    clob_token_ids: list[str] = []
    yes_token_id: str | None = None
    no_token_id: str | None = None
    start_ts: datetime | None = None
    end_ts: datetime | None = None
    closed_ts: datetime | None = None
    created_ts: datetime | None = None
    updated_ts: datetime | None = None
    active: bool = False
    closed: bool = False
    archived: bool = False
    accepting_orders: bool | None = None
    neg_risk: bool = False
    neg_risk_market_id: str | None = None
    volume_usd: float | None = None
    liquidity_usd: float | None = None
    volume_24h: float | None = None
    best_bid: float | None = None
    best_ask: float | None = None
    last_trade_price: float | None = None
    spread: float | None = None
    uma_resolution_status: str | None = None
    uma_resolution_statuses: list[str] = []
    uma_bond: float | None = None
    uma_reward: float | None = None
    order_price_min_tick_size: float | None = None
    order_min_size: float | None = None
    p_yes: float | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One Gamma event: a group of markets (several for negRisk multi-outcome events).

    ``market_ids`` lists every nested market id upstream sent (membership, used for 1/event
    weighting) even if that market was rejected; ``markets`` holds only the valid ones.
    """

    event_id: str
    slug: str | None = None
    title: str | None = None
    category: str | None = None
    tags: list[str] = []
    active: bool = False
    closed: bool = False
    archived: bool = False
    neg_risk: bool = False
    neg_risk_market_id: str | None = None
    start_ts: datetime | None = None
    end_ts: datetime | None = None
    closed_ts: datetime | None = None
    created_ts: datetime | None = None
    volume_usd: float | None = None
    liquidity_usd: float | None = None
    open_interest: float | None = None
    market_ids: list[str] = []
    markets: list[Market] = []


# ---------------------------------------------------------------------------------------- CLOB


class BookLevel(msgspec.Struct, frozen=True):
    """One price level: price in [0, 1], size in outcome shares (>= 0); checked on decode."""

    price: Price
    size: Size


class _BookSides(msgspec.Struct, frozen=True, kw_only=True):
    """Shared read-only helpers for anything holding best-first ``bids``/``asks``."""

    bids: list[BookLevel] = []
    asks: list[BookLevel] = []

    @property
    def best_bid(self) -> float | None:
        """Highest bid price, or None for an empty bid side."""
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> float | None:
        """Lowest ask price, or None for an empty ask side."""
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> float | None:
        """Mid price, or None unless both sides have a level."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2.0


class Book(_BookSides, frozen=True, kw_only=True):
    """CLOB REST ``/book`` snapshot for one token.

    ``bids`` are sorted best-first (descending price) and ``asks`` best-first (ascending price);
    upstream sends the best level LAST, the normaliser re-sorts. ``market`` is the condition id.
    """

    market: str
    asset_id: str
    ts: datetime
    hash: str | None = None
    tick_size: float | None = None
    min_order_size: float | None = None
    neg_risk: bool | None = None
    last_trade_price: float | None = None


class ClobToken(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome token of a CLOB market; ``winner`` is the resolved ground truth."""

    token_id: str
    outcome: str
    price: float
    winner: bool


class ClobMarket(msgspec.Struct, frozen=True, kw_only=True):
    """CLOB REST ``/markets/{condition_id}`` object (snake_case upstream, numbers are numbers)."""

    condition_id: str
    question_id: str | None = None
    question: str | None = None
    market_slug: str | None = None
    active: bool = False
    closed: bool = False
    archived: bool = False
    neg_risk: bool | None = None
    end_ts: datetime | None = None
    tags: list[str] = []
    tokens: list[ClobToken] = []
    minimum_tick_size: float | None = None
    minimum_order_size: float | None = None
    is_50_50_outcome: bool | None = None

    @property
    def winner_token_id(self) -> str | None:
        """Token id flagged ``winner``; None while unresolved (or if several claim it)."""
        winners = [t.token_id for t in self.tokens if t.winner]
        return winners[0] if len(winners) == 1 else None


class PricePoint(msgspec.Struct, frozen=True):
    """One point of CLOB ``/prices-history`` for a token: UTC time and price in [0, 1]."""

    ts: datetime
    p: float


# ----------------------------------------------------------------------------------- WebSocket


class WsBook(_BookSides, frozen=True, kw_only=True, tag_field="event_type", tag="book"):
    """Market-channel full book snapshot; bids/asks best-first like ``Book``."""

    event_type: ClassVar[str] = "book"
    recv_ts: datetime
    ts: datetime
    ts_ms: int
    market: str
    asset_id: str
    hash: str | None = None
    tick_size: float | None = None
    last_trade_price: float | None = None


class WsPriceChange(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag="price_change"):
    """One level change. ``size`` is the new aggregate size at ``price`` (0 = level removed);
    BUY = bid side, SELL = ask side. New schema frames yield one record per ``price_changes[]``
    entry; old (pre Sept-2025) single-object frames map here with ``best_bid``/``best_ask`` None.
    """

    event_type: ClassVar[str] = "price_change"
    recv_ts: datetime
    ts: datetime
    ts_ms: int
    market: str
    asset_id: str
    price: float
    size: float
    side: Side
    hash: str | None = None
    best_bid: float | None = None
    best_ask: float | None = None


class WsLastTradePrice(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag="last_trade_price"):
    """A trade print: price, size and the aggressor side as sent by the exchange."""

    event_type: ClassVar[str] = "last_trade_price"
    recv_ts: datetime
    ts: datetime
    ts_ms: int
    market: str
    asset_id: str
    price: float
    size: float
    side: Side | None = None
    fee_rate_bps: float | None = None
    transaction_hash: str | None = None


class WsBestBidAsk(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag="best_bid_ask"):
    """Top of book change (needs ``custom_feature_enabled``); a missing side is None."""

    event_type: ClassVar[str] = "best_bid_ask"
    recv_ts: datetime
    ts: datetime
    ts_ms: int
    market: str
    asset_id: str
    best_bid: float | None = None
    best_ask: float | None = None
    spread: float | None = None


class WsTickSizeChange(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag="tick_size_change"):
    """Tick size change for one token."""

    event_type: ClassVar[str] = "tick_size_change"
    recv_ts: datetime
    ts: datetime
    ts_ms: int
    market: str
    asset_id: str
    old_tick_size: float | None = None
    new_tick_size: float


class WsMarketResolved(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag="market_resolved"):
    """Resolution notice: ``market_id`` is the Gamma id, ``market`` the condition id."""

    event_type: ClassVar[str] = "market_resolved"
    recv_ts: datetime
    ts: datetime
    ts_ms: int
    market_id: str | None = None
    market: str
    assets_ids: list[str] = []
    winning_asset_id: str
    winning_outcome: str | None = None
    tags: list[str] = []


class WsNewMarket(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag="new_market"):
    """A newly listed market; ``outcomes`` and token ids arrive as real arrays here."""

    event_type: ClassVar[str] = "new_market"
    recv_ts: datetime
    ts: datetime
    ts_ms: int
    market_id: str | None = None
    market: str
    condition_id: str | None = None
    question: str | None = None
    slug: str | None = None
    event_id: str | None = None
    assets_ids: list[str] = []
    outcomes: list[str] = []
    clob_token_ids: list[str] = []
    tags: list[str] = []
    active: bool | None = None
    order_price_min_tick_size: float | None = None


WsEvent = WsBook | WsPriceChange | WsLastTradePrice | WsBestBidAsk | WsTickSizeChange | WsMarketResolved | WsNewMarket
"""Tagged union (on ``event_type``) of all market-channel records."""
