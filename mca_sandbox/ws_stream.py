"""The market-channel event generator behind ``/ws/market``: per-connection order books and their event frames.

Each subscribed binary market keeps one YES order book on an integer price grid in thousandths (price ``k`` means
``k / 1000``); the NO book is its mirror image (NO bids at ``1000 - k`` for every YES ask ``k`` and the reverse), so
the two books are always consistent with each other, as on Polymarket where a YES bid at p is a NO ask at 1 - p.

The YES book starts around the world's market price with the spread of ``world.spread(m)``. Its target best bid
is an *anchor* (the world's price, updated by ``retarget`` about once a second, minus half the spread) plus a
microstructure offset that walks one tick up or down now and then and is pulled back once it is ``MAX_OFFSET``
ticks away; price changes pull the book onto the target one level at a time (the best ask is removed before a
bid crosses into it, so the book never crosses). So the best bid/ask and the trades track the world's path
(information shocks, pump-and-revert episodes) with the noise of a real book around it. Between moves, sizes
change, levels are added deeper in the book or removed. Trades are reported at the best bid or ask and do not
consume the book; their share of a market's events rises with its trading activity (``retarget``'s ``activity``,
the world's volume rate over its mean), so volume bursts show up as bursts of trades.

Frames are built as text with fixed templates (no ``json.dumps`` in the hot path) in Polymarket's own shapes and field
order (``shared/fixtures/polymarket/ws_market_*.json``): all numbers are strings, timestamps are milliseconds as
strings. One ``price_change`` frame carries one entry per subscribed token of the market (YES at p, NO at 1 - p).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GRID = 1000  # prices in thousandths
DEPTH = 12  # levels per side kept in the book (beyond the best)
MIN_LEVELS = 3
TRADE_SHARE = 0.12  # share of market events that are trades (last_trade_price) at normal activity
MAX_TRADE_SHARE = 0.5
WALK_SHARE = 0.3  # share of price changes that first move the target price one tick
MAX_OFFSET = 3  # ticks the microstructure walk may stray from the anchor before it is pulled back
SIZE_BITS = 12
SIZE_POOL = 1 << SIZE_BITS  # order sizes are drawn from a pool of this many


def _price_text(k: int) -> str:
    text = f"{k / GRID:.3f}".rstrip("0").rstrip(".")
    return text or "0"


#: ``PRICE[k]`` is the wire text of price ``k / 1000`` ("0.3", "0.301", "1").
PRICE: tuple[str, ...] = tuple(_price_text(k) for k in range(GRID + 1))
TICK_TEXT = {1: "0.001", 10: "0.01"}

# price_change and best_bid_ask frames are built with f-strings in MarketBook.step_event (the hot path):
# {"market":_,"price_changes":[{"asset_id":_,"price":_,"size":_,"side":_,"hash":_,"best_bid":_,"best_ask":_},...],
#  "timestamp":_,"event_type":"price_change"}
# {"event_type":"best_bid_ask","market":_,"asset_id":_,"best_bid":_,"best_ask":_,"spread":_,"timestamp":_}
TRADE = (
    '{{"asset_id":"{}","event_type":"last_trade_price","fee_rate_bps":"0","market":"{}","price":"{}",'
    '"side":"{}","size":"{}","timestamp":"{}","transaction_hash":"0x{:064x}"}}'
)
TICK_CHANGE = (
    '{{"asset_id":"{}","event_type":"tick_size_change","market":"{}","new_tick_size":"{}",'
    '"old_tick_size":"{}","timestamp":"{}"}}'
)
BOOK = (
    '{{"market":"{}","asset_id":"{}","timestamp":"{}","hash":"{:040x}","bids":[{}],"asks":[{}],'
    '"tick_size":"{}","event_type":"book","last_trade_price":"{}"}}'
)
LEVEL = '{{"price":"{}","size":"{}"}}'


def _size_text(cents: int) -> str:
    whole, frac = divmod(cents, 100)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:02d}".rstrip("0")


def size_pool(rnd: random.Random, n: int = SIZE_POOL) -> list[str]:
    """Order sizes as wire text: log-normal around a few hundred shares, some round, some with cents."""
    out = []
    for _ in range(n):
        shares = max(1.0, rnd.lognormvariate(6.0, 1.6))
        cents = round(shares) * 100 if rnd.random() < 0.4 else round(shares * 100)
        out.append(_size_text(max(cents, 100)))
    return out


@dataclass(frozen=True)
class MarketSpec:
    """What the generator needs to know of a world market."""

    m: int
    condition_id: str
    yes: str
    no: str
    price: float  # starting YES price
    tick: float
    spread: float


class MarketBook:
    """One market's YES book (and its mirrored NO book) on one connection."""

    __slots__ = (
        "anchor",
        "asks",
        "assets",
        "best_ask",
        "best_bid",
        "bids",
        "last",
        "no_best",
        "no_change",
        "offset",
        "pc_head",
        "spec",
        "spread",
        "step",
        "sub_no",
        "sub_yes",
        "target",
        "trade_share",
        "yes_best",
        "yes_change",
    )

    def __init__(self, spec: MarketSpec, rnd: random.Random, sizes: list[str]) -> None:
        self.spec = spec
        k = round(spec.price * GRID)
        # Polymarket quotes a 0.01-tick market beyond [0.04, 0.96] in 0.001 ticks (see tick_size_change below)
        self.step = 1 if spec.tick < 0.005 or not 40 <= k <= GRID - 40 else 10
        step = self.step
        self.spread = max(1, round(spec.spread / spec.tick)) * (1 if spec.tick < 0.005 else 10)
        self.anchor = self._anchor(spec.price)
        self.offset = 0
        self.target = self.anchor
        self.trade_share = TRADE_SHARE
        self.bids: dict[int, str] = {}
        self.asks: dict[int, str] = {}
        pool = len(sizes)
        price = self.target
        while len(self.bids) < DEPTH and price >= step:
            self.bids[price] = sizes[rnd.randrange(pool)]
            price -= step * rnd.choice((1, 1, 1, 2, 3))
        price = self.target + self.spread
        while len(self.asks) < DEPTH and price <= GRID - step:
            self.asks[price] = sizes[rnd.randrange(pool)]
            price += step * rnd.choice((1, 1, 1, 2, 3))
        self.best_bid = self.target
        self.best_ask = self.target + self.spread
        self.last = min(max(round(spec.price * GRID), 1), GRID - 1)  # YES last trade price
        self.sub_yes = False
        self.sub_no = False
        self.assets: tuple[str, ...] = ()
        # constant frame prefixes (the hot path only fills in the variable fields)
        cid = spec.condition_id
        self.pc_head = f'{{"market":"{cid}","price_changes":['
        self.yes_change = f'{{"asset_id":"{spec.yes}","price":"'
        self.no_change = f'{{"asset_id":"{spec.no}","price":"'
        self.yes_best = f'{{"event_type":"best_bid_ask","market":"{cid}","asset_id":"{spec.yes}","best_bid":"'
        self.no_best = f'{{"event_type":"best_bid_ask","market":"{cid}","asset_id":"{spec.no}","best_bid":"'

    def _anchor(self, price: float) -> int:
        step = self.step
        bid = (round(price * GRID) - self.spread // 2) // step * step
        return min(max(bid, step), GRID - step - self.spread)

    def retarget(self, price: float, activity: float) -> None:
        """Follow the world: the anchor moves to its current price; trades get likelier as activity rises."""
        self.anchor = self._anchor(price)
        self.target = min(max(self.anchor + self.offset, self.step), GRID - self.step - self.spread)
        self.trade_share = min(MAX_TRADE_SHARE, TRADE_SHARE * max(1.0, activity))

    def set_subscribed(self, yes: bool, no: bool) -> None:
        self.sub_yes, self.sub_no = yes, no
        spec = self.spec
        self.assets = ((spec.yes,) if yes else ()) + ((spec.no,) if no else ())

    # --- wire views -----------------------------------------------------------------------------------------------
    def book_frame(self, asset: str, ts: str, hash_bits: int) -> str:
        """A ``book`` event for one token: bids ascending and asks descending, best level last."""
        if asset == self.spec.yes:
            bids = sorted(self.bids.items())
            asks = sorted(self.asks.items(), reverse=True)
            last = self.last
        else:
            bids = sorted((GRID - k, v) for k, v in self.asks.items())
            asks = sorted(((GRID - k, v) for k, v in self.bids.items()), reverse=True)
            last = GRID - self.last
        return BOOK.format(
            self.spec.condition_id,
            asset,
            ts,
            hash_bits,
            ",".join([LEVEL.format(PRICE[k], v) for k, v in bids]),
            ",".join([LEVEL.format(PRICE[k], v) for k, v in asks]),
            TICK_TEXT[self.step],
            PRICE[last],
        )

    # --- one market event -----------------------------------------------------------------------------------------
    def step_event(
        self, rnd: random.Random, sizes: list[str], ts: str, custom: bool, out: list[tuple[str, tuple[str, ...]]]
    ) -> None:
        """Append this market's next event frame(s), each with the assets it carries, to ``out``."""
        random_ = rnd.random
        if random_() < self.trade_share:
            self._trade(rnd, sizes, ts, out)
            return
        step = self.step
        if random_() < WALK_SHARE:
            offset = self.offset
            if offset >= MAX_OFFSET * step:
                offset -= step
            elif offset <= -MAX_OFFSET * step:
                offset += step
            else:
                offset += step if random_() < 0.5 else -step
            self.offset = offset
            self.target = min(max(self.anchor + offset, step), GRID - step - self.spread)
        price, size, buy = self._change(rnd, sizes)
        bb, ba = old_bid, old_ask = self.best_bid, self.best_ask
        if buy:
            bids = self.bids
            if size == "0":
                del bids[price]
                if price == bb:
                    bb = self.best_bid = max(bids)
            else:
                bids[price] = size
                if price > bb:
                    bb = self.best_bid = price
        else:
            asks = self.asks
            if size == "0":
                del asks[price]
                if price == ba:
                    ba = self.best_ask = min(asks)
            else:
                asks[price] = size
                if price < ba:
                    ba = self.best_ask = price
        hashes = f"{rnd.getrandbits(320):080x}"
        if self.sub_yes:
            side = "BUY" if buy else "SELL"
            yes = (
                f'{self.yes_change}{PRICE[price]}","size":"{size}","side":"{side}","hash":"{hashes[:40]}",'
                f'"best_bid":"{PRICE[bb]}","best_ask":"{PRICE[ba]}"}}'
            )
            if self.sub_no:
                side = "SELL" if buy else "BUY"
                no = (
                    f'{self.no_change}{PRICE[GRID - price]}","size":"{size}","side":"{side}","hash":"{hashes[40:]}",'
                    f'"best_bid":"{PRICE[GRID - ba]}","best_ask":"{PRICE[GRID - bb]}"}}'
                )
                entries = f"{yes},{no}"
            else:
                entries = yes
        else:
            side = "SELL" if buy else "BUY"
            entries = (
                f'{self.no_change}{PRICE[GRID - price]}","size":"{size}","side":"{side}","hash":"{hashes[40:]}",'
                f'"best_bid":"{PRICE[GRID - ba]}","best_ask":"{PRICE[GRID - bb]}"}}'
            )
        assets = self.assets
        out.append((f'{self.pc_head}{entries}],"timestamp":"{ts}","event_type":"price_change"}}', assets))
        if custom and (bb != old_bid or ba != old_ask):
            spread = PRICE[ba - bb]
            if self.sub_yes:
                frame = f'{self.yes_best}{PRICE[bb]}","best_ask":"{PRICE[ba]}","spread":"{spread}","timestamp":"{ts}"}}'
                out.append((frame, assets[:1]))
            if self.sub_no:
                no_bid, no_ask = PRICE[GRID - ba], PRICE[GRID - bb]
                frame = f'{self.no_best}{no_bid}","best_ask":"{no_ask}","spread":"{spread}","timestamp":"{ts}"}}'
                out.append((frame, assets[-1:]))
        if step == 10 and (bb < 40 or ba > GRID - 40):
            # Polymarket refines the tick to 0.001 when a 0.01-tick market trades beyond [0.04, 0.96].
            self.step = 1
            self.offset = self.offset // 10
            for asset in assets:
                out.append((TICK_CHANGE.format(asset, self.spec.condition_id, "0.001", "0.01", ts), (asset,)))

    def _change(self, rnd: random.Random, sizes: list[str]) -> tuple[int, str, bool]:
        """The next level change (price, new aggregate size or "0", bid side?) that keeps the book uncrossed."""
        bb, ba = self.best_bid, self.best_ask
        tb = self.target
        ta = tb + self.spread
        pick = sizes[rnd.getrandbits(SIZE_BITS)]
        if ba < ta:  # the price moved up: clear the asks below the new target first
            return (ba, "0", False) if len(self.asks) > 1 else (ta, pick, False)
        if bb > tb:  # moved down: clear the bids above it
            return (bb, "0", True) if len(self.bids) > 1 else (tb, pick, True)
        if bb < tb:  # bb < tb < ta <= ba: a new best bid
            return tb, pick, True
        if ba > ta:
            return ta, pick, False
        r = rnd.random()
        buy = r < 0.5
        book = self.bids if buy else self.asks
        best = bb if buy else ba
        r = rnd.random()
        if r < 0.45:  # a new aggregate size at the best level
            return best, pick, buy
        n = len(book)
        step = self.step
        if (n < DEPTH and r < 0.75) or n < MIN_LEVELS:  # a new level deeper in the book
            price = (min(book) - step * rnd.randint(1, 3)) if buy else (max(book) + step * rnd.randint(1, 3))
            if step <= price <= GRID - step:
                return price, pick, buy
        levels = list(book)
        price = levels[int(rnd.random() * n)]
        if r > 0.85 and n > MIN_LEVELS and price != best:  # a level taken away
            return price, "0", buy
        return price, pick, buy

    def _trade(self, rnd: random.Random, sizes: list[str], ts: str, out: list[tuple[str, tuple[str, ...]]]) -> None:
        spec = self.spec
        buy = rnd.random() < 0.5
        yes = self.sub_yes and (not self.sub_no or rnd.random() < 0.5)
        if yes:
            asset, price = spec.yes, (self.best_ask if buy else self.best_bid)
            self.last = price
        else:
            asset, price = spec.no, (GRID - self.best_bid if buy else GRID - self.best_ask)
            self.last = GRID - price
        frame = TRADE.format(
            asset,
            spec.condition_id,
            PRICE[price],
            "BUY" if buy else "SELL",
            sizes[rnd.getrandbits(SIZE_BITS)],
            ts,
            rnd.getrandbits(256),
        )
        out.append((frame, (asset,)))


class Stream:
    """The books of one connection's subscribed markets and the assets it follows."""

    def __init__(self, specs: Mapping[str, tuple[MarketSpec, bool]], seed: int | None = None) -> None:
        """``specs`` maps every streamable token id to (its market, is it the YES token)."""
        self.specs = specs
        self.rnd = random.Random(seed)
        self.sizes = size_pool(self.rnd)
        self.books: dict[int, MarketBook] = {}
        self.subscribed: dict[str, MarketBook] = {}  # asset -> book, in subscription order
        self.active: list[MarketBook] = []  # markets with at least one subscribed token

    def known(self, asset: str) -> bool:
        return asset in self.specs

    def subscribe(self, assets: Iterable[str]) -> list[str]:
        """Add the known assets not yet subscribed; returns them in request order."""
        added = []
        for asset in assets:
            entry = self.specs.get(asset)
            if entry is None or asset in self.subscribed:
                continue
            spec, is_yes = entry
            book = self.books.get(spec.m)
            if book is None:
                book = self.books[spec.m] = MarketBook(spec, self.rnd, self.sizes)
            book.set_subscribed(book.sub_yes or is_yes, book.sub_no or not is_yes)
            self.subscribed[asset] = book
            added.append(asset)
        if added:
            self._refresh()
        return added

    def unsubscribe(self, assets: Iterable[str]) -> list[str]:
        removed = []
        for asset in assets:
            book = self.subscribed.pop(asset, None)
            if book is None:
                continue
            is_yes = asset == book.spec.yes
            book.set_subscribed(book.sub_yes and not is_yes, book.sub_no and is_yes)
            if not (book.sub_yes or book.sub_no):
                del self.books[book.spec.m]  # a later subscription starts a fresh book
            removed.append(asset)
        if removed:
            self._refresh()
        return removed

    def close(self, book: MarketBook) -> list[str]:
        """Drop a market whose order book closed (it resolved); returns its assets that were subscribed."""
        return self.unsubscribe([a for a in book.assets if self.subscribed.get(a) is book])

    def _refresh(self) -> None:
        self.active = list(self.books.values())

    def dump(self, assets: Iterable[str], ts: str) -> str:
        """The initial dump: one JSON array of ``book`` events, one per asset, in the given order."""
        bits = self.rnd.getrandbits
        return "[" + ",".join(self.subscribed[a].book_frame(a, ts, bits(160)) for a in assets) + "]"

    def events(self, markets: Iterable[int], ts: str, custom: bool, out: list[tuple[str, tuple[str, ...]]]) -> None:
        """Append the frames of one event for each market index (into ``active``) given."""
        active, rnd, sizes = self.active, self.rnd, self.sizes
        for i in markets:
            active[i].step_event(rnd, sizes, ts, custom, out)
