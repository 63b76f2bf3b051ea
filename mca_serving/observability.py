"""Request metrics and access logs for every route: an ASGI middleware that sees the final status.

Labels are the route template (``/markets/{market_id:str}``), never the raw path, so the series stay bounded.
Each request gets an id (the client's ``X-Request-ID`` when it is a short plain token, else a new one), returned
in ``X-Request-ID`` and written in its access log line, a JSON object on the ``mca.access`` logger.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mca_serving.errors import REQUEST_ID_HEADER, request_id_of

access_log = logging.getLogger("mca.access")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_HEADER = REQUEST_ID_HEADER.lower().encode()


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "mca_http_requests", "Requests by route template, method and status.", ["route", "method", "status"],
            registry=registry,
        )  # fmt: skip
        self.seconds = Histogram(
            "mca_http_request_duration_seconds", "Time from the request to the end of its response, by route.",
            ["route", "method"], buckets=_LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.snapshot_age = Gauge(
            "mca_snapshot_age_seconds", "Age of the published snapshot the service reads (-1: none yet).",
            registry=registry,
        )  # fmt: skip
        self.snapshot_switches = Counter(
            "mca_snapshot_switches", "Times the service moved to a newly published snapshot.", registry=registry
        )


def observe(metrics: HttpMetrics) -> Any:
    """The middleware factory (Litestar's ``middleware=[...]`` entry)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            began = time.perf_counter()
            rid = request_id_of(scope)
            status = 500

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    if not any(name.lower() == _HEADER for name, _ in headers):  # the 5xx handler sets it itself
                        headers.append((_HEADER, rid.encode()))
                    message["headers"] = headers
                await send(message)

            scope.setdefault("state", {})["request_id"] = rid
            try:
                await app(scope, receive, send_with_id)
            except HTTPException as exc:
                status = exc.status_code
                raise
            finally:
                seconds = time.perf_counter() - began
                route, method = scope.get("path_template") or "unmatched", scope["method"]
                metrics.requests.labels(route, method, str(status)).inc()
                metrics.seconds.labels(route, method).observe(seconds)
                if access_log.isEnabledFor(logging.INFO):
                    client = scope.get("client")
                    access_log.info(msgspec.json.encode({
                        "request_id": rid, "method": method, "route": route, "path": scope["path"][:200],
                        "status": status, "ms": round(seconds * 1000, 3), "client": client[0] if client else None,
                    }).decode())  # fmt: skip

        return asgi

    return middleware
