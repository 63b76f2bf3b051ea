"""Market-channel frames as received -> deduplicated tick rows, ordered by exchange time.

A *tick* is one market-data event of one asset: a ``book`` snapshot, one ``price_change`` entry, a
``last_trade_price``, a ``best_bid_ask`` or a ``tick_size_change`` (``market_resolved`` / ``new_market`` carry no
asset quote and are counted, not stored). Columns (``TICK_COLUMNS``): ``ts`` exchange time (ms, UTC), ``recv_ts``
receive time, ``seq`` arrival ordinal within the capture (frame order, then order inside the frame), ``price`` /
``size`` / ``side`` of the change or trade (``price`` is the new tick size for ``tick_size_change``),
``best_bid`` / ``best_ask`` after the event (top of book for ``book``, absent for trades and old-schema changes).

Dedupe (``dedupe_ticks``), the same rule ``MarketStream`` applies live, applied again on the spooled frames so a
reload, a reconnect or an overlapping capture never stores a tick twice:

- the base key is the event's content (``_base_key``): ``book|<asset>|<hash>`` for a book (the hash identifies the
  book state; the exchange ms when there is none) and ``<type>|<asset>|<ts_ms>|<side>|<price>|<size>|<best_bid>|
  <best_ask>|<ref>`` for the others (``ref`` = price_change hash or trade transaction hash, absent fields empty);
  built in Polars, the same identity as ``mca_core.wsparse.dedupe_key`` plus the best bid/ask;
- an event that *sets state* (a book, one price level of one side, the best bid/ask, the tick size) is a
  duplicate when the previous event of the same state (in arrival order) had the same key: a replay. A return to
  an earlier state after something else set it is real and kept;
- a trade is a duplicate when its key was seen before anywhere in the capture;
- the stored ``dedupe_key`` is the base key, suffixed ``#n`` for the n-th kept repeat of the same base key (a
  quote that flickers A -> B -> A within one ms): unique per row and identical for the same event seen by two
  overlapping captures, which is what the warehouse dedupes on.

Ordering (``TICK_ORDER``): by exchange ``ts``, then ``recv_ts``, then ``seq``: exchange time first, arrival order
for events the exchange stamped with the same millisecond (a single connection delivers them in send order).
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter, itemgetter
from typing import Any

import polars as pl

from mca_core._wswire import (
    WireBestBidAsk,
    WireBook,
    WireLastTrade,
    WireNewMarket,
    WirePriceChange,
    WireResolved,
    WireTickSize,
)
from mca_core.wsparse import Expander, blank, expand_frame, price_changes

__all__ = ["RAW_SCHEMA", "TICK_COLUMNS", "TICK_ORDER", "build_ticks", "dedupe_ticks", "parse_frames"]

#: One row per parsed event, before dedupe.
RAW_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "conn": pl.Int32(),
    "recv_us": pl.Int64(),
    "ts_ms": pl.Int64(),
    "asset_id": pl.String(),
    "event_type": pl.String(),
    "price": pl.Float64(),
    "size": pl.Float64(),
    "side": pl.String(),
    "best_bid": pl.Float64(),
    "best_ask": pl.Float64(),
    "ref": pl.String(),  # book hash, price_change hash or trade transaction hash
}
_PRICE = attrgetter("price")

#: The columns of ``rt.ticks`` in table order.
TICK_COLUMNS = (
    "dt", "ts", "recv_ts", "asset_id", "event_type", "price", "size", "side", "best_bid", "best_ask",
    "dedupe_key", "run_id", "conn", "seq",
)  # fmt: skip

#: The order every consumer of ticks relies on (bars take open/close from it); numeric only, because sorting
#: millions of rows by a 77-digit asset id string costs ten times more.
TICK_ORDER = ("ts", "recv_ts", "seq")

#: ``RAW_SCHEMA`` minus ``seq`` / ``conn`` / ``recv_us``, which come from the frame (its ordinal in the chunk)
_ROW_SCHEMA: dict[str, pl.DataType] = {"frame": pl.Int64(), **{c: RAW_SCHEMA[c] for c in list(RAW_SCHEMA)[3:]}}
_Row = tuple[int, int, str | None, str, float | None, float | None, str | None, float | None, float | None, str | None]


def _r_book(w: WireBook, frame: int, out: list[_Row]) -> None:
    bid = max(map(_PRICE, w.bids)) if w.bids else None
    ask = min(map(_PRICE, w.asks)) if w.asks else None
    out.append((frame, w.timestamp, w.asset_id, "book", None, None, None, bid, ask, w.hash))


def _r_price_change(w: WirePriceChange, frame: int, out: list[_Row]) -> None:
    ms = w.timestamp
    for c in price_changes(w):
        out.append((frame, ms, c.asset_id, "price_change", c.price, c.size, c.side, blank(c.best_bid),
                    blank(c.best_ask), c.hash))  # fmt: skip


def _r_last_trade(w: WireLastTrade, frame: int, out: list[_Row]) -> None:
    out.append((frame, w.timestamp, w.asset_id, "last_trade_price", w.price, w.size, w.side, None, None,
                w.transaction_hash or None))  # fmt: skip


def _r_best_bid_ask(w: WireBestBidAsk, frame: int, out: list[_Row]) -> None:
    out.append((frame, w.timestamp, w.asset_id, "best_bid_ask", None, None, None, blank(w.best_bid),
                blank(w.best_ask), None))  # fmt: skip


def _r_tick_size(w: WireTickSize, frame: int, out: list[_Row]) -> None:
    out.append((frame, w.timestamp, w.asset_id, "tick_size_change", w.new_tick_size, None, None, None, None, None))


def _r_no_quote(w: WireResolved | WireNewMarket, frame: int, out: list[_Row]) -> None:
    """An event without an asset quote: a row without an asset, counted and dropped when the chunk is packed."""
    out.append((frame, w.timestamp, None, "", None, None, None, None, None, None))


#: wire Struct -> tick row, the one mapping of the capture path (``expand_frame`` isolates rejected events)
_ROW_EXPANDERS: dict[type[Any], Expander[int, _Row]] = {
    WireBook: _r_book,
    WirePriceChange: _r_price_change,
    WireLastTrade: _r_last_trade,
    WireBestBidAsk: _r_best_bid_ask,
    WireTickSize: _r_tick_size,
    WireResolved: _r_no_quote,
    WireNewMarket: _r_no_quote,
}

#: frames whose rows are held as Python tuples before they are packed into a (much smaller) Polars chunk: a few
#: thousand rows, still in the CPU cache when they are read column by column (twice as fast as 100k-row chunks)
CHUNK_FRAMES = 5_000


def _pack(rows: list[_Row], conns: list[int], recvs: list[int]) -> pl.DataFrame:
    """Rows of a chunk of frames -> a Polars chunk (built column by column), all ``RAW_SCHEMA`` but ``seq``."""
    columns = pl.DataFrame(
        [pl.Series(name, list(map(itemgetter(i), rows)), dtype) for i, (name, dtype) in enumerate(_ROW_SCHEMA.items())]
    )
    frame = pl.col("frame")
    return (
        columns.filter(pl.col("asset_id").is_not_null())
        .with_columns(
            conn=pl.lit(pl.Series(conns, dtype=pl.Int32)).gather(frame),
            recv_us=pl.lit(pl.Series(recvs, dtype=pl.Int64)).gather(frame),
        )
        .drop("frame")
    )


def parse_frames(frames: Iterable[tuple[int, int, str]]) -> tuple[pl.DataFrame, int]:
    """``(conn, recv_us, frame_text)`` in arrival order -> one row per tick event (``RAW_SCHEMA``), not deduped.

    Also returns how many parsed events carried no asset quote (resolutions, announcements). Control frames and
    rejected content yield no row (``expand_frame``: the live parser's framing and rejection rules). This is the
    only per-event Python loop of the capture path: wire Structs go straight to row tuples, packed column-wise
    into Polars every ``CHUNK_FRAMES`` frames so memory stays near the columnar size however long the capture.
    """
    chunks: list[pl.DataFrame] = []
    rows: list[_Row] = []
    conns: list[int] = []
    recvs: list[int] = []
    events = 0
    for conn, recv_us, text in frames:
        rows += expand_frame(text, _ROW_EXPANDERS, len(conns))[0]
        conns.append(conn)
        recvs.append(recv_us)
        if len(conns) == CHUNK_FRAMES:
            events += len(rows)
            chunks.append(_pack(rows, conns, recvs))
            rows.clear()
            conns.clear()
            recvs.clear()
    events += len(rows)
    chunks.append(_pack(rows, conns, recvs))
    raw = pl.concat(chunks, rechunk=True).with_columns(seq=pl.int_range(pl.len(), dtype=pl.Int64)).select(*RAW_SCHEMA)
    return raw, events - raw.height


def _base_key() -> pl.Expr:
    """The identity of an event's content: ``book|asset|hash`` for books (``ts_ms`` when there is no hash),
    ``type|asset|ts_ms|side|price|size|best_bid|best_ask|ref`` for everything else (absent fields empty)."""
    text = [pl.col(c).cast(pl.String).fill_null("") for c in ("ts_ms", "side", "price", "size", "best_bid",
                                                                "best_ask", "ref")]  # fmt: skip
    book = pl.concat_str([pl.lit("book"), pl.col("asset_id"), pl.col("ref").fill_null(text[0])], separator="|")
    other = pl.concat_str([pl.col("event_type"), pl.col("asset_id"), *text], separator="|")
    return pl.when(pl.col("event_type") == "book").then(book).otherwise(other)


def _state_slot() -> pl.Expr:
    """The piece of state an event sets, hashed (null for trades): the unit of the "previous setter" rule."""
    kind = pl.col("event_type")
    level = kind == "price_change"
    slot = pl.struct(
        kind, pl.col("asset_id"), pl.when(level).then(pl.col("side")), pl.when(level).then(pl.col("price"))
    ).hash()
    return pl.when(kind != "last_trade_price").then(slot)


def dedupe_ticks(raw: pl.DataFrame) -> pl.DataFrame:
    """Drop replayed events (rule in the module docstring) and give each kept row its unique ``dedupe_key``.

    The decisions run on a slim frame (row number in arrival order, state slot, 64-bit hash of the key): a stable
    sort by slot alone keeps arrival order inside a slot, so no wide string column and no second key is ever
    sorted; every replay is confirmed on the exact keys of the few candidates, and rows are dropped and numbered by
    position (scatter), not by joins.
    """
    arrival = raw if raw["seq"].is_sorted() else raw.sort("seq")
    keyed = arrival.with_columns(base_key=_base_key())
    keys = keyed["base_key"]
    row = pl.col("row")
    hashed = pl.col("hashed")
    slot = pl.col("slot")
    slim = keyed.select(row=pl.int_range(pl.len(), dtype=pl.UInt32), slot=_state_slot(), hashed=keys.hash())
    replayed_state = (hashed == hashed.shift(1)) & (slot == slot.shift(1))
    states = (
        slim.filter(slot.is_not_null())
        .sort("slot", maintain_order=True)
        .select(row, previous=row.shift(1), candidate=replayed_state.fill_null(False))
        .filter(pl.col("candidate"))
    )
    state_replays = states["row"].filter(keys.gather(states["row"]) == keys.gather(states["previous"]))
    seen_trades = slim.filter(slot.is_null()).filter(hashed.is_duplicated())["row"]  # a trade whose key hash recurs
    trade_replays = seen_trades.filter(~keys.gather(seen_trades).is_first_distinct())
    keep = pl.repeat(True, keyed.height, eager=True).scatter(pl.concat([state_replays, trade_replays]), False)
    kept = keyed.filter(keep)
    # the n-th kept repeat of a key, in arrival order (grouped by hash: a collision only numbers a key, which stays
    # unique)
    kept_hashes = slim["hashed"].filter(keep)
    recurring = kept_hashes.is_duplicated().arg_true()
    repeats = (
        pl.DataFrame({"row": recurring, "hashed": kept_hashes.gather(recurring)})
        .select(row, repeat=pl.int_range(pl.len()).over("hashed"))
        .filter(pl.col("repeat") > 0)
    )
    kept_keys = kept["base_key"]
    numbered = kept_keys.gather(repeats["row"]) + "#" + repeats["repeat"].cast(pl.String)
    return kept.with_columns(dedupe_key=kept_keys.scatter(repeats["row"], numbered)).drop("base_key", "ref")


def build_ticks(raw: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Deduplicated ``rt.ticks`` rows of one capture (``TICK_COLUMNS``), in arrival order: consumers sort by
    ``TICK_ORDER`` (a wide frame is not sorted here for nothing)."""
    ticks = dedupe_ticks(raw)
    ts = pl.from_epoch(pl.col("ts_ms"), time_unit="ms").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
    recv = pl.from_epoch(pl.col("recv_us"), time_unit="us").dt.replace_time_zone("UTC")
    return (
        ticks.with_columns(ts=ts, recv_ts=recv, run_id=pl.lit(run_id, dtype=pl.String))
        .with_columns(dt=pl.col("ts").dt.date())
        .select(TICK_COLUMNS)
    )
