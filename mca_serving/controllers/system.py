"""``/health`` (the process answers), ``/ready`` (the snapshot it reads and what the forecaster can do now) and
``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State

from mca_resources.forecasting.forecaster import Forecaster
from mca_resources.forecasting.metrics import ServiceMetrics
from mca_serving.dto import SnapshotStatus
from mca_serving.observability import HttpMetrics
from mca_serving.policy import NO_RATE_LIMIT
from mca_serving.snapshot_reader import SnapshotReader

TOLLAMA_PROBE_TIMEOUT_S = 0.5


class HealthOut(msgspec.Struct):
    status: Literal["ok"]


class ReadyOut(msgspec.Struct):
    status: Literal["ready"]
    tollama: Literal["ok", "unreachable"]
    circuit: str  # the worst shared breaker of the served models
    degradation_mode: str  # the worst mode of the served models
    circuits: dict[str, str]  # model -> its shared breaker's state
    degradation_modes: dict[str, str]  # model -> its mode
    conformal_methods: list[str]
    models: list[str]
    snapshot: SnapshotStatus  # the published snapshot the read endpoints answer from


def snapshot_status(reader: SnapshotReader) -> SnapshotStatus:
    with reader.use() as snap:
        if snap is None:
            return SnapshotStatus(present=False)
        return SnapshotStatus(True, snap.path.name, snap.source, snap.published_ts, round(snap.age_s(), 3), snap.tables)


class SystemController(Controller):
    tags = ("system",)

    @get("/health", operation_id="Health", security=[], opt=NO_RATE_LIMIT)
    async def health(self) -> HealthOut:
        return HealthOut(status="ok")

    @get("/ready", operation_id="Ready", security=[])
    async def ready(self, state: State) -> ReadyOut:
        """Ready as soon as started: the baseline always answers; the fields say whether the model path can and
        which snapshot the read endpoints serve (``snapshot.present`` false: they answer 503 until one is published).
        """
        forecaster: Forecaster = state.forecaster
        tollama: Literal["ok", "unreachable"] = "unreachable"
        if forecaster.tollama is not None:
            try:
                async with asyncio.timeout(TOLLAMA_PROBE_TIMEOUT_S):
                    await forecaster.tollama.health()
                tollama = "ok"
            except Exception:  # any failure means "not reachable now"; /ready itself must not fail
                tollama = "unreachable"
        guards = forecaster.model_guards.values()
        circuits = {g.model: g.breakers.shared.state for g in guards}
        modes = {g.model: g.degradation.mode() for g in guards}
        return ReadyOut(
            status="ready",
            tollama=tollama,
            circuit=max(circuits.values(), key=lambda state: state.gauge).value,
            degradation_mode=max(modes.values(), key=lambda mode: mode.level).value,
            circuits={model: state.value for model, state in circuits.items()},
            degradation_modes={model: mode.value for model, mode in modes.items()},
            conformal_methods=sorted(forecaster.conformal.states),
            models=list(forecaster.models),
            snapshot=snapshot_status(state.reader),
        )


class MetricsController(Controller):
    include_in_schema = False

    @get("/metrics", operation_id="Metrics", opt=NO_RATE_LIMIT)
    async def metrics(self, state: State) -> Response[bytes]:
        metrics: ServiceMetrics = state.metrics
        forecaster: Forecaster = state.forecaster
        for guards in forecaster.model_guards.values():
            metrics.circuit_state.labels(model=guards.model).set(guards.breakers.shared.state.gauge)
            metrics.degradation_mode.labels(model=guards.model).set(guards.degradation.mode().level)
        http: HttpMetrics = state.http_metrics
        with state.reader.use() as snap:
            http.snapshot_age.set(-1.0 if snap is None else snap.age_s())
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
