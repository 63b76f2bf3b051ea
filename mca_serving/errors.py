"""Every 5xx answer is logged with a request id, which the response carries in ``X-Request-ID``.

The id is the one `mca_serving.observability` gave the request (the client's own ``X-Request-ID`` when it is a
short plain token, else a new random one), so the 5xx log line and the access line share it. An unexpected
exception is logged with its traceback and answered ``500 Internal Server Error`` without detail; an intended 5xx
(the read endpoints' ``503 no snapshot yet``) is logged as a warning and keeps its detail and headers
(``Retry-After``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.types import Scope

from mca_resources.forecasting.metrics import ServiceMetrics

log = logging.getLogger("mca.serving")

REQUEST_ID_HEADER = "X-Request-ID"
SERVER_ERROR_STATUSES = range(500, 512)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

ExceptionHandler = Callable[[Request, Exception], Response]  # type: ignore[type-arg]


def request_id_of(scope: Scope) -> str:
    """The id of a request: the one `mca_serving.observability` gave it, else the client's plain short
    ``X-Request-ID``, else a new random one."""
    given = scope.get("state", {}).get("request_id")
    if given is not None:
        return str(given)
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _CLIENT_ID.fullmatch(text) else uuid.uuid4().hex
    return uuid.uuid4().hex


def request_id(request: Request) -> str:  # type: ignore[type-arg]
    return request_id_of(request.scope)


def server_error_handler(metrics: ServiceMetrics) -> ExceptionHandler:
    """The handler for every 5xx status (Litestar also routes any non-HTTP exception to the 500 one)."""

    def handle(request: Request, exc: Exception) -> Response:  # type: ignore[type-arg]
        rid = request_id(request)
        where = f"{request.method} {request.url.path[:200]!r}"
        if isinstance(exc, HTTPException):
            status, detail, headers = exc.status_code, exc.detail, dict(exc.headers or {})
            log.warning("%s answered %d (request id %s): %s", where, status, rid, detail)
        else:
            status, detail, headers = 500, "Internal Server Error", {}
            log.error("%s failed (request id %s)", where, rid, exc_info=exc)
        metrics.server_errors.labels(status=str(status)).inc()
        return Response(
            {"status_code": status, "detail": detail},
            status_code=status,
            media_type=MediaType.JSON,  # also on routes that answer another type (Litestar would use theirs)
            headers={**headers, REQUEST_ID_HEADER: rid},
        )

    return handle


def client_error_as_json(request: Request, exc: Exception) -> Response:  # type: ignore[type-arg]
    """A 4xx in Litestar's JSON shape, for a route whose own media type is not JSON (Litestar would send the JSON
    body labelled with the route's type)."""
    assert isinstance(exc, HTTPException)
    body: dict[str, object] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(body, status_code=exc.status_code, media_type=MediaType.JSON, headers=dict(exc.headers or {}))
