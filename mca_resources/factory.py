"""Clients built from settings: the one place that turns ``MCA_*`` values into configured clients."""

from __future__ import annotations

from mca_resources.clob import ClobClient
from mca_resources.gamma import GammaClient
from mca_resources.http import HttpUpstream, RawSink, RetryPolicy
from mca_resources.settings import Settings
from mca_resources.subgraph import SubgraphClient
from mca_resources.tollama import TollamaClient


def _http(
    settings: Settings,
    base_url: str,
    name: str,
    raw_sink: RawSink | None,
    *,
    timeout_s: float | None = None,
    retry: RetryPolicy | None = None,
) -> HttpUpstream:
    return HttpUpstream(
        base_url,
        name=name,
        timeout_s=settings.http_timeout_s if timeout_s is None else timeout_s,
        retry=retry or RetryPolicy(attempts=settings.http_max_retries),
        max_concurrency=settings.http_max_concurrency,
        raw_sink=raw_sink,
    )


def gamma_client(settings: Settings, raw_sink: RawSink | None = None) -> GammaClient:
    return GammaClient(_http(settings, settings.gamma_url, "gamma", raw_sink))


def clob_client(settings: Settings, raw_sink: RawSink | None = None) -> ClobClient:
    return ClobClient(_http(settings, settings.clob_url, "clob", raw_sink))


def subgraph_client(settings: Settings, raw_sink: RawSink | None = None) -> SubgraphClient:
    return SubgraphClient(_http(settings, settings.subgraph_url, "subgraph", raw_sink))


def tollama_client(settings: Settings, timeout_s: float = 2.0) -> TollamaClient:
    """No retries inside: the forecaster retries once itself and keeps the breaker."""
    return TollamaClient(
        _http(settings, settings.tollama_url, "tollama", None, timeout_s=timeout_s, retry=RetryPolicy(attempts=1))
    )
