"""One typed error hierarchy for every edge, each error carrying what a user needs: which URL, which page, why."""

from __future__ import annotations


class UpstreamError(Exception):
    """Something went wrong talking to an upstream (Gamma, CLOB, a subgraph, the WebSocket, tollama)."""

    def __init__(self, message: str, *, url: str | None = None, what: str | None = None) -> None:
        self.url = url
        self.what = what  # the page or object asked for, e.g. "markets page 37 (after_cursor=...)"
        where = " ".join(x for x in (f"[{what}]" if what else "", url or "") if x)
        super().__init__(f"{message} {where}".strip())


class UpstreamTimeout(UpstreamError):
    """No answer within the configured timeout."""


class UpstreamConnectError(UpstreamError):
    """The connection could not be opened (refused, DNS, reset)."""


class UpstreamHTTPError(UpstreamError):
    """An HTTP error status; ``body`` holds the start of the response for diagnosis."""

    def __init__(self, status: int, body: str, *, url: str | None = None, what: str | None = None) -> None:
        self.status = status
        self.body = body[:500]
        super().__init__(f"HTTP {status}: {self.body[:200]}", url=url, what=what)


class RateLimited(UpstreamHTTPError):
    """HTTP 429; ``retry_after`` is the server's advice in seconds when it gave one."""

    def __init__(self, body: str, retry_after: float | None, *, url: str | None = None, what: str | None = None):
        self.retry_after = retry_after
        super().__init__(429, body, url=url, what=what)


class ServerError(UpstreamHTTPError):
    """HTTP 5xx: retryable."""


class ClientError(UpstreamHTTPError):
    """HTTP 4xx other than 429: our request is wrong, never retried."""

    def __init__(self, status: int, body: str, *, detail: str | None = None, hint: str | None = None, **kw: str | None):
        self.detail = detail
        self.hint = hint
        super().__init__(status, body, **kw)


class InvalidResponse(UpstreamError):
    """The body is not the JSON we expect (malformed, truncated, wrong shape)."""


class RetriesExhausted(UpstreamError):
    """Every attempt failed; ``last`` is the final error. A crawl raising this returns no partial result."""

    def __init__(self, attempts: int, last: UpstreamError) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(f"gave up after {attempts} attempts: {last}", url=last.url, what=last.what)


class PaginationError(UpstreamError):
    """The server broke the paging contract (a cursor repeated, a page that never ends)."""


class GraphQLError(UpstreamError):
    """A GraphQL response with ``errors``; ``messages`` lists them."""

    def __init__(self, messages: list[str], *, url: str | None = None, what: str | None = None) -> None:
        self.messages = messages
        super().__init__("GraphQL errors: " + "; ".join(messages), url=url, what=what)


class StreamError(UpstreamError):
    """The market WebSocket failed beyond what reconnecting can fix."""
