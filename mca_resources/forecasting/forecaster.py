"""The guarded forecaster: one `Forecaster.forecast` call per request, used by the HTTP handler and by batch jobs.

Path of a request: series preparation (too few points, long gaps, illiquid → baseline), the degradation mode
(baseline-only → baseline), the TTL cache (fresh → answer), the circuit breaker (open → stale or baseline),
then tollama with a total timeout and, in normal mode, one retry with jitter. A failed call serves a stale
cached answer (stale-if-error) when one is young enough, else the baseline with ``tollama_error:<reason>``. Every
band, from whichever source, goes through the same post-processing, so a client always gets a valid band.

Breakers and degradation modes are per model (a process has one tollama), and fed with the identity each call was
made for: one identity's failures cut that identity off, and move the model's shared state only when other
identities' calls fail too (``MCA_TSFM_MIN_FAILING_IDENTITIES``), so one client cannot degrade the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from mca_core.baselines import BASELINES
from mca_core.breaker import IdentityBreakers
from mca_core.degradation import DegradationMonitor, DegradationPolicy, Mode
from mca_core.model_registry import check_models
from mca_core.postprocess import postprocess
from mca_core.series_prep import PreparedSeries, freq_seconds, prepare_series
from mca_core.ttl_cache import StaleIfErrorCache, request_digest
from mca_resources.errors import (
    InvalidResponse,
    ServerError,
    UpstreamConnectError,
    UpstreamHTTPError,
    UpstreamTimeout,
)
from mca_resources.forecasting.conformal_states import ConformalStates
from mca_resources.forecasting.metrics import ServiceMetrics
from mca_resources.forecasting.schemas import ForecastIn, ForecastMeta, ForecastOut
from mca_resources.settings import Settings
from mca_resources.tollama import TollamaClient, TollamaRequest, TollamaSeries, quantile_key

log = logging.getLogger("mca.serving")

FloatArray = npt.NDArray[np.float64]
Outcome = Literal["ok", "cache_hit", "stale", "baseline"]
RETRY_JITTER_S = (0.05, 0.15)
#: The identity of calls made in-process (the batch asset), where no bearer token names one.
LOCAL_IDENTITY = "local"
#: Canonical encoding for cache keys: dict keys sorted, so {"a", "b"} and {"b", "a"} share an entry.
_CANONICAL = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True)
class ModelAnswer:
    """What the cache keeps: the model's raw paths (model space), so post-processing always uses today's state."""

    raw: FloatArray
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ModelGuards:
    """The guards' state of one model: its breakers (shared and per identity) and its degradation mode."""

    model: str
    breakers: IdentityBreakers
    degradation: DegradationMonitor


@dataclass
class _Route:
    outcome: Outcome
    runtime: Literal["tollama", "baseline"]
    model_name: str
    raw: FloatArray
    model_space: Literal["none", "logit"]  # the space ``raw`` is in
    cache: Literal["fresh", "stale", "miss", "bypass"]
    fallback_reason: str | None = None
    warnings: list[str] = field(default_factory=list)


def _error_reason(exc: BaseException) -> str:
    if isinstance(exc, UpstreamTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, UpstreamConnectError):
        return "connect"
    if isinstance(exc, UpstreamHTTPError):  # 4xx (429 included) is never retried; 5xx is
        return "http_5xx" if exc.status >= 500 else "http_4xx"
    if isinstance(exc, InvalidResponse):
        return "invalid_response"
    return "unexpected"


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamTimeout | TimeoutError | UpstreamConnectError | ServerError)


def _tollama_freq(freq: str) -> str:
    return freq[:-1] + "min" if freq.endswith("m") else freq


class Forecaster:
    """Holds the guards' state (breakers and degradation monitor per model, the cache) for one process."""

    def __init__(
        self,
        settings: Settings,
        tollama: TollamaClient | None,
        metrics: ServiceMetrics,
        conformal: ConformalStates,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.models = tuple(m.strip() for m in settings.tsfm_models.split(",") if m.strip())
        check_models(self.models, production=settings.environment == "production")
        if settings.tsfm_baseline not in BASELINES:
            raise ValueError(f"MCA_TSFM_BASELINE={settings.tsfm_baseline!r}: expected one of {sorted(BASELINES)}")
        self.settings = settings
        self.tollama = tollama
        self.metrics = metrics
        self.conformal = conformal
        self._clock = clock
        self.model_guards: dict[str, ModelGuards] = {}
        for model in self.models:
            self.guards(model)
        self.cache: StaleIfErrorCache[ModelAnswer] = StaleIfErrorCache(
            settings.tsfm_cache_fresh_s, settings.tsfm_cache_stale_s, clock=clock
        )
        self._rng = random.Random()

    def guards(self, model: str) -> ModelGuards:
        """The guards of ``model``, made on first use."""
        found = self.model_guards.get(model)
        if found is None:
            s = self.settings
            self.metrics.add_model(model)
            breakers = IdentityBreakers(
                s.tsfm_breaker_failures,
                s.tsfm_breaker_reset_s,
                min_identities=s.tsfm_min_failing_identities,
                clock=self._clock,
                on_transition=partial(self.metrics.on_transition, model),
                on_identity_open=self.metrics.child(self.metrics.identity_breaker_opens, model).inc,
            )
            policy = DegradationPolicy(window_s=s.tsfm_degradation_window_s, min_sources=s.tsfm_min_failing_identities)
            found = self.model_guards[model] = ModelGuards(
                model, breakers, DegradationMonitor(policy, clock=self._clock)
            )
        return found

    async def forecast(self, req: ForecastIn, identity: str = LOCAL_IDENTITY) -> ForecastOut:
        """A valid band for ``req`` (already validated by `schemas.cross_field_errors`) asked for by ``identity``;
        never raises on upstream."""
        started = time.perf_counter()
        prepared = prepare_series(
            req.y,
            step_s=freq_seconds(req.freq),
            min_points=self.settings.tsfm_min_points,
            max_gap_s=self.settings.tsfm_max_gap_s,
            liquidity_bucket=req.liquidity_bucket,
            max_len=self.settings.tsfm_input_len,
        )
        model = req.model.name or self.models[0]
        guards = self.guards(model)
        mode = guards.degradation.mode()
        if prepared.reason is not None:
            route = self._baseline(req, prepared, prepared.reason)
        elif mode is Mode.BASELINE_ONLY:
            route = self._baseline(req, prepared, "degradation_baseline_only")
        else:
            route = await self._model_route(req, prepared, mode, model, guards, identity)
        return await self._finish(req, prepared, route, mode, started, guards, identity)

    # --- routes -------------------------------------------------------------------------------------------

    def _baseline(self, req: ForecastIn, prepared: PreparedSeries, reason: str) -> _Route:
        name = self.settings.tsfm_baseline
        raw = BASELINES[name](prepared.y, req.horizon_steps, req.quantiles, transform=req.transform.space)
        return _Route("baseline", "baseline", name, raw, "none", "bypass", reason)

    @staticmethod
    def _cache_key(req: ForecastIn, model: str) -> str:
        """Digest of the whole request with the model resolved, except what cannot change the model's answer:
        ``market_id`` and ``as_of_ts`` (labels), ``liquidity_bucket`` (it picks the conformal group, applied after
        the cache, and ``LOW`` never reaches the model)."""
        canonical = msgspec.structs.replace(
            req,
            market_id="",
            as_of_ts=None,
            liquidity_bucket=None,
            model=msgspec.structs.replace(req.model, name=model),
        )
        return request_digest(_CANONICAL.encode(canonical))

    async def _model_route(
        self, req: ForecastIn, prepared: PreparedSeries, mode: Mode, model: str, guards: ModelGuards, identity: str
    ) -> _Route:
        key = self._cache_key(req, model)
        hit = self.cache.lookup(key)
        self.metrics.child(self.metrics.cache_lookups, hit.freshness if hit else "miss").inc()
        if hit is not None and hit.freshness == "fresh":
            return _Route("cache_hit", "tollama", model, hit.value.raw, req.transform.space, "fresh", None,
                          list(hit.value.warnings))  # fmt: skip
        if not guards.breakers.allow(identity):
            reason = "circuit_breaker_open"
        else:
            try:
                answer = await self._call(req, prepared, model, attempts=2 if mode is Mode.NORMAL else 1)
            except Exception as exc:
                reason = f"tollama_error:{_error_reason(exc)}"
                log.warning("tollama forecast failed (%s): %s", reason, exc)
                guards.breakers.record_failure(identity)
                guards.degradation.record(False, identity)
            except BaseException:
                guards.breakers.record_failure(identity)  # a cancelled probe must not leave a breaker half-open
                raise
            else:
                guards.breakers.record_success(identity)
                guards.degradation.record(True, identity)
                self.cache.put(key, answer)
                self.metrics.cache_entries.set(len(self.cache))
                return _Route(
                    "ok", "tollama", model, answer.raw, req.transform.space, "miss", None, list(answer.warnings)
                )
        if hit is not None:  # stale-if-error
            note = f"served a cached forecast {hit.age_s:.0f} s old: {reason}"
            return _Route("stale", "tollama", model, hit.value.raw, req.transform.space, "stale", "stale_if_error",
                          [*hit.value.warnings, note])  # fmt: skip
        return self._baseline(req, prepared, reason)

    async def _call(self, req: ForecastIn, prepared: PreparedSeries, model: str, attempts: int) -> ModelAnswer:
        timeout = self.settings.tsfm_timeout_s
        y = prepared.y
        if req.transform.space == "logit":
            p = np.clip(y, req.transform.eps, 1.0 - req.transform.eps)
            y = np.log(p) - np.log1p(-p)
        n = y.size
        series = TollamaSeries(
            id=req.market_id,
            target=y.tolist(),
            freq=_tollama_freq(req.freq),
            past_covariates={k: v[-n:] for k, v in req.x_past.items()} if req.x_past else None,
            future_covariates=dict(req.x_future) if req.x_future else None,
        )
        body = TollamaRequest(
            model=model,
            horizon=req.horizon_steps,
            quantiles=list(req.quantiles),
            series=[series],
            options=dict(req.model.params) or None,
            timeout=timeout,
        )
        if self.tollama is None:
            raise UpstreamConnectError("no tollama client (the service is not started)")
        for attempt in range(attempts):
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    response = await self.tollama.forecast(body)
            except Exception as exc:
                reason = _error_reason(exc)
                self.metrics.child(self.metrics.upstream_seconds, "error").observe(time.perf_counter() - started)
                self.metrics.child(self.metrics.upstream_errors, reason).inc()
                if attempt + 1 < attempts and _retryable(exc):
                    await asyncio.sleep(self._rng.uniform(*RETRY_JITTER_S))
                    continue
                raise
            self.metrics.child(self.metrics.upstream_seconds, "2xx").observe(time.perf_counter() - started)
            paths = response.forecasts[0].quantiles  # check_forecast guaranteed every quantile, finite, full length
            raw = np.array([paths[quantile_key(q)] for q in req.quantiles], dtype=np.float64)
            return ModelAnswer(raw, tuple(response.warnings or ()))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- the answer ---------------------------------------------------------------------------------------

    async def _finish(
        self,
        req: ForecastIn,
        prepared: PreparedSeries,
        route: _Route,
        mode: Mode,
        started: float,
        guards: ModelGuards,
        identity: str,
    ) -> ForecastOut:
        await self.conformal.refresh_if_due()
        self.metrics.conformal_loaded.set(1 if self.conformal.states else 0)
        state = self.conformal.states.get(route.model_name)
        band = postprocess(
            route.raw,
            req.quantiles,
            transform=route.model_space,
            min_width=self.settings.tsfm_min_width,
            max_width=self.settings.tsfm_max_width,
            conformal=state,
            group=req.liquidity_bucket,
        )
        if band.crossing_steps:
            self.metrics.crossing_fixes.inc(band.crossing_steps)
        if route.fallback_reason is not None:
            self.metrics.child(self.metrics.fallbacks, route.fallback_reason).inc()
        self.metrics.child(self.metrics.degradation_mode, guards.model).set(guards.degradation.mode().level)
        self.metrics.child(self.metrics.requests, route.outcome, mode.value).inc()
        elapsed = time.perf_counter() - started
        self.metrics.request_seconds.observe(elapsed)
        values = band.values.tolist()
        return ForecastOut(
            market_id=req.market_id,
            as_of_ts=req.as_of_ts,
            freq=req.freq,
            horizon_steps=req.horizon_steps,
            quantiles=list(req.quantiles),
            yhat_q={quantile_key(q): row for q, row in zip(req.quantiles, values, strict=True)},
            meta=ForecastMeta(
                runtime=route.runtime,
                model_name=route.model_name,
                model_version=req.model.version if route.runtime == "tollama" else None,
                latency_ms=round(elapsed * 1000.0, 3),
                input_len=prepared.observed,
                transform=req.transform.space,
                fallback_used=route.fallback_reason is not None,
                fallback_reason=route.fallback_reason,
                cache=route.cache,
                degradation_mode=mode.value,
                conformal_applied=band.conformal_applied,
                crossing_fixed=band.crossing_steps,
                warnings=[*route.warnings, *band.warnings],
                cache_hit=route.cache in ("fresh", "stale"),
                cache_stale=route.cache == "stale",
                circuit_breaker_state=guards.breakers.state_for(identity).value,
                degradation_state=mode.value,
            ),
        )
