"""Goldsky/graph-node subgraphs over the world: ``POST /subgraphs/{name}/{version}/gn`` (route ``subgraph``).

Deployments and entities (schemas of Polymarket/polymarket-subgraph; BigInt and BigDecimal travel as strings):

- ``oi-subgraph/0.0.6``: ``MarketOpenInterest{id: condition id (0x hex), amount: BigInt}`` (USDC, 6 decimals),
  ``GlobalOpenInterest{id: "", amount}`` (the exact sum) and ``Condition{id}``.
- ``orderbook-subgraph/0.0.1``: ``Orderbook{id: token id (decimal string), tradesQuantity, buysQuantity,
  sellsQuantity, collateralVolume, collateralBuyVolume, collateralSellVolume (BigInt, 6 decimals),
  scaledCollateralVolume, scaledCollateralBuyVolume, scaledCollateralSellVolume (BigDecimal = raw / 1e6)}``,
  ``MarketData{id: token id, condition, outcomeIndex: BigInt ("0" YES, "1" NO)}`` and
  ``OrdersMatchedGlobal{id: "", ...the Orderbook counters summed}``.

Every query field exists singular (``orderbook(id: "...")``) and plural (``orderbooks(...)``, ``marketDatas``),
plus ``_meta { block { number hash timestamp } deployment hasIndexingErrors }`` and ``__typename``.

Values at an instant t: the head is the venue's current ``as_of`` (``clock.py``); ``block`` arguments ask for
earlier instants (below). Markets created after t are not indexed at t.

- ``collateralVolume`` of a market's two tokens sums exactly to Gamma's volume at t in micro-USDC
  (``round(V(t) * 1e6)`` of the world's cumulative volume rounded to the micro-dollar); the YES share is a seeded
  draw in [0.3, 0.7], and each token's buy share one in [0.4, 0.7]; splits are floors of these static shares, so
  every counter never decreases in time; buy + sell = total, always. Markets Gamma shows as zero-volume (under
  100 USD traded by t) have not traded: their tokens have ``MarketData`` but no ``Orderbook`` (graph-node creates
  it on the first fill).
- Trades: ``max(4, ceil(world trade count at t))`` per market (background volume over the market's typical trade
  size, plus episode bursts: wash trading is many small trades), split between the tokens like the volume (each
  token at least 2 trades), buys + sells = trades with at least one of each.
- Open interest: the world's open interest at t (``round(OI(t) * 1e6)``) while the market is live, 0 once it is
  closed (resolved, void or stuck unresolved), so a live event's summed amounts equal Gamma's event
  ``openInterest`` (0 when closed).
- The exact served values of a market: ``GET /_truth/subgraph/{condition_id}?ts=`` (unix seconds, default the head,
  at most the head; 404 when not indexed at ts); entity counts and the global aggregates: ``GET
  /_truth/subgraph?ts=``. Both carry ``ts`` and its ``block_number``.

Blocks and time travel: block N is at ``POLYGON_GENESIS_TS + 2 N`` (Polygon's ~2 s blocks; the instant t lies in
block ``(t - POLYGON_GENESIS_TS) // 2``). The head block is the one holding ``as_of`` and reports ``timestamp =
as_of`` (``_meta`` without ``block``). ``block: {number: N}`` on any entity field (and on ``_meta``) answers with the
state at block N's timestamp, ``_meta`` reporting N and that timestamp; N = head is the head state.
``block: {number_gte: N}`` answers at the head when N <= head. N > head, for either form, is graph-node's error
(text from graph-node issue #4750): "Failed to decode `block.number` value: `subgraph Qm... has only indexed up to
block number H and data for block number N is therefore not yet available`". ``block: {hash: ...}`` is refused
with a clear error (this fake keeps no block hashes). Each field of a query may read its own block. The tables of
the last ``SNAPSHOTS`` instants asked for are kept.

Query subset (graph-node semantics and error texts where it matters):

- Arguments of plural fields: ``first`` (default 100, 0..1000, else "The `first` argument must be between 0
  and 1000, but is N"), ``skip`` (0..5000: pushes clients to keyset paging), ``orderBy`` (any field),
  ``orderDirection`` (asc/desc; without ``orderBy`` it applies to ``id``), ``where``, ``block`` (above) and
  ``subgraphError`` (accepted, ignored).
- ``where``: ``field`` (equality), ``_not``, ``_gt``, ``_lt``, ``_gte``, ``_lte``, ``_in``, ``_not_in`` on every
  field, ``_contains``/``_starts_with``/``_ends_with`` on ID/String fields, ``and: [...]``/``or: [...]``;
  ``_change_block`` is ignored. BigInt filters compare as integers, BigDecimal ones exactly in decimal.
  Unknown filter key: "Type `Orderbook_filter` has no field `x`". A ``null`` value is an error except for
  equality (matches nothing, all fields are non-null) and ``_not`` (matches everything).
- Selections: unknown field: "Type `Orderbook` has no field `x`"; ``__typename`` everywhere; aliases.
- Variables with declared types (``query Q($ids: [String!], $last: String)``), defaults, required checks.
- Order: ids compare as strings (code point order), as graph-node does for ``ID`` (= String) columns; for the
  ``0x``-hex condition ids that is also byte order. Ties of ``orderBy`` break on ``id`` in the same direction, so
  ``orderDirection: desc`` is the exact reverse of ``asc``, and keyset paging on ``id_gt`` (or ``id_lt`` with
  desc) enumerates every entity exactly once.
- Not supported: fragments, directives, mutations, introspection, relation fields, ``OrderFilledEvent`` and the
  other event entities.

HTTP: GraphQL-level problems answer 200 ``{"errors": [{"message", "locations"?}]}`` like graph-node; a body that is
not a JSON object with a string ``query`` answers 400 with the same envelope; an unknown deployment 404.

Speed: tables are built per (instant, deployment) on first use, off the event loop (columns as numpy arrays
sorted by id, each column's value strings rendered when first selected), so a 1000-row page is a few vectorised
comparisons and a list comprehension; a new block costs a table build (about 0.2 s per 20,000 markets).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import numpy as np
from aiohttp import web

from mca_sandbox.appkeys import STATE, WORLD
from mca_sandbox.graphql import EnumValue, Field, GraphQLError, coerce_variables, parse, resolve_value
from mca_sandbox.render import catalog, venue
from mca_sandbox.world import World

USDC = 10**6  # USDC and outcome tokens have 6 decimals
MAX_FIRST = 1000
MAX_SKIP = 5000
DEFAULT_FIRST = 100
#: Gamma shows markets with less simulated volume as zero-volume (mca_sandbox/render.py): here they never traded.
DUST_VOLUME_USD = 100.0
POLYGON_GENESIS_TS = 1_590_824_836  # block N is at POLYGON_GENESIS_TS + 2 N (Polygon: ~2 s blocks)
POLYGON_BLOCK_SECONDS = 2
SNAPSHOTS = 8  # instants whose tables are kept (the head and the last blocks asked for)
_I64 = (-(2**63), 2**63 - 1)
_COLLECTION_ARGS = frozenset({"first", "skip", "orderBy", "orderDirection", "where", "block", "subgraphError"})
_SINGLE_ARGS = frozenset({"id", "block", "subgraphError"})
_OPS = sorted(
    ("", "_not", "_gt", "_lt", "_gte", "_lte", "_in", "_not_in", "_contains", "_starts_with", "_ends_with"),
    key=len,
    reverse=True,
)
_STRING_ONLY_OPS = frozenset({"_contains", "_starts_with", "_ends_with"})


# --- tables ------------------------------------------------------------------------------------------------


@dataclass
class Column:
    """One entity field: ``values`` in id order (strings, or int64 for BigInt; micro-units for BigDecimal)."""

    name: str
    gql_type: str  # "ID!", "String!", "BigInt!", "BigDecimal!"
    values: np.ndarray
    _text: list[str] | None = field(default=None, repr=False)
    _ascending: np.ndarray | None = field(default=None, repr=False)

    @property
    def text(self) -> list[str]:
        """Every value as served, rendered on first use (a time-travel query renders only what it selects)."""
        if self._text is None:
            if self.kind == "string":
                self._text = self.values.tolist()
            elif self.kind == "bigint":
                self._text = self.values.astype(str).tolist()
            else:
                self._text = scaled_texts(self.values)
        return self._text

    @property
    def kind(self) -> str:
        return {"ID!": "string", "String!": "string", "BigInt!": "bigint", "BigDecimal!": "bigdecimal"}[self.gql_type]

    def ascending(self) -> np.ndarray:
        """Row order by this field ascending, ties by id ascending (rows are stored in id order)."""
        if self._ascending is None:
            if self.name == "id":
                self._ascending = np.arange(self.values.size)
            else:
                self._ascending = np.argsort(self.values, kind="stable")
        return self._ascending


@dataclass
class Table:
    type_name: str
    columns: dict[str, Column]
    index: dict[str, int]

    @property
    def ids(self) -> np.ndarray:
        return self.columns["id"].values

    def row(self, entity_id: str) -> dict[str, str] | None:
        i = self.index.get(entity_id)
        if i is None:
            return None
        return {name: col.text[i] for name, col in self.columns.items()}


def make_table(type_name: str, ids: list[str], fields: dict[str, tuple[str, Any]]) -> Table:
    """A table from unsorted rows, sorted here once by id (code point order, as Python and numpy compare)."""
    id_array = np.array(ids, dtype=str) if ids else np.empty(0, dtype="<U1")
    order = np.argsort(id_array, kind="stable")
    columns = {"id": Column("id", "ID!", id_array[order])}
    for name, (gql_type, values) in fields.items():
        if gql_type in ("ID!", "String!"):
            array = np.array(values, dtype=str)[order]
        else:
            array = np.asarray(values, dtype=np.int64)[order]
        columns[name] = Column(name, gql_type, array)
    return Table(type_name, columns, {entity_id: i for i, entity_id in enumerate(columns["id"].text)})


def scaled_texts(raw: np.ndarray) -> list[str]:
    """BigDecimal texts of micro-units ``raw / 1e6``, normalised like graph-node ("12.5", "0", "3")."""
    magnitude = np.abs(raw)
    whole = (magnitude // USDC).astype(str)
    frac = np.strings.rstrip(np.strings.zfill((magnitude % USDC).astype(str), 6), "0")
    text = np.where(frac == "", whole, np.strings.add(np.strings.add(whole, "."), frac))
    return np.where(raw < 0, np.strings.add("-", text), text).tolist()


@dataclass
class Deployment:
    name: str  # "oi-subgraph/0.0.6"
    tables: dict[str, Table]
    meta: dict[str, Any]
    plural: dict[str, str] = field(init=False)
    single: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.single = {t[0].lower() + t[1:]: t for t in self.tables}
        self.plural = {name + "s": t for name, t in self.single.items()}


# --- the world's figures -----------------------------------------------------------------------------------


@dataclass
class MarketFigures:
    """Per market indexed at one instant (created by then), in micro-USDC and counts: what both deployments
    derive from."""

    ts: int
    markets: np.ndarray  # world market indices
    conditions: list[str]
    yes_tokens: list[str]
    no_tokens: list[str]
    open_interest: np.ndarray
    traded: np.ndarray  # bool: has Orderbook entities (Gamma shows a volume, i.e. not dust)
    volume: np.ndarray  # [k, 2]: YES, NO
    buy_volume: np.ndarray  # [k, 2]
    trades: np.ndarray  # [k, 2]
    buys: np.ndarray  # [k, 2]

    @classmethod
    def from_world(cls, world: World, ts: int) -> MarketFigures:
        """The figures at ``ts``: every split uses floors of static shares, so each count never decreases in time."""
        cfg = world.config
        n = world.n_markets
        rng = np.random.default_rng([cfg.seed, 0x5B6])  # sequential draws: the same per market whatever n
        yes_share = rng.uniform(0.3, 0.7, n)
        buy_share = rng.uniform(0.4, 0.7, (n, 2))
        markets = np.flatnonzero(world.event_created[world.market_event] <= ts)
        flows = world.flows_at(np.full(n, ts, dtype=np.int64))
        volume_usd = np.round(flows.volume, 6)[markets]  # exactly what Gamma shows at ts
        total_volume = np.round(volume_usd * USDC).astype(np.int64)
        share = yes_share[markets]
        yes_volume = np.floor(total_volume * share).astype(np.int64)
        volume = np.stack([yes_volume, total_volume - yes_volume], axis=1)
        buy_volume = np.floor(volume * buy_share[markets]).astype(np.int64)
        total_trades = np.maximum(4, np.ceil(flows.trades[markets])).astype(np.int64)
        yes_trades = np.clip(np.floor(total_trades * share).astype(np.int64), 2, total_trades - 2)
        trades = np.stack([yes_trades, total_trades - yes_trades], axis=1)
        buys = np.clip(np.floor(trades * buy_share[markets]).astype(np.int64), 1, trades - 1)
        ids = catalog(world)
        open_interest = np.round(np.round(flows.open_interest, 6)[markets] * USDC).astype(np.int64)
        return cls(
            ts=ts,
            markets=markets,
            conditions=[ids.condition_ids[m] for m in markets.tolist()],
            yes_tokens=[ids.yes_tokens[m] for m in markets.tolist()],
            no_tokens=[ids.no_tokens[m] for m in markets.tolist()],
            open_interest=open_interest,  # 0 once closed
            traded=volume_usd >= DUST_VOLUME_USD,
            volume=volume,
            buy_volume=buy_volume,
            trades=trades,
            buys=buys,
        )


def block_number(ts: int) -> int:
    """The Polygon block whose time span holds ``ts``: blocks every 2 s from POLYGON_GENESIS_TS."""
    return (ts - POLYGON_GENESIS_TS) // POLYGON_BLOCK_SECONDS


def block_ts(number: int) -> int:
    return POLYGON_GENESIS_TS + number * POLYGON_BLOCK_SECONDS


def deployment_hash(world: World, name: str) -> str:
    digest = hashlib.sha256(f"{world.config.seed}:{name}".encode()).digest()
    return "Qm" + _base58(digest)[:44]


def _meta(world: World, name: str, ts: int) -> dict[str, Any]:
    number = block_number(ts)
    block_hash = "0x" + hashlib.sha256(f"{world.config.seed}:block:{number}".encode()).hexdigest()
    return {
        "block": {"number": number, "hash": block_hash, "timestamp": ts, "parentHash": None},
        "deployment": deployment_hash(world, name),
        "hasIndexingErrors": False,
    }


def _base58(data: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    value, out = int.from_bytes(data, "big"), []
    while value:
        value, rem = divmod(value, 58)
        out.append(alphabet[rem])
    return "".join(reversed(out)) or "1"


def _build_oi(world: World, fig: MarketFigures) -> Deployment:
    name = "oi-subgraph/0.0.6"
    oi = make_table("MarketOpenInterest", fig.conditions, {"amount": ("BigInt!", fig.open_interest)})
    total = int(sum(fig.open_interest.tolist()))  # exact, in Python ints
    global_oi = make_table("GlobalOpenInterest", [""], {"amount": ("BigInt!", [total])})
    conditions = make_table("Condition", fig.conditions, {})
    tables = {t.type_name: t for t in (oi, global_oi, conditions)}
    return Deployment(name, tables, _meta(world, name, fig.ts))


_ORDERBOOK_FIELDS = (
    "tradesQuantity",
    "buysQuantity",
    "sellsQuantity",
    "collateralVolume",
    "scaledCollateralVolume",
    "collateralBuyVolume",
    "scaledCollateralBuyVolume",
    "collateralSellVolume",
    "scaledCollateralSellVolume",
)


def _orderbook_fields(trades, buys, volume, buy_volume) -> dict[str, tuple[str, Any]]:
    sells, sell_volume = trades - buys, volume - buy_volume
    return {
        "tradesQuantity": ("BigInt!", trades),
        "buysQuantity": ("BigInt!", buys),
        "sellsQuantity": ("BigInt!", sells),
        "collateralVolume": ("BigInt!", volume),
        "scaledCollateralVolume": ("BigDecimal!", volume),
        "collateralBuyVolume": ("BigInt!", buy_volume),
        "scaledCollateralBuyVolume": ("BigDecimal!", buy_volume),
        "collateralSellVolume": ("BigInt!", sell_volume),
        "scaledCollateralSellVolume": ("BigDecimal!", sell_volume),
    }


def _build_orderbook(world: World, fig: MarketFigures) -> Deployment:
    name = "orderbook-subgraph/0.0.1"
    tokens = fig.yes_tokens + fig.no_tokens  # YES rows then NO rows
    traded = np.concatenate([fig.traded, fig.traded])
    columns = {
        key: np.concatenate([values[:, 0], values[:, 1]])[traded]
        for key, values in (("trades", fig.trades), ("buys", fig.buys), ("volume", fig.volume))
    }
    buy_volume = np.concatenate([fig.buy_volume[:, 0], fig.buy_volume[:, 1]])[traded]
    orderbooks = make_table(
        "Orderbook",
        [t for t, keep in zip(tokens, traded.tolist(), strict=True) if keep],
        _orderbook_fields(columns["trades"], columns["buys"], columns["volume"], buy_volume),
    )
    k = len(fig.conditions)
    market_data = make_table(
        "MarketData",
        tokens,
        {
            "condition": ("String!", fig.conditions + fig.conditions),
            "outcomeIndex": ("BigInt!", np.concatenate([np.zeros(k, np.int64), np.ones(k, np.int64)])),
        },
    )
    totals = {key: np.asarray([int(v.sum())], dtype=np.int64) for key, v in columns.items()}
    matched = make_table(
        "OrdersMatchedGlobal",
        [""],
        _orderbook_fields(
            totals["trades"], totals["buys"], totals["volume"], np.asarray([int(buy_volume.sum())], dtype=np.int64)
        ),
    )
    tables = {t.type_name: t for t in (orderbooks, market_data, matched)}
    return Deployment(name, tables, _meta(world, name, fig.ts))


BUILDERS: dict[str, Callable[[World, MarketFigures], Deployment]] = {
    "oi-subgraph/0.0.6": _build_oi,
    "orderbook-subgraph/0.0.1": _build_orderbook,
}


class Snapshot:
    """The deployments as indexed at one instant, each built on first use (thread-safe: built off the loop)."""

    def __init__(self, world: World, ts: int) -> None:
        self.world = world
        self.ts = ts
        self._lock = threading.Lock()
        self._figures: MarketFigures | None = None
        self._deployments: dict[str, Deployment] = {}
        self._by_condition: dict[str, int] | None = None

    @property
    def figures(self) -> MarketFigures:
        with self._lock:
            if self._figures is None:
                self._figures = MarketFigures.from_world(self.world, self.ts)
            return self._figures

    def is_built(self, name: str) -> bool:
        return name in self._deployments

    def deployment(self, name: str) -> Deployment:
        if name not in self._deployments:
            figures = self.figures
            with self._lock:
                if name not in self._deployments:
                    self._deployments[name] = BUILDERS[name](self.world, figures)
        return self._deployments[name]

    def condition_row(self, condition_id: str) -> int | None:
        if self._by_condition is None:
            self._by_condition = {c: i for i, c in enumerate(self.figures.conditions)}
        return self._by_condition.get(condition_id.lower())


class SubgraphState:
    """Snapshots of one world by instant: the head (the venue's current view) and the last blocks asked for."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()

    def at(self, ts: int) -> Snapshot:
        with self._lock:
            found = self._snapshots.get(ts)
            if found is None:
                found = self._snapshots[ts] = Snapshot(self.world, ts)
                while len(self._snapshots) > SNAPSHOTS:
                    self._snapshots.popitem(last=False)
            else:
                self._snapshots.move_to_end(ts)
            return found


def resolve_block(world: World, name: str, head_ts: int, block: Any) -> int:
    """The instant a query's ``block`` argument asks for (graph-node's ``Block_height``); raises GraphQLError."""
    if block is None:
        return head_ts
    head = block_number(head_ts)
    if not isinstance(block, dict) or not block:
        raise GraphQLError("Invalid value provided for argument `block`: expected `Block_height` ({number: Int})")
    unknown = sorted(set(block) - {"number", "number_gte", "hash"})
    if unknown:
        raise GraphQLError(f"Type `Block_height` has no field `{unknown[0]}`")
    if "hash" in block:
        raise GraphQLError("block hashes are not supported by this sandbox: use `block: {number: N}`")
    if len(block) != 1:
        raise GraphQLError("Invalid value provided for argument `block`: give one of `number` or `number_gte`")
    key, number = next(iter(block.items()))
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise GraphQLError(f"Invalid value provided for argument `block.{key}`: {number!r} is not a block number")
    if number > head:
        raise GraphQLError(
            f"Failed to decode `block.{key}` value: `subgraph {deployment_hash(world, name)} has only indexed up to "
            f"block number {head} and data for block number {number} is therefore not yet available`"
        )
    if key == "number_gte" or number == head:
        return head_ts
    return block_ts(number)


# --- execution ---------------------------------------------------------------------------------------------


Target = Deployment | Callable[[Any], Deployment]


def execute(
    target: Target,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> dict[str, Any]:
    """Run one query document; raises :class:`GraphQLError`.

    ``target`` is a deployment, or a function from a field's ``block`` argument (None when absent) to the
    deployment as indexed at that block, so every field of a query may read another block.
    """
    operation = parse(query).operation(operation_name)
    values = coerce_variables(operation, variables)
    declared = {v.name for v in operation.variables}
    data: dict[str, Any] = {}
    for fld in operation.selections:
        args = resolve_value(fld.arguments, values, declared)
        if fld.name == "__typename":
            data[fld.key] = "Query"
            continue
        deployment = target if isinstance(target, Deployment) else target(args.get("block"))
        if fld.name == "_meta":
            _check_args(fld, args, frozenset({"block"}))
            data[fld.key] = _render_static(deployment.meta, fld, "_Meta_")
        elif fld.name in deployment.plural:
            table = deployment.tables[deployment.plural[fld.name]]
            _check_args(fld, args, _COLLECTION_ARGS)
            renderer = _renderer(table, fld)
            data[fld.key] = renderer(_select_rows(table, args))
        elif fld.name in deployment.single:
            table = deployment.tables[deployment.single[fld.name]]
            _check_args(fld, args, _SINGLE_ARGS)
            renderer = _renderer(table, fld)
            entity_id = args.get("id")
            if entity_id is None or isinstance(entity_id, bool) or not isinstance(entity_id, str | int):
                raise GraphQLError(
                    f"Argument `id` of field `{fld.name}` is required and must be an ID.", fld.line, fld.column
                )
            row = table.index.get(str(entity_id))
            data[fld.key] = None if row is None else renderer(np.asarray([row]))[0]
        else:
            raise GraphQLError(f"Type `Query` has no field `{fld.name}`", fld.line, fld.column)
    return data


def _check_args(fld: Field, args: dict[str, Any], allowed: frozenset[str]) -> None:
    for name in args:
        if name not in allowed:
            raise GraphQLError(f"Unknown argument `{name}` on field `Query.{fld.name}`", fld.line, fld.column)


def _renderer(table: Table, fld: Field) -> Callable[[np.ndarray], list[dict[str, Any]]]:
    """Validate the selection set now (even if no row matches) and return the row renderer."""
    if fld.selections is None:
        raise GraphQLError(
            f"Field `{fld.name}` of type `{table.type_name}` must have a selection of subfields.",
            fld.line,
            fld.column,
        )
    keys: list[str] = []
    texts: list[list[str] | None] = []
    for sel in fld.selections:
        if sel.name == "__typename":
            keys.append(sel.key)
            texts.append(None)
            continue
        column = table.columns.get(sel.name)
        if column is None:
            raise GraphQLError(f"Type `{table.type_name}` has no field `{sel.name}`", sel.line, sel.column)
        if sel.selections is not None:
            raise GraphQLError(
                f"Field `{sel.name}` must not have a selection since type `{column.gql_type}` has no subfields.",
                sel.line,
                sel.column,
            )
        if sel.arguments:
            name = next(iter(sel.arguments))
            raise GraphQLError(
                f"Unknown argument `{name}` on field `{table.type_name}.{sel.name}`", sel.line, sel.column
            )
        keys.append(sel.key)
        texts.append(column.text)

    def render(rows: np.ndarray) -> list[dict[str, Any]]:
        idx = rows.tolist()
        cols = [[table.type_name] * len(idx) if t is None else [t[i] for i in idx] for t in texts]
        return [dict(zip(keys, vals, strict=True)) for vals in zip(*cols, strict=True)]

    return render


def _render_static(obj: dict[str, Any], fld: Field, type_name: str) -> dict[str, Any]:
    if fld.selections is None:
        raise GraphQLError(f"Field `{fld.name}` must have a selection of subfields.", fld.line, fld.column)
    out: dict[str, Any] = {}
    for sel in fld.selections:
        if sel.name == "__typename":
            out[sel.key] = type_name
        elif sel.name not in obj:
            raise GraphQLError(f"Type `{type_name}` has no field `{sel.name}`", sel.line, sel.column)
        elif isinstance(obj[sel.name], dict):
            out[sel.key] = _render_static(obj[sel.name], sel, "_Block_")
        elif sel.selections is not None:
            raise GraphQLError(f"Field `{sel.name}` must not have a selection.", sel.line, sel.column)
        else:
            out[sel.key] = obj[sel.name]
    return out


def _arg_int(args: dict[str, Any], name: str, default: int, upper: int) -> int:
    value = args.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError(f"Invalid value provided for argument `{name}`: {value!r} is not an Int")
    if not 0 <= value <= upper:
        raise GraphQLError(f"The `{name}` argument must be between 0 and {upper}, but is {value}")
    return value


def _enum(value: Any) -> Any:
    return value.value if isinstance(value, EnumValue) else value


def _select_rows(table: Table, args: dict[str, Any]) -> np.ndarray:
    """Row indices of one page: filter, order (ties by id), skip, first."""
    first = _arg_int(args, "first", DEFAULT_FIRST, MAX_FIRST)
    skip = _arg_int(args, "skip", 0, MAX_SKIP)
    order_by = _enum(args.get("orderBy")) or "id"
    if not isinstance(order_by, str) or order_by not in table.columns:
        raise GraphQLError(
            f"Invalid value provided for argument `orderBy`: `{order_by}` is not a field of `{table.type_name}`"
        )
    direction = _enum(args.get("orderDirection")) or "asc"
    if direction not in ("asc", "desc"):
        raise GraphQLError(f"Invalid value provided for argument `orderDirection`: `{direction}` (asc or desc)")
    where = args.get("where")
    if where is not None and not isinstance(where, dict):
        raise GraphQLError(f"Invalid value provided for argument `where`: expected `{table.type_name}_filter`")
    mask = _filter(table, where) if where else None
    order = table.columns[order_by].ascending()
    if direction == "desc":
        order = order[::-1]
    if mask is not None:
        order = order[mask[order]]
    return order[skip : skip + first]


def _filter(table: Table, where: dict[str, Any]) -> np.ndarray | None:
    """Boolean mask over rows (None = no constraint) for a ``where`` object; keys are ANDed."""
    mask: np.ndarray | None = None

    def conj(m: np.ndarray | None) -> None:
        nonlocal mask
        if m is not None:
            mask = m if mask is None else mask & m

    for key, value in where.items():
        if key == "_change_block":
            continue
        if key in ("and", "or"):
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(i, dict) for i in items):
                raise GraphQLError(f"Invalid value provided for filter `{key}`: expected a list of filters")
            parts = [_filter(table, item) for item in items]
            full = np.ones(len(table.index), dtype=bool)
            parts = [full if p is None else p for p in parts]
            if not parts:
                continue
            conj(np.logical_and.reduce(parts) if key == "and" else np.logical_or.reduce(parts))
            continue
        column, op = _split_filter_key(table, key)
        conj(_compare(table, column, op, value, key))
    return mask


def _split_filter_key(table: Table, key: str) -> tuple[Column, str]:
    for op in _OPS:
        name = key[: len(key) - len(op)] if op else key
        if key.endswith(op) and name in table.columns:
            column = table.columns[name]
            if op in _STRING_ONLY_OPS and column.kind != "string":
                break
            return column, op
    raise GraphQLError(f"Type `{table.type_name}_filter` has no field `{key}`")


def _compare(table: Table, column: Column, op: str, value: Any, key: str) -> np.ndarray:
    n = len(table.index)
    if value is None:
        if op == "":
            return np.zeros(n, dtype=bool)  # every field is non-null
        if op == "_not":
            return np.ones(n, dtype=bool)
        raise GraphQLError(f"Null value for filter `{key}` is not supported; omit the filter instead")
    if op in ("_in", "_not_in"):
        items = value if isinstance(value, list) else [value]
        if any(item is None for item in items):
            raise GraphQLError(f"Invalid value provided for filter `{key}`: null in the list")
        hit = _isin(table, column, [_operand(column, item, key) for item in items])
        return hit if op == "_in" else ~hit
    operand = _operand(column, value, key)
    values = column.values
    if column.kind == "bigdecimal":
        return _decimal_compare(values, op, operand)
    if column.kind == "bigint":
        operand = min(max(operand, _I64[0]), _I64[1])
    if op == "":
        if column.name == "id":
            return _rows_mask(n, [table.index.get(operand)])
        return values == operand
    if op == "_not":
        return values != operand
    if op == "_gt":
        return values > operand
    if op == "_lt":
        return values < operand
    if op == "_gte":
        return values >= operand
    if op == "_lte":
        return values <= operand
    if op == "_contains":
        return np.char.find(values, operand) >= 0
    if op == "_starts_with":
        return np.char.startswith(values, operand)
    return np.char.endswith(values, operand)  # _ends_with


def _rows_mask(n: int, rows: list[int | None]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    hits = [r for r in rows if r is not None]
    if hits:
        mask[np.asarray(hits)] = True
    return mask


def _isin(table: Table, column: Column, operands: list[Any]) -> np.ndarray:
    n = len(table.index)
    if column.name == "id":
        return _rows_mask(n, [table.index.get(o) for o in operands])
    if column.kind == "bigdecimal":
        exact = [int(o) for o in operands if o == o.to_integral_value()]
        return np.isin(column.values, [v for v in exact if _I64[0] <= v <= _I64[1]])
    if column.kind == "bigint":
        return np.isin(column.values, [v for v in operands if _I64[0] <= v <= _I64[1]])
    return np.isin(column.values, operands)


def _operand(column: Column, value: Any, key: str) -> Any:
    """A filter value in the column's terms: str, int, or Decimal in micro-units for BigDecimal."""
    bad = GraphQLError(f"Invalid value provided for filter `{key}`: {value!r} is not a valid {column.gql_type[:-1]}")
    if isinstance(value, bool | dict | list):
        raise bad
    if column.kind == "string":
        if column.gql_type == "ID!" and isinstance(value, int):
            return str(value)
        if not isinstance(value, str):
            raise bad
        return value
    if column.kind == "bigint":
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    try:
        number = Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise bad
    return number * USDC


def _decimal_compare(values: np.ndarray, op: str, target: Decimal) -> np.ndarray:
    """Exact comparisons of micro-unit integers with a decimal target (floor/ceil, no float rounding)."""
    lo = min(max(math.floor(target), _I64[0]), _I64[1])
    hi = min(max(math.ceil(target), _I64[0]), _I64[1])
    integral = lo == hi
    if op == "":
        return values == lo if integral else np.zeros(values.size, dtype=bool)
    if op == "_not":
        return values != lo if integral else np.ones(values.size, dtype=bool)
    if op == "_gt":
        return values > lo
    if op == "_gte":
        return values >= hi
    if op == "_lt":
        return values < hi
    return values <= lo  # _lte


# --- HTTP --------------------------------------------------------------------------------------------------

_encoder = msgspec.json.Encoder()


def _state(app: web.Application) -> SubgraphState:
    state = app[STATE]
    if "subgraph" not in state:
        state["subgraph"] = SubgraphState(app[WORLD])
    return state["subgraph"]


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(payload), status=status, content_type="application/json")


def _error(message: str, status: int) -> web.Response:
    return _json({"errors": [{"message": message}]}, status)


async def subgraph_query(request: web.Request) -> web.Response:
    name = f"{request.match_info['name']}/{request.match_info['version']}"
    if name not in BUILDERS:
        return _error(f"Subgraph `{name}` not found (deployed: {', '.join(sorted(BUILDERS))})", 404)
    state = _state(request.app)
    head_ts = venue(request.app).as_of
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(f"The request body is not valid JSON: {exc}", 400)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _error('The request body must be a JSON object with a string "query"', 400)
    variables = body.get("variables")
    operation_name = body.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return _error('"variables" must be a JSON object', 400)
    if operation_name is not None and not isinstance(operation_name, str):
        return _error('"operationName" must be a string', 400)
    world = state.world

    def at_block(block: Any) -> Deployment:
        return state.at(resolve_block(world, name, head_ts, block)).deployment(name)

    def run() -> dict[str, Any]:
        return execute(at_block, body["query"], variables, operation_name)

    try:
        if state.at(head_ts).is_built(name) and "block" not in body["query"]:
            data = run()
        else:  # tables to build (~0.5 s for 20,000 markets): keep the loop serving meanwhile
            data = await asyncio.to_thread(run)
    except GraphQLError as exc:
        return _json({"errors": [exc.as_dict()]})
    return _json({"data": data})


def truth_for_condition(state: SubgraphState, condition_id: str, ts: int) -> dict[str, Any] | None:
    """Exactly what the deployments serve for one market at ``ts`` (every entity that carries it), or None."""
    snapshot = state.at(ts)
    i = snapshot.condition_row(condition_id)
    if i is None:
        return None
    fig = snapshot.figures
    m = int(fig.markets[i])
    oi, books = snapshot.deployment("oi-subgraph/0.0.6"), snapshot.deployment("orderbook-subgraph/0.0.1")
    cid = fig.conditions[i]
    tokens = [fig.yes_tokens[i], fig.no_tokens[i]]
    return {
        "condition_id": cid,
        "market_id": state.world.market_id(m),
        "ts": ts,
        "block_number": block_number(ts),
        "yes_token_id": tokens[0],
        "no_token_id": tokens[1],
        "marketOpenInterest": oi.tables["MarketOpenInterest"].row(cid),
        "orderbooks": [row for t in tokens if (row := books.tables["Orderbook"].row(t)) is not None],
        "marketDatas": [books.tables["MarketData"].row(t) for t in tokens],
    }


def _truth_ts(request: web.Request) -> int:
    head = venue(request.app).as_of
    raw = request.query.get("ts")
    if raw is None or raw == "":
        return head
    try:
        ts = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"ts must be an integer (unix seconds), got {raw!r}") from None
    if not 0 <= ts <= head:
        raise web.HTTPBadRequest(reason=f"ts must be between 0 and the venue's as_of ({head}), got {ts}")
    return ts


async def truth_condition(request: web.Request) -> web.Response:
    state = _state(request.app)
    ts = _truth_ts(request)
    truth = await asyncio.to_thread(truth_for_condition, state, request.match_info["condition_id"], ts)
    if truth is None:
        return _json({"error": "condition not indexed at that time (unknown, or created later)"}, 404)
    return _json(truth)


async def truth_summary(request: web.Request) -> web.Response:
    state = _state(request.app)
    ts = _truth_ts(request)
    snapshot = state.at(ts)
    deployments = {name: await asyncio.to_thread(snapshot.deployment, name) for name in BUILDERS}
    oi, books = deployments["oi-subgraph/0.0.6"], deployments["orderbook-subgraph/0.0.1"]
    return _json(
        {
            "ts": ts,
            "block_number": block_number(ts),
            "deployments": {
                name: {t: len(table.index) for t, table in dep.tables.items()} for name, dep in deployments.items()
            },
            "globalOpenInterest": oi.tables["GlobalOpenInterest"].row(""),
            "ordersMatchedGlobal": books.tables["OrdersMatchedGlobal"].row(""),
        }
    )


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_post("/subgraphs/{name}/{version}/gn", subgraph_query, name="subgraph")
    app.router.add_get("/_truth/subgraph", truth_summary, name="_truth.subgraph_summary")
    app.router.add_get("/_truth/subgraph/{condition_id}", truth_condition, name="_truth.subgraph")
