"""``/health`` (the process answers), ``/ready`` (what the forecaster can do now) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State

from mca_resources.forecasting.forecaster import Forecaster
from mca_resources.forecasting.metrics import ServiceMetrics

TOLLAMA_PROBE_TIMEOUT_S = 0.5


class HealthOut(msgspec.Struct):
    status: Literal["ok"]


class ReadyOut(msgspec.Struct):
    status: Literal["ready"]
    tollama: Literal["ok", "unreachable"]
    circuit: str
    degradation_mode: str
    conformal_methods: list[str]
    models: list[str]


class SystemController(Controller):
    tags = ("system",)

    @get("/health", operation_id="Health", security=[])
    async def health(self) -> HealthOut:
        return HealthOut(status="ok")

    @get("/ready", operation_id="Ready", security=[])
    async def ready(self, state: State) -> ReadyOut:
        """Ready as soon as started: the baseline always answers; the fields say whether the model path can."""
        forecaster: Forecaster = state.forecaster
        tollama: Literal["ok", "unreachable"] = "unreachable"
        if forecaster.tollama is not None:
            try:
                async with asyncio.timeout(TOLLAMA_PROBE_TIMEOUT_S):
                    await forecaster.tollama.health()
                tollama = "ok"
            except Exception:  # any failure means "not reachable now"; /ready itself must not fail
                tollama = "unreachable"
        return ReadyOut(
            status="ready",
            tollama=tollama,
            circuit=forecaster.breaker.state.value,
            degradation_mode=forecaster.degradation.mode().value,
            conformal_methods=sorted(forecaster.conformal.states),
            models=list(forecaster.models),
        )


class MetricsController(Controller):
    include_in_schema = False

    @get("/metrics", operation_id="Metrics")
    async def metrics(self, state: State) -> Response[bytes]:
        metrics: ServiceMetrics = state.metrics
        forecaster: Forecaster = state.forecaster
        metrics.circuit_state.set(forecaster.breaker.state.gauge)
        metrics.degradation_mode.set(forecaster.degradation.mode().level)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
