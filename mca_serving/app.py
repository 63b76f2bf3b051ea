"""The Litestar app factory: settings read once, guards built once, the lifespan owns the tollama HTTP client.

The read endpoints answer from the published serving snapshots only (`SnapshotReader`); the warehouse is never
opened. Start-up fails (before serving anything) on a token file with a placeholder or short token or open to group or
others, and on a production configuration that names a research-only or unknown model. Every route goes through
`policy.RequestPolicy` (address rate limit, query parameters checked); every 5xx is logged with a request id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from mca_core.token_bucket import KeyedTokenBuckets
from mca_resources.forecasting.conformal_states import ConformalStates
from mca_resources.forecasting.forecaster import Forecaster
from mca_resources.forecasting.metrics import ServiceMetrics
from mca_resources.http import HttpUpstream, RetryPolicy
from mca_resources.settings import Settings, get_settings
from mca_resources.tollama import TollamaClient
from mca_serving.auth import AuthGuard, load_token_digests
from mca_serving.calibration_metrics import CalibrationCollector, missing_as_none
from mca_serving.controllers.alerts import AlertsController
from mca_serving.controllers.calibration import (
    CalibrationQualityController,
    ReliabilityController,
    ScoreboardController,
)
from mca_serving.controllers.forecast import ForecastController
from mca_serving.controllers.markets import MarketsController
from mca_serving.controllers.postmortems import PostmortemController
from mca_serving.controllers.system import MetricsController, SystemController
from mca_serving.dashboard.controller import DashboardController
from mca_serving.errors import SERVER_ERROR_STATUSES, server_error_handler
from mca_serving.observability import HttpMetrics, observe
from mca_serving.openapi import close_nested_objects
from mca_serving.policy import RequestPolicy
from mca_serving.snapshot_reader import SnapshotReader

UPSTREAM_CONCURRENCY = 64


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    metrics = ServiceMetrics()
    http_metrics = HttpMetrics(metrics.registry)
    reader = SnapshotReader(settings.serving_dir, on_switch=http_metrics.snapshot_switches.inc)
    metrics.registry.register(CalibrationCollector(missing_as_none(reader.query)))  # mca_calibration_* for the alerts
    conformal = ConformalStates(reader.query, settings.tsfm_conformal_refresh_s)
    forecaster = Forecaster(settings, None, metrics, conformal)  # raises LicenseError on a forbidden model
    auth = AuthGuard(
        digests=load_token_digests(settings.api_tokens_file),  # raises TokenFileError on a weak token
        per_identity=KeyedTokenBuckets(settings.tsfm_rate_per_min / 60.0, settings.tsfm_rate_burst),
        per_address=KeyedTokenBuckets(settings.tsfm_anon_rate_per_min / 60.0, max(1, settings.tsfm_rate_burst // 2)),
        metrics=metrics,
    )
    policy = RequestPolicy(
        KeyedTokenBuckets(settings.read_rate_per_min / 60.0, settings.read_rate_burst), metrics=metrics
    )
    on_server_error = server_error_handler(metrics)

    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        # a plain function: Litestar deep-copies route handlers, and the guard's state must stay shared
        await auth(connection, handler)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        http = HttpUpstream(
            settings.tollama_url,
            name="tollama",
            timeout_s=settings.tsfm_timeout_s,
            retry=RetryPolicy(attempts=1),  # the forecaster owns its single retry
            max_concurrency=UPSTREAM_CONCURRENCY,
            limits={},
        )
        forecaster.tollama = TollamaClient(http)
        await conformal.refresh_if_due()
        try:
            yield
        finally:
            forecaster.tollama = None
            await http.aclose()
            reader.close()

    app = Litestar(
        route_handlers=[
            SystemController,
            MetricsController,
            ScoreboardController,
            ReliabilityController,
            CalibrationQualityController,
            MarketsController,
            AlertsController,
            PostmortemController,
            DashboardController,
            Router("/", route_handlers=[ForecastController], guards=[guard]),
        ],
        lifespan=[lifespan],
        before_request=policy,
        middleware=[observe(http_metrics)],
        exception_handlers=dict.fromkeys(SERVER_ERROR_STATUSES, on_server_error),
        request_max_body_size=settings.tsfm_max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="mca",
            version="0.1.0",
            components=Components(security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer")}),
        ),
        debug=False,
    )
    close_nested_objects(app.openapi_schema)
    policy.bind(app)
    # set after construction: Litestar deep-copies an initial state mapping, and these hold locks and clients
    app.state.forecaster, app.state.metrics, app.state.reader = forecaster, metrics, reader
    app.state.http_metrics = http_metrics
    return app
