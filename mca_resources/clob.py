"""CLOB REST client: price history over any range, order books, and market resolution.

``/prices-history`` accepts only a limited range per request at fine fidelity (Polymarket does not document the
limit; 15-day windows at hourly fidelity are what works in practice), so a range is split into windows that
are fetched with bounded concurrency, then merged and de-duplicated by timestamp.

Many tokens over one range go through ``POST /batch-prices-history`` (docs.polymarket.com, "Get batch prices
history": ``{"markets": [at most 20 asset ids], "start_ts", "end_ts", "fidelity"}`` answers ``{"history":
{asset id: [{"t", "p"}]}}``), 20 tokens per request; an upstream without it (404/405) sends the client back to one
``/prices-history`` request per token and window for the rest of its life. The rate-limit page lists no limit of
its own for the batch route, so each batch request counts against the ``/prices-history`` limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mca_core.normalize import normalize_book, normalize_clob_market, normalize_price_history_batch
from mca_core.records import Book, ClobMarket, PricePoint, Rejection
from mca_resources.errors import ClientError
from mca_resources.http import HttpUpstream

DAY_S = 86_400
#: Window per /prices-history request by fidelity: finer data, shorter windows.
WINDOW_DAYS_FINE = 14  # fidelity <= 60 minutes
WINDOW_DAYS_COARSE = 60
#: Tokens per batch request (the documented maximum).
BATCH_MAX_TOKENS = 20
#: Statuses that mean "this upstream has no batch route": fall back to one request per token.
NO_BATCH_STATUSES = (404, 405, 501)


@dataclass
class PriceHistory:
    """A token's merged history and the points that were rejected, with the windows fetched."""

    token_id: str
    points: list[PricePoint] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    windows: int = 0


def _windows(start_ts: int, end_ts: int, fidelity_min: int) -> list[tuple[int, int]]:
    span = (WINDOW_DAYS_FINE if fidelity_min <= 60 else WINDOW_DAYS_COARSE) * DAY_S
    out = []
    lo = start_ts
    while lo < end_ts:
        hi = min(lo + span, end_ts)
        out.append((lo, hi))
        lo = hi
    return out


def split_batch_page(page: object, token_id: str) -> object:
    """One token's part of a ``/batch-prices-history`` body, shaped like a ``/prices-history`` body (so one
    normaliser reads both); a missing token or a body of the wrong shape gives what the normaliser rejects."""
    history = page.get("history") if isinstance(page, dict) else None
    if not isinstance(history, dict):
        return page
    return {"history": history.get(token_id, [])}


def _merge(history: PriceHistory, pages: Sequence[object], start_ts: int, end_ts: int) -> None:
    """Normalise the window pages of one token into ``history``: points in [start, end], unique and sorted."""
    merged: dict[datetime, PricePoint] = {}
    for page in pages:
        batch = normalize_price_history_batch(page, token_id=history.token_id)  # type: ignore[arg-type]
        history.rejections.extend(batch.rejections)
        for point in batch.records:
            if start_ts <= point.ts.timestamp() <= end_ts:
                merged[point.ts] = point
    history.points = [merged[ts] for ts in sorted(merged)]


def _unix(value: datetime | int) -> int:
    if isinstance(value, datetime):
        return int(value.astimezone(UTC).timestamp())
    return int(value)


class ClobClient:
    """Async client of ``clob.polymarket.com`` read endpoints over an `HttpUpstream`."""

    def __init__(self, http: HttpUpstream, *, window_concurrency: int = 4, batch: bool = True) -> None:
        self.http = http
        self._window_semaphore = asyncio.Semaphore(window_concurrency)
        self.batch = batch  # cleared when the upstream turns out to have no batch route

    async def prices_history(
        self, token_id: str, start: datetime | int, end: datetime | int, *, fidelity_min: int = 60
    ) -> PriceHistory:
        """YES/NO token price points in [start, end] (unix seconds or aware datetimes), sorted, unique by time."""
        if fidelity_min < 1:
            raise ValueError(f"fidelity_min must be >= 1 minute, got {fidelity_min}")
        start_ts, end_ts = _unix(start), _unix(end)
        if end_ts < start_ts:
            raise ValueError(f"end {end_ts} is before start {start_ts}")
        windows = _windows(start_ts, end_ts, fidelity_min)
        history = PriceHistory(token_id=token_id, windows=len(windows))

        async def fetch(lo: int, hi: int) -> object:
            async with self._window_semaphore:
                return await self.http.request_json(
                    "GET",
                    "/prices-history",
                    source="clob.prices_history",
                    what=f"prices-history {token_id[:12]}… [{lo}, {hi}]",
                    params={"market": token_id, "startTs": lo, "endTs": hi, "fidelity": fidelity_min},
                    limit_keys=("clob", "clob.prices_history"),
                )

        pages = await asyncio.gather(*(fetch(lo, hi) for lo, hi in windows))
        _merge(history, pages, start_ts, end_ts)
        return history

    async def prices_histories(
        self,
        token_ids: Sequence[str],
        start: datetime | int,
        end: datetime | int,
        *,
        fidelity_min: int = 60,
        on_done: Callable[[int], None] | None = None,
    ) -> dict[str, PriceHistory]:
        """`prices_history` of many tokens over one range: batches of 20 when the upstream has the batch route.

        ``on_done(n)`` is called as each group of ``n`` tokens is complete (progress reporting).
        """
        start_ts, end_ts = _unix(start), _unix(end)
        if end_ts < start_ts:
            raise ValueError(f"end {end_ts} is before start {start_ts}")
        tokens = list(dict.fromkeys(token_ids))
        groups = [tokens[i : i + BATCH_MAX_TOKENS] for i in range(0, len(tokens), BATCH_MAX_TOKENS)]

        async def one_group(group: list[str]) -> dict[str, PriceHistory]:
            if self.batch:
                try:
                    found = await self._batch(group, start_ts, end_ts, fidelity_min)
                except ClientError as exc:
                    if exc.status not in NO_BATCH_STATUSES:
                        raise
                    self.batch = False  # no batch route upstream: one request per token from now on
                else:
                    if on_done is not None:
                        on_done(len(group))
                    return found
            singles = await asyncio.gather(
                *(self.prices_history(t, start_ts, end_ts, fidelity_min=fidelity_min) for t in group)
            )
            out = {history.token_id: history for history in singles}
            if on_done is not None:
                on_done(len(group))
            return out

        results: dict[str, PriceHistory] = {}
        for found in await asyncio.gather(*(one_group(g) for g in groups)):
            results.update(found)
        return results

    async def _batch(self, tokens: list[str], start_ts: int, end_ts: int, fidelity_min: int) -> dict[str, PriceHistory]:
        windows = _windows(start_ts, end_ts, fidelity_min)
        histories = {t: PriceHistory(token_id=t, windows=len(windows)) for t in tokens}

        async def fetch(lo: int, hi: int) -> object:
            async with self._window_semaphore:
                return await self.http.request_json(
                    "POST",
                    "/batch-prices-history",
                    source="clob.batch_prices_history",
                    what=f"batch-prices-history {len(tokens)} tokens from {tokens[0][:12]}… [{lo}, {hi}]",
                    json_body={"markets": tokens, "start_ts": lo, "end_ts": hi, "fidelity": fidelity_min},
                    limit_keys=("clob", "clob.prices_history"),
                )

        pages = await asyncio.gather(*(fetch(lo, hi) for lo, hi in windows))
        for token, history in histories.items():
            _merge(history, [split_batch_page(page, token) for page in pages], start_ts, end_ts)
        return histories

    async def book(self, token_id: str) -> Book | Rejection:
        raw = await self.http.request_json(
            "GET",
            "/book",
            source="clob.book",
            what=f"book {token_id[:12]}…",
            params={"token_id": token_id},
            limit_keys=("clob", "clob.book"),
        )
        return normalize_book(raw)

    async def market(self, condition_id: str) -> ClobMarket | Rejection:
        raw = await self.http.request_json(
            "GET",
            f"/markets/{condition_id}",
            source="clob.market",
            what=f"clob market {condition_id[:12]}…",
            limit_keys=("clob",),
        )
        return normalize_clob_market(raw)
