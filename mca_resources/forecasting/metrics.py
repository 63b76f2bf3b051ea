"""The service's Prometheus metrics (``tsfm_*``), in a registry owned by one app.

A registry per app (not the global one) so tests and benchmarks can build many apps in one process. No label
ever carries an identity, a token, a market id or a request digest: every label has a small fixed set of values.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from mca_core.breaker import BreakerState
from mca_core.degradation import Mode

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "tsfm_forecast_requests",
            "Forecast requests by outcome and degradation mode.",
            ["outcome", "mode"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "tsfm_forecast_request_duration_seconds",
            "End-to-end forecast latency.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "tsfm_upstream_request_duration_seconds",
            "tollama call latency (each attempt).",
            ["status_class"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter("tsfm_upstream_errors", "tollama errors by reason.", ["reason"], registry=r)
        self.circuit_state = Gauge(
            "tsfm_circuit_state", "A model's shared breaker: 0 closed, 1 half-open, 2 open.", ["model"], registry=r
        )
        self.circuit_transitions = Counter(
            "tsfm_circuit_transitions", "Shared breaker transitions by target state.", ["model", "to"], registry=r
        )
        self.identity_breaker_opens = Counter(
            "tsfm_identity_breaker_opens",
            "An identity's own breaker opened on its consecutive failures (others unaffected).",
            ["model"],
            registry=r,
        )
        self.cache_lookups = Counter("tsfm_cache_lookups", "Cache lookups by result.", ["result"], registry=r)
        self.cache_entries = Gauge("tsfm_cache_entries", "Entries in the forecast cache.", registry=r)
        self.fallbacks = Counter(
            "tsfm_fallbacks", "Answers not from a fresh model call, by reason.", ["reason"], registry=r
        )
        self.crossing_fixes = Counter("tsfm_quantile_crossing_fixes", "Forecast steps re-sorted.", registry=r)
        self.rate_limited = Counter("tsfm_rate_limited", "Forecast requests answered 429.", registry=r)
        self.read_rate_limited = Counter(
            "mca_read_rate_limited", "Requests to the other routes answered 429 (per-address limit).", registry=r
        )
        self.query_rejected = Counter(
            "mca_query_rejected", "Requests answered 400 for an unknown or malformed query parameter.", registry=r
        )
        self.server_errors = Counter(
            "mca_server_errors", "Responses with a 5xx status, by status.", ["status"], registry=r
        )
        self.auth_failures = Counter("tsfm_auth_failures", "Requests answered 401, by reason.", ["reason"], registry=r)
        self.degradation_mode = Gauge(
            "tsfm_degradation_mode", "A model's mode: 0 normal, 1 degraded, 2 baseline-only.", ["model"], registry=r
        )
        self.conformal_loaded = Gauge("tsfm_conformal_state_loaded", "1 when a conformal state is loaded.", registry=r)
        for mode in Mode:
            for outcome in ("ok", "cache_hit", "stale", "baseline"):
                self.requests.labels(outcome=outcome, mode=mode.value)

    def child(self, metric: MetricWrapperBase, *values: str) -> Any:
        """``metric.labels(*values)``, remembered: ``labels`` takes a lock and rebuilds its key on every call, which
        is a measurable share of a baseline forecast."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def add_model(self, model: str) -> None:
        """Series of a newly served model, at zero, so dashboards see them before the first transition."""
        for state in BreakerState:
            self.circuit_transitions.labels(model=model, to=state.value)
        self.circuit_state.labels(model=model).set(0)
        self.degradation_mode.labels(model=model).set(0)
        self.identity_breaker_opens.labels(model=model)

    def on_transition(self, model: str, _: BreakerState, to: BreakerState) -> None:
        self.circuit_transitions.labels(model=model, to=to.value).inc()
        self.circuit_state.labels(model=model).set(to.gauge)

    def render(self) -> bytes:
        return generate_latest(self.registry)
