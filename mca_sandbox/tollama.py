"""A tollama-compatible forecasting runtime under ``/tollama`` (the daemon's JSON contract, no model weights).

Routes (names for the fault plan): ``GET /tollama/v1/health`` (``tollama.health``) → ``{"status": "ok"}``;
``GET /tollama/v1/models`` (``tollama.models``) → ``{"available": [...], "installed": [...]}`` like tollamad;
``POST /tollama/v1/forecast`` (``tollama.forecast``) → the stable JSON response; ``POST /tollama/api/forecast``
(``tollama.api_forecast``) → the same, as NDJSON unless ``"stream": false`` (tollama's default is to stream).

Request: ``{"model", "horizon", "quantiles"?, "series": [{"id", "freq"?, "timestamps"?, "target",
"past_covariates"?, "future_covariates"?, "static_covariates"?, "actuals"?}], "options"?, "parameters"?,
"timeout"?, "keep_alive"?, "stream"?, "response_options"?}``. Validation follows tollama's strict schemas: an
unknown field anywhere, a wrong type, quantiles not sorted / unique / inside (0, 1), ``horizon < 1``, an empty or
non-finite ``target``, ``timestamps`` or covariates of the wrong length, duplicate series ids, bad JSON → 400
``{"detail": "...", "hint": "..."}``. A model that is not installed → 404 ``{"detail": "model 'x' is not
installed", "hint": "run tollama pull x"}``. Validation runs before the model lookup, as in tollamad.

Response: ``{"model", "forecasts": [{"id", "mean": [H], "quantiles": {"0.1": [H], ...}}], "warnings": null | [...],
"timing": {"model_load_ms", "inference_ms", "total_ms"}, "usage": {...}}``; quantile keys are ``format(q, "g")``.
``X-Request-ID`` is echoed (one is generated when the request has none). Faults (latency, 5xx, hangs) come from
the fault plan; those injected answers come from the fault layer and carry no ``X-Request-ID``.

Models (all deterministic; none uses covariates: they are dropped with a warning, or 400 with
``parameters.covariates_mode = "strict"``):

- ``mock``: mean and every quantile equal the last target value (tollama's contract-test model).
- ``sandbox-quantile``: Gaussian random walk. Median = mean = last value; quantile q at step h is
  ``last + sigma * sqrt(h) * Phi^-1(q)`` with sigma the standard deviation of the last (up to 64) one-step
  differences. When every target value lies in [0, 1] (a probability) the quantiles are clipped to [0, 1].
  Monotone in q (non-strictly once clipped).
- Misbehaving models for the forecaster's guards (same numbers as ``sandbox-quantile`` otherwise):
  ``sandbox-crossing`` (quantile paths assigned in reverse order, so they cross), ``sandbox-missing`` (drops the
  highest requested quantile), ``sandbox-nan`` (a null inside ``mean`` and inside the first quantile path, as a
  runner's NaN reaches JSON), ``sandbox-slow`` (sleeps ``options.delay_s``, default 5 s; a request ``timeout``
  shorter than the delay answers 504 after ``timeout`` seconds).
- ``chronos2`` and ``timesfm-2.5-200m`` are listed as available but not installed (404 on forecast).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from aiohttp import web
from scipy.special import ndtri

from mca_sandbox.appkeys import STATE

MAX_HORIZON = 10_000
DEFAULT_SLOW_DELAY_S = 5.0
SIGMA_WINDOW = 64

_TOP_LEVEL = frozenset(
    {
        "model",
        "horizon",
        "quantiles",
        "series",
        "options",
        "parameters",
        "timeout",
        "keep_alive",
        "stream",
        "response_options",
    }
)
_SERIES_FIELDS = frozenset(
    {"id", "freq", "timestamps", "target", "past_covariates", "future_covariates", "static_covariates", "actuals"}
)
_PARAMETER_FIELDS = frozenset({"covariates_mode", "metrics", "timesfm"})


class ForecastError(Exception):
    """An error answer in tollama's shape."""

    def __init__(self, status: int, detail: str, hint: str, code: str = "INVALID_REQUEST") -> None:
        super().__init__(detail)
        self.status, self.detail, self.hint, self.code = status, detail, hint, code


def _bad(detail: str, hint: str = "check the request against the tollama /v1/forecast schema") -> ForecastError:
    return ForecastError(400, detail, hint)


@dataclass(frozen=True)
class Series:
    id: str
    target: np.ndarray
    has_covariates: bool


@dataclass(frozen=True)
class ForecastRequest:
    model: str
    horizon: int
    quantiles: list[float]
    series: list[Series]
    options: dict[str, Any]
    covariates_mode: str
    timeout: float | None
    stream: bool | None


# --- validation --------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{name}: expected an object, got {type(value).__name__}")
    return value


def validate(body: Any) -> ForecastRequest:
    """Check a request body with tollama's rules; raise :class:`ForecastError` (400) on the first problem."""
    body = _object(body, "body")
    extra = sorted(set(body) - _TOP_LEVEL)
    if extra:
        raise _bad(f"extra fields not permitted: {extra}", f"allowed fields: {sorted(_TOP_LEVEL)}")
    for required in ("model", "horizon", "series"):
        if required not in body:
            raise _bad(f"field required: {required}")
    model = body["model"]
    if not isinstance(model, str) or not model:
        raise _bad("model: expected a non-empty string")
    horizon = body["horizon"]
    if isinstance(horizon, bool) or not isinstance(horizon, int):
        raise _bad("horizon: expected an integer")
    if not 1 <= horizon <= MAX_HORIZON:
        raise _bad(f"horizon: must be between 1 and {MAX_HORIZON}, got {horizon}")
    quantiles = body.get("quantiles", [])
    if quantiles is None:
        quantiles = []
    if not isinstance(quantiles, list) or not all(_is_number(q) for q in quantiles):
        raise _bad("quantiles: expected a list of numbers")
    quantiles = [float(q) for q in quantiles]
    if any(not 0.0 < q < 1.0 for q in quantiles):
        raise _bad("quantiles: every quantile must be strictly between 0 and 1", "e.g. [0.1, 0.5, 0.9]")
    if any(b <= a for a, b in pairwise(quantiles)):
        raise _bad("quantiles: must be sorted ascending and unique", "e.g. [0.1, 0.5, 0.9]")
    options = _object(body.get("options") or {}, "options")
    parameters = _object(body.get("parameters") or {}, "parameters")
    extra = sorted(set(parameters) - _PARAMETER_FIELDS)
    if extra:
        raise _bad(f"parameters: extra fields not permitted: {extra}")
    covariates_mode = parameters.get("covariates_mode", "best_effort")
    if covariates_mode not in ("best_effort", "strict"):
        raise _bad("parameters.covariates_mode: expected 'best_effort' or 'strict'")
    timeout = body.get("timeout")
    if timeout is not None and (not _is_number(timeout) or not timeout > 0):
        raise _bad("timeout: expected a number > 0")
    keep_alive = body.get("keep_alive")
    if keep_alive is not None and not (isinstance(keep_alive, str) or _is_number(keep_alive)):
        raise _bad("keep_alive: expected a duration string or a number of seconds")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream: expected a boolean")
    if body.get("response_options") is not None:
        _object(body["response_options"], "response_options")
    raw_series = body["series"]
    if not isinstance(raw_series, list) or not raw_series:
        raise _bad("series: expected a non-empty list of series")
    series = [_validate_series(item, i, horizon) for i, item in enumerate(raw_series)]
    ids = [s.id for s in series]
    if len(set(ids)) != len(ids):
        raise _bad("series: ids must be unique within a request")
    return ForecastRequest(
        model=model,
        horizon=horizon,
        quantiles=quantiles,
        series=series,
        options=options,
        covariates_mode=covariates_mode,
        timeout=float(timeout) if timeout is not None else None,
        stream=stream,
    )


def _validate_series(raw: Any, i: int, horizon: int) -> Series:
    where = f"series[{i}]"
    raw = _object(raw, where)
    extra = sorted(set(raw) - _SERIES_FIELDS)
    if extra:
        raise _bad(f"{where}: extra fields not permitted: {extra}")
    sid = raw.get("id")
    if not isinstance(sid, str) or not sid:
        raise _bad(f"{where}.id: expected a non-empty string")
    freq = raw.get("freq", "auto")
    if not isinstance(freq, str) or not freq:
        raise _bad(f"{where}.freq: expected a pandas offset alias or 'auto'")
    target = raw.get("target")
    if not isinstance(target, list) or not target:
        raise _bad(f"{where}.target: expected a non-empty list of numbers", "send at least one observation")
    if not all(_is_number(v) and math.isfinite(v) for v in target):
        raise _bad(f"{where}.target: every value must be a finite number (no null, NaN or strings)")
    n = len(target)
    timestamps = raw.get("timestamps")
    if timestamps is not None:
        if not isinstance(timestamps, list) or not all(isinstance(t, str) for t in timestamps):
            raise _bad(f"{where}.timestamps: expected a list of ISO-8601 strings")
        if len(timestamps) != n:
            raise _bad(f"{where}.timestamps: length {len(timestamps)} does not match target length {n}")
    past = raw.get("past_covariates") or {}
    future = raw.get("future_covariates") or {}
    for name, covariates, length in (("past_covariates", past, n), ("future_covariates", future, horizon)):
        _object(covariates, f"{where}.{name}")
        for key, values in covariates.items():
            if not isinstance(values, list) or len(values) != length:
                raise _bad(f"{where}.{name}.{key}: expected a list of length {length}")
    missing = sorted(set(future) - set(past))
    if missing:
        raise _bad(f"{where}.future_covariates: keys {missing} must also appear in past_covariates")
    actuals = raw.get("actuals")
    if actuals is not None and (not isinstance(actuals, list) or len(actuals) != horizon):
        raise _bad(f"{where}.actuals: expected a list of length horizon ({horizon})")
    if raw.get("static_covariates") is not None:
        _object(raw["static_covariates"], f"{where}.static_covariates")
    return Series(sid, np.asarray(target, dtype=float), bool(past or future or raw.get("static_covariates")))


# --- models ------------------------------------------------------------------------------------------------

Paths = tuple[list[float | None], dict[str, list[float | None]]]


def qkey(q: float) -> str:
    """Quantile key as tollama writes it: ``format(q, "g")`` ("0.1", "0.05", "0.5")."""
    return format(q, "g")


def forecast_mock(target: np.ndarray, horizon: int, quantiles: list[float]) -> Paths:
    last = float(target[-1])
    return [last] * horizon, {qkey(q): [last] * horizon for q in quantiles}


def forecast_random_walk(target: np.ndarray, horizon: int, quantiles: list[float]) -> Paths:
    last = float(target[-1])
    diffs = np.diff(target[-(SIGMA_WINDOW + 1) :])
    sigma = float(np.std(diffs, ddof=1)) if diffs.size >= 2 else (abs(float(diffs[0])) if diffs.size else 0.0)
    steps = np.sqrt(np.arange(1, horizon + 1, dtype=float))
    bounded = bool(np.all((target >= 0.0) & (target <= 1.0)))
    out: dict[str, list[float | None]] = {}
    for q in quantiles:
        path = last + sigma * steps * float(ndtri(q))
        if bounded:
            path = np.clip(path, 0.0, 1.0)
        out[qkey(q)] = path.tolist()
    return [last] * horizon, out


def forecast_crossing(target: np.ndarray, horizon: int, quantiles: list[float]) -> Paths:
    mean, paths = forecast_random_walk(target, horizon, quantiles)
    keys = list(paths)
    return mean, {k: paths[other] for k, other in zip(keys, reversed(keys), strict=True)}


def forecast_missing(target: np.ndarray, horizon: int, quantiles: list[float]) -> Paths:
    mean, paths = forecast_random_walk(target, horizon, quantiles)
    if paths:
        paths.pop(qkey(quantiles[-1]))
    return mean, paths


def forecast_nan(target: np.ndarray, horizon: int, quantiles: list[float]) -> Paths:
    mean, paths = forecast_random_walk(target, horizon, quantiles)
    mean = list(mean)
    mean[-1] = None
    if paths:
        first = next(iter(paths))
        paths[first] = [None, *paths[first][1:]]
    return mean, paths


@dataclass(frozen=True)
class Model:
    name: str
    family: str
    run: Callable[[np.ndarray, int, list[float]], Paths]
    slow: bool = False


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("mock", "mock", forecast_mock),
        Model("sandbox-quantile", "sandbox", forecast_random_walk),
        Model("sandbox-crossing", "sandbox", forecast_crossing),
        Model("sandbox-missing", "sandbox", forecast_missing),
        Model("sandbox-nan", "sandbox", forecast_nan),
        Model("sandbox-slow", "sandbox", forecast_random_walk, slow=True),
    )
}
#: Listed by /v1/models but not installed: forecasting with them is a 404, as before ``tollama pull``.
NOT_INSTALLED: dict[str, str] = {"chronos2": "chronos", "timesfm-2.5-200m": "timesfm"}


# --- HTTP --------------------------------------------------------------------------------------------------


def _request_id(request: web.Request) -> str:
    return request.headers.get("X-Request-ID") or uuid.uuid4().hex


def _json(payload: Any, request_id: str, status: int = 200) -> web.Response:
    # allow_nan=False: the nulls of sandbox-nan are real JSON nulls, never the non-standard NaN token
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return web.Response(text=body, status=status, content_type="application/json", headers={"X-Request-ID": request_id})


def _error(exc: ForecastError, request_id: str) -> web.Response:
    exit_codes = {"INVALID_REQUEST": 2, "MODEL_MISSING": 4, "TIMEOUT": 6}
    payload = {
        "detail": exc.detail,
        "hint": exc.hint,
        "error": {"code": exc.code, "message": exc.detail, "exit_code": exit_codes.get(exc.code, 10)},
    }
    return _json(payload, request_id, exc.status)


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok"}, _request_id(request))


async def models(request: web.Request) -> web.Response:
    license_info = {"type": "sandbox", "needs_acceptance": False, "accepted": True}
    installed = [
        {"name": m.name, "family": m.family, "installed": True, "license": license_info} for m in MODELS.values()
    ]
    available = installed + [
        {
            "name": name,
            "family": family,
            "installed": False,
            "license": {"type": "apache-2.0", "needs_acceptance": False},
        }
        for name, family in NOT_INSTALLED.items()
    ]
    return _json({"available": available, "installed": installed}, _request_id(request))


def _usage(app: web.Application, req: ForecastRequest) -> dict[str, Any]:
    counters = app[STATE].setdefault("tollama", {"requests": 0})
    counters["requests"] += 1
    per_series = 1 + len(req.quantiles)
    return {
        "requests": counters["requests"],
        "series": len(req.series),
        "input_points": int(sum(s.target.size for s in req.series)),
        "output_points": len(req.series) * req.horizon * per_series,
    }


def _finite(values: list[float | None]) -> list[float | None]:
    """Overflowed values (inf) travel as null, like NaN, so the body stays standard JSON."""
    return [v if v is None or math.isfinite(v) else None for v in values]


async def run_forecast(request: web.Request, body: Any) -> dict[str, Any]:
    """Validate, look the model up, run it; raises :class:`ForecastError`."""
    started = time.perf_counter()
    req = validate(body)
    model = MODELS.get(req.model)
    if model is None:
        raise ForecastError(
            404, f"model '{req.model}' is not installed", f"run tollama pull {req.model}", "MODEL_MISSING"
        )
    warnings: list[str] = []
    for s in req.series:
        if s.has_covariates:
            if req.covariates_mode == "strict":
                raise _bad(
                    f"model '{model.name}' does not support covariates (series '{s.id}')",
                    "drop the covariates or use covariates_mode 'best_effort'",
                )
            warnings.append(f"model '{model.name}' does not support covariates; ignored them for series '{s.id}'")
    if model.slow:
        delay = req.options.get("delay_s", DEFAULT_SLOW_DELAY_S)
        delay = float(delay) if _is_number(delay) and delay >= 0 else DEFAULT_SLOW_DELAY_S
        if req.timeout is not None and req.timeout < delay:
            await asyncio.sleep(req.timeout)
            raise ForecastError(
                504, f"forecast timed out after {req.timeout:g}s", "raise timeout or use a faster model", "TIMEOUT"
            )
        await asyncio.sleep(delay)
    inference_start = time.perf_counter()
    forecasts = []
    for s in req.series:
        mean, paths = model.run(s.target, req.horizon, req.quantiles)
        forecasts.append({"id": s.id, "mean": _finite(mean), "quantiles": {k: _finite(v) for k, v in paths.items()}})
    done = time.perf_counter()
    return {
        "model": model.name,
        "forecasts": forecasts,
        "warnings": warnings or None,
        "timing": {
            "model_load_ms": 0.0,
            "inference_ms": round((done - inference_start) * 1000.0, 3),
            "total_ms": round((done - started) * 1000.0, 3),
        },
        "usage": _usage(request.app, req),
    }


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(
            f"request body is not valid JSON: {exc}", "send a JSON object with Content-Type: application/json"
        ) from None


async def forecast(request: web.Request) -> web.Response:
    request_id = _request_id(request)
    try:
        body = await _read_json(request)
        if isinstance(body, dict) and body.get("stream") is True:
            raise _bad("stream: /v1/forecast does not stream", 'send "stream": false or use /api/forecast')
        return _json(await run_forecast(request, body), request_id)
    except ForecastError as exc:
        return _error(exc, request_id)


async def api_forecast(request: web.Request) -> web.StreamResponse:
    """Ollama-style forecast: NDJSON progress lines then ``{"done": true, "response": ...}`` unless stream=false."""
    request_id = _request_id(request)
    try:
        body = await _read_json(request)
        result = await run_forecast(request, body)
    except ForecastError as exc:
        return _error(exc, request_id)
    if body.get("stream") is False:
        return _json(result, request_id)
    lines = [{"status": "loading model"}, {"status": "running forecast"}, {"done": True, "response": result}]
    text = "".join(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n" for line in lines)
    return web.Response(text=text, content_type="application/x-ndjson", headers={"X-Request-ID": request_id})


def setup(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_get("/tollama/v1/health", health, name="tollama.health")
    app.router.add_get("/tollama/v1/models", models, name="tollama.models")
    app.router.add_post("/tollama/v1/forecast", forecast, name="tollama.forecast")
    app.router.add_post("/tollama/api/forecast", api_forecast, name="tollama.api_forecast")
