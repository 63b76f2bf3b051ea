"""tollama client: ``GET /v1/health`` and non-streaming ``POST /v1/forecast`` with typed errors.

No retries here: the forecaster owns its retry (one, with jitter) and its circuit breaker, so every failure
surfaces at once as a typed error: `UpstreamTimeout`, `UpstreamConnectError`, `ClientError` (4xx, with tollama's
``detail`` and ``hint``), `ServerError` (5xx) or `InvalidResponse` (a body that is not a valid forecast).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from mca_resources.errors import InvalidResponse, RetriesExhausted
from mca_resources.http import HttpUpstream


class TollamaSeries(msgspec.Struct, omit_defaults=True):
    id: str
    target: list[float]
    freq: str = "auto"
    timestamps: list[str] | None = None
    past_covariates: dict[str, list[float]] | None = None
    future_covariates: dict[str, list[float]] | None = None


class TollamaRequest(msgspec.Struct, omit_defaults=True):
    model: str
    horizon: int
    quantiles: list[float]
    series: list[TollamaSeries]
    options: dict[str, object] | None = None
    timeout: float | None = None
    stream: bool = False


class TollamaSeriesForecast(msgspec.Struct):
    id: str
    quantiles: dict[str, list[float | None]]
    mean: list[float | None] | None = None


class TollamaResponse(msgspec.Struct):
    model: str
    forecasts: list[TollamaSeriesForecast]
    warnings: list[str] | None = None
    timing: dict[str, float] | None = None


def quantile_key(q: float) -> str:
    """tollama formats quantile keys like ``format(q, "g")``: 0.1 -> "0.1"."""
    return format(q, "g")


def check_forecast(response: TollamaResponse, quantiles: Sequence[float], horizon: int, ids: Sequence[str]) -> None:
    """Raise `InvalidResponse` unless every series has every quantile, ``horizon`` long and finite."""
    by_id = {f.id: f for f in response.forecasts}
    for sid in ids:
        forecast = by_id.get(sid)
        if forecast is None:
            raise InvalidResponse(f"no forecast for series {sid!r}")
        for q in quantiles:
            values = forecast.quantiles.get(quantile_key(q))
            if values is None:
                raise InvalidResponse(f"quantile {quantile_key(q)} missing for series {sid!r}")
            if len(values) != horizon:
                raise InvalidResponse(f"quantile {quantile_key(q)} has {len(values)} steps, expected {horizon}")
            if any(v is None or not math.isfinite(v) for v in values):
                raise InvalidResponse(f"quantile {quantile_key(q)} of {sid!r} has a non-finite value")


class TollamaClient:
    """Async client of a tollama daemon (``MCA_TOLLAMA_URL``, default ``http://127.0.0.1:11435``)."""

    def __init__(self, http: HttpUpstream) -> None:
        self.http = http

    async def health(self) -> dict[str, object]:
        body = await self._call("GET", "/v1/health", "tollama health", None)
        if not isinstance(body, dict):
            raise InvalidResponse("health body is not an object")
        return body

    async def forecast(self, request: TollamaRequest) -> TollamaResponse:
        """One forecast call; the response is checked (every quantile, right length, finite)."""
        body = await self._call("POST", "/v1/forecast", f"forecast {request.model}", msgspec.to_builtins(request))
        try:
            response = msgspec.convert(body, TollamaResponse)
        except msgspec.ValidationError as exc:
            raise InvalidResponse(f"forecast body does not match tollama's schema: {exc}") from exc
        check_forecast(response, request.quantiles, request.horizon, [s.id for s in request.series])
        return response

    async def _call(self, method: str, path: str, what: str, body: object) -> object:
        try:
            return await self.http.request_json(
                method,
                path,
                source=f"tollama{path.replace('/', '.')}",
                what=what,
                json_body=body,
                limit_keys=("tollama",),
            )
        except RetriesExhausted as exc:
            raise exc.last from exc
