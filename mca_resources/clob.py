"""CLOB REST client: price history over any range, order books, and market resolution.

``/prices-history`` accepts only a limited range per request at fine fidelity (Polymarket does not document the
limit; 15-day windows at hourly fidelity are what works in practice), so a range is split into windows that
are fetched with bounded concurrency, then merged and de-duplicated by timestamp.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mca_core.normalize import normalize_book, normalize_clob_market, normalize_price_history_batch
from mca_core.records import Book, ClobMarket, PricePoint, Rejection
from mca_resources.http import HttpUpstream

DAY_S = 86_400
#: Window per /prices-history request by fidelity: finer data, shorter windows.
WINDOW_DAYS_FINE = 14  # fidelity <= 60 minutes
WINDOW_DAYS_COARSE = 60


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


def _unix(value: datetime | int) -> int:
    if isinstance(value, datetime):
        return int(value.astimezone(UTC).timestamp())
    return int(value)


class ClobClient:
    """Async client of ``clob.polymarket.com`` read endpoints over an `HttpUpstream`."""

    def __init__(self, http: HttpUpstream, *, window_concurrency: int = 4) -> None:
        self.http = http
        self._window_semaphore = asyncio.Semaphore(window_concurrency)

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
        merged: dict[datetime, PricePoint] = {}
        for page in pages:
            batch = normalize_price_history_batch(page, token_id=token_id)  # type: ignore[arg-type]
            history.rejections.extend(batch.rejections)
            for point in batch.records:
                if start_ts <= point.ts.timestamp() <= end_ts:
                    merged[point.ts] = point
        history.points = [merged[ts] for ts in sorted(merged)]
        return history

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
