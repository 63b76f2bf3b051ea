"""Subgraph client: open interest, volume and trade counts per market, over GraphQL POST.

Queries live as template files in ``mca_resources/queries/``. Whole-entity crawls use keyset pagination on
``id_gt`` (graph-node caps ``first`` at 1000 and deep ``skip`` is slow or refused). Lookups by id go in chunks;
a chunk that fails is reported with its ids and the reason, while the other chunks' rows are kept, so a caller
sees exactly what is missing instead of a silently short result. GraphQL ``errors`` raise `GraphQLError`.

Time travel (graph-node's ``block: {number: N}``): the state of the subgraphs at an instant. Polygon has no fixed
block time (about 2 s), so `SubgraphClient.blocks_at` finds the blocks of a set of instants from two anchors whose
timestamps it reads back (``_meta(block: ...)``), refined a few times, and interpolates between them; every
by-id query also reads the timestamp of the block it was answered at, so a row says exactly which instant it is.

Note (reference/polymarket.md §0): Polymarket's legacy Goldsky subgraphs stopped indexing completely after the
2026-04-28 exchange migration, so these figures are historical for real data; the sandbox serves them for any date.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

from mca_core.onchain import market_activity
from mca_resources.errors import GraphQLError, InvalidResponse, UpstreamError
from mca_resources.http import HttpUpstream

OI_SUBGRAPH = "oi-subgraph/0.0.6"
ORDERBOOK_SUBGRAPH = "orderbook-subgraph/0.0.1"
PAGE_SIZE = 1000
IDS_PER_CHUNK = 500  # ids per by-id query (graph-node caps `first` at 1000)
#: Polygon's typical block time: the first guess when looking for the block of an instant.
ASSUMED_BLOCK_S = 2.0
BLOCK_SEARCH_STEPS = 4


@cache
def query(name: str) -> str:
    """The GraphQL text of ``queries/<name>.graphql``."""
    return resources.files("mca_resources").joinpath("queries", f"{name}.graphql").read_text()


@dataclass(frozen=True)
class MarketTokens:
    """What the subgraphs need to know about a market: its condition id and its two token ids."""

    condition_id: str
    yes_token_id: str
    no_token_id: str


@dataclass(frozen=True)
class SubgraphMetrics:
    """One market's on-chain activity, keyed by condition id; None where the subgraph had no entity."""

    condition_id: str
    open_interest_usd: float | None
    volume_usd: float | None
    trade_count: int | None


@dataclass(frozen=True)
class ChunkFailure:
    """A chunk of ids whose query failed, and why."""

    subgraph: str
    ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Block:
    """A block and its timestamp (unix seconds), as the subgraph reports it."""

    number: int
    timestamp: int


@dataclass
class SubgraphReport:
    rows: list[SubgraphMetrics] = field(default_factory=list)
    failures: list[ChunkFailure] = field(default_factory=list)
    block: Block | None = None  # the block the rows describe (None: the head, not read back)

    @property
    def complete(self) -> bool:
        return not self.failures


class SubgraphClient:
    """GraphQL over POST to ``<base>/<name>/<version>/gn`` (base = ``MCA_SUBGRAPH_URL``)."""

    def __init__(self, http: HttpUpstream, *, chunk_concurrency: int = 4) -> None:
        self.http = http
        self._chunks = asyncio.Semaphore(chunk_concurrency)

    async def execute(self, subgraph: str, name: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        """Run one templated query; GraphQL errors raise `GraphQLError`, a body without ``data`` `InvalidResponse`."""
        body = await self.http.request_json(
            "POST",
            f"/{subgraph}/gn",
            source="subgraph",
            what=what,
            json_body={"query": query(name), "variables": variables},
            limit_keys=("subgraph",),
        )
        if not isinstance(body, dict):
            raise InvalidResponse("GraphQL response is not an object", what=what)
        if body.get("errors"):
            messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in body["errors"]]
            raise GraphQLError(messages, what=what)
        data = body.get("data")
        if not isinstance(data, dict):
            raise InvalidResponse("GraphQL response without data", what=what)
        return data

    async def pages(self, subgraph: str, name: str, entity: str) -> AsyncIterator[list[dict[str, Any]]]:
        """Every entity of a kind, a page at a time, by keyset on ``id_gt``."""
        last = ""
        page_no = 0
        while True:
            page_no += 1
            data = await self.execute(
                subgraph, name, {"last": last, "first": PAGE_SIZE}, f"{entity} page {page_no} (id_gt={last[:20]})"
            )
            rows = data.get(entity)
            if not isinstance(rows, list):
                raise InvalidResponse(f"no '{entity}' list in page {page_no}")
            if not rows:
                return
            yield rows
            if len(rows) < PAGE_SIZE:
                return
            last = str(rows[-1]["id"])

    async def block(self, number: int | None = None) -> Block:
        """Block ``number`` with its timestamp, or the head (the block indexed up to) when None."""
        what = "head block" if number is None else f"block {number}"
        data = await self.execute(OI_SUBGRAPH, "head_block", {"block": _height(number)}, what)
        return _block_of(data, what)

    async def blocks_at(self, times: Sequence[int]) -> dict[int, Block]:
        """For each instant (unix seconds, not after the head), the last block at or before it.

        Two anchors (the earliest and latest instant) are located by reading block timestamps back and stepping at
        the rate seen so far; the other instants are interpolated between them.
        """
        head = await self.block()
        late = [t for t in times if t > head.timestamp]
        if late:
            raise ValueError(f"instants after the head block ({head.timestamp}): {late[:3]}")
        if not times:
            return {}
        anchors = [await self._anchor(target, head) for target in sorted({min(times), max(times)})]
        first, last = anchors[0], anchors[-1]
        rate = (
            (last.timestamp - first.timestamp) / (last.number - first.number)
            if last.number > first.number
            else ASSUMED_BLOCK_S
        )
        out = {}
        for t in times:
            number = min(head.number, first.number + math.floor((t - first.timestamp) / rate))
            out[t] = Block(number, first.timestamp + round((number - first.number) * rate))
        return out

    async def _anchor(self, target: int, head: Block) -> Block:
        """The last block at or before ``target``: guess from the head, read its time back, step, a few times."""
        rate = ASSUMED_BLOCK_S
        number = head.number - math.ceil((head.timestamp - target) / rate)
        found = head
        for _ in range(BLOCK_SEARCH_STEPS):
            found = await self.block(max(0, min(head.number, number)))
            if found.number < head.number:
                rate = (head.timestamp - found.timestamp) / (head.number - found.number) or ASSUMED_BLOCK_S
            step = math.floor((target - found.timestamp) / rate)
            if step == 0 and found.timestamp <= target:
                break
            number = found.number + (step or -1)
        return found

    async def _by_ids(
        self,
        subgraph: str,
        name: str,
        entity: str,
        ids: Sequence[str],
        report: SubgraphReport,
        block: int | None,
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}

        async def chunk(part: list[str]) -> None:
            async with self._chunks:
                what = f"{entity} ×{len(part)} from {part[0][:14]}…" + ("" if block is None else f" at block {block}")
                try:
                    data = await self.execute(
                        subgraph, name, {"ids": part, "first": len(part), "block": _height(block)}, what
                    )
                except UpstreamError as exc:
                    report.failures.append(ChunkFailure(subgraph, tuple(part), str(exc)))
                    return
                if block is not None:
                    report.block = _block_of(data, what)
                for row in data.get(entity) or []:
                    found[str(row["id"])] = row

        parts = [list(ids[i : i + IDS_PER_CHUNK]) for i in range(0, len(ids), IDS_PER_CHUNK)]
        await asyncio.gather(*(chunk(p) for p in parts))
        return found

    async def metrics(self, markets: Sequence[MarketTokens], block: int | None = None) -> SubgraphReport:
        """Open interest, volume and trade count per market at ``block`` (None: the head); failed chunks listed."""
        report = SubgraphReport()
        condition_ids = [m.condition_id for m in markets]
        token_ids = [t for m in markets for t in (m.yes_token_id, m.no_token_id)]
        oi, books = await asyncio.gather(
            self._by_ids(OI_SUBGRAPH, "open_interest_by_ids", "marketOpenInterests", condition_ids, report, block),
            self._by_ids(ORDERBOOK_SUBGRAPH, "orderbooks_by_ids", "orderbooks", token_ids, report, block),
        )
        failed = {i for f in report.failures for i in f.ids}
        complete = [m for m in markets if not {m.condition_id, m.yes_token_id, m.no_token_id} & failed]
        frame = market_activity(
            pl.DataFrame(
                [(m.condition_id, m.yes_token_id, m.no_token_id) for m in complete],
                schema={"condition_id": pl.String, "yes_token_id": pl.String, "no_token_id": pl.String},
                orient="row",
            ),
            pl.DataFrame(list(oi.values()), schema={"id": pl.String, "amount": pl.String}),
            pl.DataFrame(
                list(books.values()),
                schema={"id": pl.String, "tradesQuantity": pl.String, "scaledCollateralVolume": pl.String},
            ),
        )
        report.rows = [SubgraphMetrics(**row) for row in frame.iter_rows(named=True)]
        return report


def _height(number: int | None) -> dict[str, int] | None:
    return None if number is None else {"number": number}


def _block_of(data: dict[str, Any], what: str) -> Block:
    try:
        block = data["_meta"]["block"]
        return Block(int(block["number"]), int(block["timestamp"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidResponse(f"no _meta block in the answer ({exc})", what=what) from exc
