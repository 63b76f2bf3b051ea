"""The HTTP behaviour every REST/GraphQL client shares.

Retries with exponential backoff and full jitter that honour ``Retry-After``; a client-side rate limiter per
limit key (defaults: Polymarket's published limits); bounded concurrency; timeouts on every request; typed errors
(`mca_resources.errors`); a request id on every call, logged without secrets; and a raw-page hook that receives
every response body as received, so assets can land raw JSONL before anything is parsed.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from mca_resources.errors import (
    ClientError,
    InvalidResponse,
    RateLimited,
    RetriesExhausted,
    ServerError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeout,
)

log = logging.getLogger("mca.http")

#: Published limits (requests, period in seconds) by limit key; docs.polymarket.com rate-limits page.
PUBLISHED_LIMITS: dict[str, tuple[int, float]] = {
    "gamma": (4000, 10.0),
    "gamma.markets": (300, 10.0),
    "gamma.events": (500, 10.0),
    "clob": (9000, 10.0),
    "clob.book": (1500, 10.0),
    "clob.prices_history": (1000, 10.0),
    "subgraph": (1000, 10.0),
    "tollama": (1_000_000, 1.0),
}

QueryParams = Mapping[str, str | int | float | bool | Sequence[str]]


@dataclass(frozen=True)
class RawPage:
    """One response as received, for the raw landing hook."""

    source: str  # e.g. "gamma.markets_keyset"
    url: str
    params: dict[str, Any]
    status: int
    body: bytes
    received_at: float  # unix seconds
    request_id: str
    request: Any = None  # the JSON body sent (POST), so a landed page says what it answers


RawSink = Callable[[RawPage], Awaitable[None] | None]


@dataclass
class RetryPolicy:
    """How hard to try: attempts in total, and the exponential backoff with full jitter between them."""

    attempts: int = 6
    initial_s: float = 0.2
    max_s: float = 20.0
    max_retry_after_s: float = 60.0


@dataclass
class HttpCounters:
    """What a client did, for progress lines and tests."""

    requests: int = 0
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class HttpUpstream:
    """A base URL with retries, rate limits, concurrency bounds, timeouts and the raw hook."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        limits: Mapping[str, tuple[int, float]] | None = None,
        raw_sink: RawSink | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.retry = retry or RetryPolicy()
        self.raw_sink = raw_sink
        self.counters = HttpCounters()
        self._backoff = wait_exponential_jitter(
            multiplier=self.retry.initial_s, max=self.retry.max_s, jitter=self.retry.initial_s
        )
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._limits = dict(PUBLISHED_LIMITS if limits is None else limits)
        self._limiters: dict[str, AsyncLimiter] = {}
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=max_concurrency * 2, max_keepalive_connections=max_concurrency),
            headers={"User-Agent": "mca/0.1 (+market calibration)", "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> HttpUpstream:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def _limiter(self, key: str) -> AsyncLimiter | None:
        if key not in self._limits:
            return None
        if key not in self._limiters:
            count, period = self._limits[key]
            self._limiters[key] = AsyncLimiter(count, period)
        return self._limiters[key]

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_retry_after_s)
        return float(self._backoff(state))

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        source: str,
        what: str,
        params: QueryParams | None = None,
        json_body: Any = None,
        limit_keys: Sequence[str] = (),
        decoder: Callable[[bytes], Any] = msgspec.json.decode,
    ) -> Any:
        """Send one logical request (retried as needed) and return the decoded JSON body.

        Raises `ClientError` at once for 4xx other than 429, and `RetriesExhausted` when retryable failures
        (timeouts, connection errors, 429, 5xx, undecodable bodies) outlast the retry policy.
        """
        attempts = 0
        last: UpstreamError | None = None
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(
                (UpstreamTimeout, UpstreamConnectError, RateLimited, ServerError, InvalidResponse)
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    if attempts > 1:
                        self.counters.retries += 1
                    try:
                        return await self._once(method, path, source, what, params, json_body, limit_keys, decoder)
                    except UpstreamError as exc:
                        last = exc
                        self.counters.error(type(exc).__name__)
                        raise
        except ClientError:
            raise
        except UpstreamError as exc:
            raise RetriesExhausted(attempts, last or exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self,
        method: str,
        path: str,
        source: str,
        what: str,
        params: QueryParams | None,
        json_body: Any,
        limit_keys: Sequence[str],
        decoder: Callable[[bytes], Any],
    ) -> Any:
        url = f"{self.base_url}{path}"
        for key in limit_keys:
            limiter = self._limiter(key)
            if limiter is not None:
                await limiter.acquire()
        request_id = uuid.uuid4().hex[:16]
        async with self._semaphore:
            self.counters.requests += 1
            started = time.perf_counter()
            try:
                response = await self._client.request(
                    method,
                    url,
                    params=_encode_params(params),
                    content=msgspec.json.encode(json_body) if json_body is not None else None,
                    headers={
                        "X-Request-ID": request_id,
                        **({"Content-Type": "application/json"} if json_body is not None else {}),
                    },
                )
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout(f"timed out ({type(exc).__name__})", url=url, what=what) from exc
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                raise UpstreamConnectError(
                    f"connection failed ({type(exc).__name__}: {exc})", url=url, what=what
                ) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug(
            "%s %s %s -> %s in %.1f ms",
            self.name,
            method,
            path,
            response.status_code,
            elapsed_ms,
            extra={"request_id": request_id, "source": source, "what": what},
        )
        body = response.content
        if self.raw_sink is not None:
            page = RawPage(
                source,
                str(response.url),
                dict(params or {}),
                response.status_code,
                body,
                time.time(),
                request_id,
                json_body,
            )
            outcome = self.raw_sink(page)
            if outcome is not None:
                await outcome
        status = response.status_code
        if status == 429:
            raise RateLimited(_text(body), _retry_after(response.headers.get("Retry-After")), url=url, what=what)
        if status >= 500:
            raise ServerError(status, _text(body), url=url, what=what)
        if status >= 400:
            detail, hint = _detail_hint(body)
            raise ClientError(status, _text(body), detail=detail, hint=hint, url=url, what=what)
        try:
            return decoder(body)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise InvalidResponse(f"undecodable body ({exc}; {len(body)} bytes)", url=url, what=what) from exc


def _encode_params(params: QueryParams | None) -> list[tuple[str, str]] | None:
    """Repeated keys for sequences (``clob_token_ids=a&clob_token_ids=b``); booleans as ``true``/``false``."""
    if params is None:
        return None
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            out.append((key, str(value)))
        else:
            out.extend((key, str(v)) for v in value)
    return out


def _text(body: bytes) -> str:
    return body[:500].decode("utf-8", "replace")


def _detail_hint(body: bytes) -> tuple[str | None, str | None]:
    try:
        parsed = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None, None
    if not isinstance(parsed, dict):
        return None, None
    detail = parsed.get("detail") or parsed.get("error")
    hint = parsed.get("hint")
    return (str(detail) if detail is not None else None), (str(hint) if hint is not None else None)


__all__ = ["PUBLISHED_LIMITS", "HttpUpstream", "RawPage", "RawSink", "RetryPolicy", "UpstreamHTTPError"]
