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

Values, as of the world's ``as_of`` (markets created later are not indexed yet):

- ``collateralVolume`` of a market's two tokens sums exactly to Gamma's volume in micro-USDC
  (``round(market_volume * 1e6)``); the YES share is a seeded draw in [0.3, 0.7], and each token's buy share one
  in [0.4, 0.7]; buy + sell = total, always. Markets Gamma shows as zero-volume (under 100 USD simulated) never
  traded: their tokens have ``MarketData`` but no ``Orderbook`` (graph-node creates it on the first fill).
- Trades: ``max(4, ceil(trades_per_day * days traded so far))`` per market, split between the tokens like the
  volume (each token at least 2 trades), buys + sells = trades with at least one of each.
- Open interest: ``round(market_open_interest * 1e6)`` while the market is live, 0 once it is closed (resolved,
  void or stuck unresolved), so a live event's summed amounts equal Gamma's event ``openInterest`` (0 when closed).
- The exact served values of a market: ``GET /_truth/subgraph/{condition_id}``; entity counts and the global
  aggregates: ``GET /_truth/subgraph``.

Query subset (graph-node semantics and error texts where it matters):

- Arguments of plural fields: ``first`` (default 100, 0..1000, else "The `first` argument must be between 0
  and 1000, but is N"), ``skip`` (0..5000: pushes clients to keyset paging), ``orderBy`` (any field),
  ``orderDirection`` (asc/desc; without ``orderBy`` it applies to ``id``), ``where``, and ``block`` /
  ``subgraphError`` (accepted, ignored: the data does not change).
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

Speed: tables are built per deployment on first use (columns as numpy arrays sorted by id, value strings
rendered once), so a 1000-row page is a few vectorised comparisons and a list comprehension.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import numpy as np
from aiohttp import web

from mca_sandbox.appkeys import STATE, WORLD
from mca_sandbox.graphql import EnumValue, Field, GraphQLError, coerce_variables, parse, resolve_value
from mca_sandbox.world import DAY, LIVE, World

USDC = 10**6  # USDC and outcome tokens have 6 decimals
MAX_FIRST = 1000
MAX_SKIP = 5000
DEFAULT_FIRST = 100
#: Gamma shows markets with less simulated volume as zero-volume (mca_sandbox/render.py): here they never traded.
DUST_VOLUME_USD = 100.0
POLYGON_GENESIS_TS = 1_590_824_836  # for a plausible _meta.block.number (Polygon: ~2 s blocks)
POLYGON_BLOCK_SECONDS = 2
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
    text: list[str] = field(init=False, repr=False)  # every value as served, rendered once
    _ascending: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind == "string":
            self.text = self.values.tolist()
        elif self.kind == "bigint":
            self.text = self.values.astype(str).tolist()
        else:
            self.text = scaled_texts(self.values)

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
    """Per indexed market (created by as_of), in micro-USDC and counts: what both deployments derive from."""

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
    def from_world(cls, world: World) -> MarketFigures:
        cfg = world.config
        n = world.n_markets
        rng = np.random.default_rng([cfg.seed, 0x5B6])  # sequential draws: the same per market whatever n
        yes_share = rng.uniform(0.3, 0.7, n)
        buy_share = rng.uniform(0.4, 0.7, (n, 2))
        e = world.market_event
        created = world.event_created[e]
        markets = np.flatnonzero(created <= cfg.as_of_ts)
        traded_until = np.minimum(world.event_resolved[e], cfg.as_of_ts)
        days = np.maximum(traded_until - created, 0) / DAY
        total_trades = np.maximum(4, np.ceil(world.trades_per_day * days)).astype(np.int64)[markets]
        total_volume = np.round(world.market_volume * USDC).astype(np.int64)[markets]
        share = yes_share[markets]
        yes_volume = np.round(total_volume * share).astype(np.int64)
        volume = np.stack([yes_volume, total_volume - yes_volume], axis=1)
        buy_volume = np.round(volume * buy_share[markets]).astype(np.int64)
        yes_trades = np.clip(np.round(total_trades * share).astype(np.int64), 2, total_trades - 2)
        trades = np.stack([yes_trades, total_trades - yes_trades], axis=1)
        buys = np.clip(np.round(trades * buy_share[markets]).astype(np.int64), 1, trades - 1)
        tokens = [world.token_ids(int(m)) for m in markets]
        live = (world.market_label == LIVE)[markets]
        open_interest = np.round(world.market_open_interest * USDC).astype(np.int64)[markets]
        return cls(
            markets=markets,
            conditions=[world.condition_id(int(m)) for m in markets],
            yes_tokens=[t[0] for t in tokens],
            no_tokens=[t[1] for t in tokens],
            open_interest=np.where(live, open_interest, 0),
            traded=world.market_volume[markets] >= DUST_VOLUME_USD,
            volume=volume,
            buy_volume=buy_volume,
            trades=trades,
            buys=buys,
        )


def _meta(world: World, name: str) -> dict[str, Any]:
    as_of = world.config.as_of_ts
    number = (as_of - POLYGON_GENESIS_TS) // POLYGON_BLOCK_SECONDS
    digest = hashlib.sha256(f"{world.config.seed}:{name}".encode()).digest()
    block_hash = "0x" + hashlib.sha256(f"{world.config.seed}:block:{number}".encode()).hexdigest()
    return {
        "block": {"number": number, "hash": block_hash, "timestamp": as_of, "parentHash": None},
        "deployment": "Qm" + _base58(digest)[:44],
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
    return Deployment(name, tables, _meta(world, name))


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
    return Deployment(name, tables, _meta(world, name))


BUILDERS: dict[str, Callable[[World, MarketFigures], Deployment]] = {
    "oi-subgraph/0.0.6": _build_oi,
    "orderbook-subgraph/0.0.1": _build_orderbook,
}


class SubgraphState:
    """Deployments of one world, each built on first use (thread-safe: built off the event loop)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._lock = threading.Lock()
        self._figures: MarketFigures | None = None
        self._deployments: dict[str, Deployment] = {}
        self._by_condition: dict[str, int] | None = None

    @property
    def figures(self) -> MarketFigures:
        if self._figures is None:
            with self._lock:
                if self._figures is None:
                    self._figures = MarketFigures.from_world(self.world)
        return self._figures

    def is_built(self, name: str) -> bool:
        return name in self._deployments

    def deployment(self, name: str) -> Deployment | None:
        if name not in BUILDERS:
            return None
        if name not in self._deployments:
            figures = self.figures
            with self._lock:
                if name not in self._deployments:
                    self._deployments[name] = BUILDERS[name](self.world, figures)
        return self._deployments[name]

    def require(self, name: str) -> Deployment:
        deployment = self.deployment(name)
        if deployment is None:
            raise KeyError(name)
        return deployment

    def condition_row(self, condition_id: str) -> int | None:
        if self._by_condition is None:
            self._by_condition = {c: i for i, c in enumerate(self.figures.conditions)}
        return self._by_condition.get(condition_id.lower())


# --- execution ---------------------------------------------------------------------------------------------


def execute(
    deployment: Deployment,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> dict[str, Any]:
    """Run one query document against a deployment; raises :class:`GraphQLError`."""
    operation = parse(query).operation(operation_name)
    values = coerce_variables(operation, variables)
    declared = {v.name for v in operation.variables}
    data: dict[str, Any] = {}
    for fld in operation.selections:
        args = resolve_value(fld.arguments, values, declared)
        if fld.name == "__typename":
            data[fld.key] = "Query"
        elif fld.name == "_meta":
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
    state = _state(request.app)
    if state.is_built(name):
        deployment = state.deployment(name)
    else:  # the first query builds the tables (~0.5 s for 20,000 markets): keep the loop serving meanwhile
        deployment = await asyncio.to_thread(state.deployment, name)
    if deployment is None:
        return _error(f"Subgraph `{name}` not found (deployed: {', '.join(sorted(BUILDERS))})", 404)
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
    try:
        data = execute(deployment, body["query"], variables, operation_name)
    except GraphQLError as exc:
        return _json({"errors": [exc.as_dict()]})
    return _json({"data": data})


def truth_for_condition(state: SubgraphState, condition_id: str) -> dict[str, Any] | None:
    """Exactly what the deployments serve for one market (every entity that carries it), or None."""
    i = state.condition_row(condition_id)
    if i is None:
        return None
    fig = state.figures
    m = int(fig.markets[i])
    oi, books = state.require("oi-subgraph/0.0.6"), state.require("orderbook-subgraph/0.0.1")
    cid = fig.conditions[i]
    tokens = [fig.yes_tokens[i], fig.no_tokens[i]]
    return {
        "condition_id": cid,
        "market_id": state.world.market_id(m),
        "as_of_ts": state.world.config.as_of_ts,
        "yes_token_id": tokens[0],
        "no_token_id": tokens[1],
        "marketOpenInterest": oi.tables["MarketOpenInterest"].row(cid),
        "orderbooks": [row for t in tokens if (row := books.tables["Orderbook"].row(t)) is not None],
        "marketDatas": [books.tables["MarketData"].row(t) for t in tokens],
    }


async def truth_condition(request: web.Request) -> web.Response:
    state = _state(request.app)
    truth = await asyncio.to_thread(truth_for_condition, state, request.match_info["condition_id"])
    if truth is None:
        return _json({"error": "condition not indexed (unknown, or created after as_of)"}, 404)
    return _json(truth)


async def truth_summary(request: web.Request) -> web.Response:
    state = _state(request.app)
    deployments = {name: await asyncio.to_thread(state.require, name) for name in BUILDERS}
    oi, books = deployments["oi-subgraph/0.0.6"], deployments["orderbook-subgraph/0.0.1"]
    return _json(
        {
            "as_of_ts": state.world.config.as_of_ts,
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
