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
from datetime import UTC, datetime

import polars as pl

from mca_core.records import WsBestBidAsk, WsBook, WsLastTradePrice, WsPriceChange, WsTickSizeChange
from mca_core.wsparse import parse_ws_frame

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

#: The columns of ``rt.ticks`` in table order.
TICK_COLUMNS = (
    "dt", "ts", "recv_ts", "asset_id", "event_type", "price", "size", "side", "best_bid", "best_ask",
    "dedupe_key", "run_id", "conn", "seq",
)  # fmt: skip

#: The order every consumer of ticks relies on (bars take open/close from it); numeric only, because sorting
#: millions of rows by a 77-digit asset id string costs ten times more.
TICK_ORDER = ("ts", "recv_ts", "seq")

_Row = tuple[
    int, int, int, int, str, str, float | None, float | None, str | None, float | None, float | None, str | None
]
# parse_ws_frame stamps recv_ts on events; ticks take the receive time from the spool instead
_UNUSED_RECV = datetime(1970, 1, 1, tzinfo=UTC)


#: rows held as Python tuples before they are packed into a (much smaller) Polars chunk
CHUNK_ROWS = 200_000


def parse_frames(frames: Iterable[tuple[int, int, str]]) -> tuple[pl.DataFrame, int]:
    """``(conn, recv_us, frame_text)`` in arrival order -> one row per tick event (``RAW_SCHEMA``), not deduped.

    Also returns how many parsed events carried no asset quote (resolutions, announcements). Control frames and
    rejected content yield no row. This is the only per-event Python loop of the capture path; rows are packed
    into Polars every ``CHUNK_ROWS`` so memory stays near the columnar size however long the capture.
    """
    chunks: list[pl.DataFrame] = []
    rows: list[_Row] = []
    append = rows.append
    other = 0
    seq = 0
    for conn, recv_us, text in frames:
        for e in parse_ws_frame(text, _UNUSED_RECV).events:
            if type(e) is WsPriceChange:
                append((seq, conn, recv_us, e.ts_ms, e.asset_id, "price_change", e.price, e.size, e.side,
                        e.best_bid, e.best_ask, e.hash))  # fmt: skip
            elif type(e) is WsBestBidAsk:
                append((seq, conn, recv_us, e.ts_ms, e.asset_id, "best_bid_ask", None, None, None,
                        e.best_bid, e.best_ask, None))  # fmt: skip
            elif type(e) is WsLastTradePrice:
                append((seq, conn, recv_us, e.ts_ms, e.asset_id, "last_trade_price", e.price, e.size, e.side,
                        None, None, e.transaction_hash))  # fmt: skip
            elif type(e) is WsBook:
                bid = e.bids[0].price if e.bids else None
                ask = e.asks[0].price if e.asks else None
                append((seq, conn, recv_us, e.ts_ms, e.asset_id, "book", None, None, None, bid, ask, e.hash))
            elif type(e) is WsTickSizeChange:
                append((seq, conn, recv_us, e.ts_ms, e.asset_id, "tick_size_change", e.new_tick_size, None, None,
                        None, None, None))  # fmt: skip
            else:
                other += 1
                continue
            seq += 1
        if len(rows) >= CHUNK_ROWS:
            chunks.append(pl.DataFrame(rows, schema=RAW_SCHEMA, orient="row"))
            rows.clear()
    chunks.append(pl.DataFrame(rows, schema=RAW_SCHEMA, orient="row"))
    return pl.concat(chunks, rechunk=True), other


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

    The decisions run on a slim frame (arrival ``seq``, state slot, 64-bit hash of the key) sorted by (slot, seq),
    so no wide string column is ever sorted; every replay is confirmed on the exact key.
    """
    arrival = raw if raw["seq"].is_sorted() else raw.sort("seq")
    keyed = arrival.with_columns(base_key=_base_key(), slot=_state_slot())
    key = pl.col("base_key")
    hashed = pl.col("hashed")
    slim = keyed.select("seq", "slot", hashed=key.hash())
    states = slim.filter(pl.col("slot").is_not_null()).sort("slot", "seq")
    replayed_state = (hashed == hashed.shift(1)) & (pl.col("slot") == pl.col("slot").shift(1))
    candidates = states.with_columns(previous=pl.col("seq").shift(1)).filter(replayed_state.fill_null(False))
    keys = keyed.select("seq", "base_key")
    state_replays = (  # confirmed on the exact keys (the few candidates only), so a hash collision drops nothing
        candidates.join(keys, on="seq")
        .join(keys.rename({"seq": "previous", "base_key": "previous_key"}), on="previous")
        .filter(key == pl.col("previous_key"))
        .select("seq")
    )
    trade_replays = keyed.filter(pl.col("slot").is_null()).filter(~key.is_first_distinct()).select("seq")
    replays = pl.concat([state_replays, trade_replays])["seq"]
    kept = keyed.filter(~pl.col("seq").is_in(replays.implode()))
    # the n-th kept repeat of a key (grouped by hash: a collision only numbers a key, which stays unique)
    repeats = (
        kept.select("seq", hashed=key.hash())
        .filter(hashed.is_duplicated())
        .sort("hashed", "seq")
        .select("seq", repeat=pl.int_range(pl.len()).over("hashed"))
        .filter(pl.col("repeat") > 0)
    )
    repeat = pl.col("seq").replace_strict(repeats["seq"], repeats["repeat"], default=None, return_dtype=pl.Int64)
    return kept.with_columns(
        dedupe_key=pl.when(repeat.is_null()).then(key).otherwise(key + pl.lit("#") + repeat.cast(pl.String))
    ).drop("slot", "base_key", "ref")


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
