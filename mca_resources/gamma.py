"""Gamma client: every market and event, exactly once, through keyset pagination.

Keyset first (``/markets/keyset`` 100 per page, ``/events/keyset`` 500 per page, ``after_cursor`` with every
filter re-sent, stop when ``next_cursor`` is absent, a repeated cursor is an error). When keyset is not
available (404/405 on the first page) it falls back to the legacy offset lists with their 100-row cap and
fails loudly at the offset cap (HTTP 422) rather than returning a short result. ``condition_ids`` are sent in
chunks of at most 100 and ``clob_token_ids`` as a repeated parameter. Bad records are rejected with a reason
and counted, never raised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from mca_core.normalize import normalize_gamma_event, normalize_gamma_events, normalize_gamma_markets
from mca_core.records import Event, Market, NormalizedBatch, Rejection
from mca_resources.errors import ClientError, InvalidResponse, PaginationError
from mca_resources.http import HttpUpstream, QueryParams

R = TypeVar("R", Market, Event)

MARKETS_PAGE = 100
EVENTS_PAGE = 500
LEGACY_PAGE = 100
CONDITION_IDS_PER_REQUEST = 100
EMPTY_PAGE_RETRIES = 3


@dataclass(frozen=True)
class GammaFilters:
    """Filters of ``/markets`` and ``/events`` (keyset and legacy); ``None`` means not sent."""

    closed: bool | None = None
    active: bool | None = None
    archived: bool | None = None
    end_date_min: date | datetime | str | None = None
    end_date_max: date | datetime | str | None = None
    start_date_min: date | datetime | str | None = None
    start_date_max: date | datetime | str | None = None
    tag_id: int | str | None = None
    order: str | None = None
    ascending: bool | None = None
    ids: Sequence[str] = ()
    slugs: Sequence[str] = ()
    condition_ids: Sequence[str] = ()
    clob_token_ids: Sequence[str] = ()
    liquidity_num_min: float | None = None
    volume_num_min: float | None = None
    include_tag: bool | None = None

    def params(self) -> dict[str, Any]:
        """Query parameters in Gamma's spelling; lists as repeated parameters."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (isinstance(value, Sequence) and not isinstance(value, str) and not value):
                continue
            key = {"ids": "id", "slugs": "slug"}.get(f.name, f.name)
            if isinstance(value, datetime):
                value = value.isoformat().replace("+00:00", "Z")
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Sequence) and not isinstance(value, str):
                value = list(value)
            out[key] = value
        return out


@dataclass
class CrawlStats:
    """What a crawl did, for progress lines and materialization metadata."""

    pages: int = 0
    records: int = 0
    rejected: int = 0
    duplicates: int = 0
    empty_page_retries: int = 0
    mode: str = "keyset"


@dataclass
class Crawl(Generic[R]):
    """Every record of a crawl (unique by id, in server order) and every rejection with its reason."""

    records: list[R] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    stats: CrawlStats = field(default_factory=CrawlStats)


@dataclass(frozen=True)
class _Kind(Generic[R]):
    name: str  # "markets" | "events"
    page_size: int
    limit_key: str
    normalize: Callable[[Any], NormalizedBatch[R]]
    record_id: Callable[[R], str]


MARKETS: _Kind[Market] = _Kind("markets", MARKETS_PAGE, "gamma.markets", normalize_gamma_markets, lambda m: m.market_id)
EVENTS: _Kind[Event] = _Kind("events", EVENTS_PAGE, "gamma.events", normalize_gamma_events, lambda e: e.event_id)

Progress = Callable[[CrawlStats], None]


class GammaClient:
    """Async Gamma API client over an `HttpUpstream` (base URL such as ``https://gamma-api.polymarket.com``)."""

    def __init__(self, http: HttpUpstream, *, keyset: bool = True) -> None:
        self.http = http
        self.keyset = keyset

    async def markets(
        self, filters: GammaFilters | None = None, progress: Progress | None = None, max_pages: int | None = None
    ) -> Crawl[Market]:
        """Every market matching ``filters`` (or the first ``max_pages`` pages, for a quick look)."""
        return await self._crawl(MARKETS, filters or GammaFilters(), progress, max_pages)

    async def events(
        self, filters: GammaFilters | None = None, progress: Progress | None = None, max_pages: int | None = None
    ) -> Crawl[Event]:
        """Every event matching ``filters`` with its nested markets."""
        return await self._crawl(EVENTS, filters or GammaFilters(), progress, max_pages)

    async def market(self, market_id: str) -> Market | Rejection:
        raw = await self.http.request_json(
            "GET", f"/markets/{market_id}", source="gamma.market", what=f"market {market_id}", limit_keys=("gamma",)
        )
        batch = normalize_gamma_markets([raw])
        return batch.records[0] if batch.records else batch.rejections[0]

    async def event(self, event_id: str) -> Event | Rejection:
        raw = await self.http.request_json(
            "GET", f"/events/{event_id}", source="gamma.event", what=f"event {event_id}", limit_keys=("gamma",)
        )
        result = normalize_gamma_event(raw)
        return result.event if result.event is not None else result.rejections[0]

    async def _crawl(
        self, kind: _Kind[R], filters: GammaFilters, progress: Progress | None, max_pages: int | None
    ) -> Crawl[R]:
        crawl: Crawl[R] = Crawl()
        seen: set[str] = set()
        chunks = [filters]
        if len(filters.condition_ids) > CONDITION_IDS_PER_REQUEST:
            ids = list(filters.condition_ids)
            chunks = [
                replace(filters, condition_ids=ids[i : i + CONDITION_IDS_PER_REQUEST])
                for i in range(0, len(ids), CONDITION_IDS_PER_REQUEST)
            ]
        for chunk in chunks:
            async for batch in self._pages(kind, chunk.params(), crawl.stats):
                for record in batch.records:
                    rid = kind.record_id(record)
                    if rid in seen:
                        crawl.stats.duplicates += 1
                        continue
                    seen.add(rid)
                    crawl.records.append(record)
                crawl.rejections.extend(batch.rejections)
                crawl.stats.records = len(crawl.records)
                crawl.stats.rejected = len(crawl.rejections)
                if progress:
                    progress(crawl.stats)
                if max_pages is not None and crawl.stats.pages >= max_pages:
                    return crawl
        return crawl

    async def _pages(
        self, kind: _Kind[R], params: dict[str, Any], stats: CrawlStats
    ) -> AsyncIterator[NormalizedBatch[R]]:
        if self.keyset:
            try:
                async for batch in self._keyset_pages(kind, params, stats):
                    yield batch
                return
            except ClientError as exc:
                if exc.status not in (404, 405) or stats.pages > 0:
                    raise
                stats.mode = "legacy"
        async for batch in self._legacy_pages(kind, params, stats):
            yield batch

    async def _keyset_pages(
        self, kind: _Kind[R], params: dict[str, Any], stats: CrawlStats
    ) -> AsyncIterator[NormalizedBatch[R]]:
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            query: dict[str, Any] = {**params, "limit": kind.page_size}
            if cursor is not None:
                query["after_cursor"] = cursor
            what = f"{kind.name} page {stats.pages + 1}" + (f" (after_cursor={cursor[:24]})" if cursor else "")
            body = await self._page(kind, f"/{kind.name}/keyset", query, what, stats, keyset=True)
            if not isinstance(body, dict) or not isinstance(body.get(kind.name), list):
                raise InvalidResponse(f"keyset page without a '{kind.name}' list", what=what)
            stats.pages += 1
            yield kind.normalize(body[kind.name])
            cursor = body.get("next_cursor") or None
            if cursor is None:
                return
            if cursor in seen_cursors:
                raise PaginationError(f"cursor repeated after {stats.pages} pages: {cursor[:40]}", what=what)
            seen_cursors.add(cursor)

    async def _legacy_pages(
        self, kind: _Kind[R], params: dict[str, Any], stats: CrawlStats
    ) -> AsyncIterator[NormalizedBatch[R]]:
        offset = 0
        while True:
            query = {**params, "limit": LEGACY_PAGE, "offset": offset}
            what = f"{kind.name} legacy page at offset {offset}"
            try:
                body = await self._page(kind, f"/{kind.name}", query, what, stats, keyset=False)
            except ClientError as exc:
                if exc.status == 422:
                    raise PaginationError(
                        f"legacy offset cap reached at offset {offset} and keyset is unavailable: {exc.body[:200]}",
                        what=what,
                    ) from exc
                raise
            if not isinstance(body, list):
                raise InvalidResponse("legacy page is not a JSON array", what=what)
            stats.pages += 1
            yield kind.normalize(body)
            if len(body) < LEGACY_PAGE:
                return
            offset += len(body)

    async def _page(
        self, kind: _Kind[R], path: str, query: QueryParams, what: str, stats: CrawlStats, *, keyset: bool
    ) -> Any:
        """One page; an empty page that still promises more (a cursor) is asked again before it is believed."""
        attempt = 0
        while True:
            body = await self.http.request_json(
                "GET",
                path,
                source=f"gamma.{kind.name}{'_keyset' if keyset else ''}",
                what=what,
                params=query,
                limit_keys=("gamma", kind.limit_key),
            )
            suspicious = (
                isinstance(body, dict)
                and body.get("next_cursor")
                and isinstance(body.get(kind.name), list)
                and not body[kind.name]
            )
            if not suspicious or attempt == EMPTY_PAGE_RETRIES:
                return body
            attempt += 1
            stats.empty_page_retries += 1
