"""The connectors as Dagster resources, configured from ``MCA_*`` settings (editable in the launchpad).

This is the only module of ``mca_resources`` that imports dagster: the clients stay usable by the service.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mca_core.trust_params import TrustConfig
from mca_resources import factory
from mca_resources.clob import ClobClient
from mca_resources.gamma import GammaClient
from mca_resources.http import RawSink
from mca_resources.settings import Settings
from mca_resources.subgraph import SubgraphClient
from mca_resources.tollama import TollamaClient
from mca_resources.trust_config import load_trust_config

#: resource field -> settings field
_SETTINGS_FIELDS = {
    "gamma_url": "gamma_url",
    "clob_url": "clob_url",
    "ws_url": "ws_url",
    "subgraph_url": "subgraph_url",
    "timeout_s": "http_timeout_s",
    "max_retries": "http_max_retries",
    "max_concurrency": "http_max_concurrency",
}


class PolymarketResource(dg.ConfigurableResource):  # type: ignore[misc]
    """Gamma, CLOB REST, subgraph and market-WebSocket endpoints with the HTTP behaviour settings."""

    gamma_url: str
    clob_url: str
    ws_url: str
    subgraph_url: str
    timeout_s: float = 10.0
    max_retries: int = 6
    max_concurrency: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> PolymarketResource:
        return cls(**{field: getattr(settings, name) for field, name in _SETTINGS_FIELDS.items()})

    def settings(self) -> Settings:
        return Settings(**{name: getattr(self, field) for field, name in _SETTINGS_FIELDS.items()})

    def gamma(self, raw_sink: RawSink | None = None) -> GammaClient:
        return factory.gamma_client(self.settings(), raw_sink)

    def clob(self, raw_sink: RawSink | None = None) -> ClobClient:
        return factory.clob_client(self.settings(), raw_sink)

    def subgraph(self, raw_sink: RawSink | None = None) -> SubgraphClient:
        return factory.subgraph_client(self.settings(), raw_sink)


#: the settings of the daily graph's methods that a run may override in the launchpad
_METHOD_FIELDS = (
    "liquidity_low_usd",
    "liquidity_high_usd",
    "cutoff_max_staleness",
    "drift_swing",
    "drift_psi",
    "drift_coverage_tolerance",
    "drift_coverage_n_min",
    "drift_coverage_min_markets",
    "postmortem_wrong_threshold",
    "postmortem_max_others",
)


class MethodsResource(dg.ConfigurableResource):  # type: ignore[misc]
    """Thresholds of the daily graph's methods (segment edges, cutoff staleness, drift, postmortem selection).

    From ``MCA_*`` settings.

    A resource rather than a read of the environment inside the asset, so the deployment's settings (and a run's
    launchpad override) decide them and every run records what it used.
    """

    liquidity_low_usd: float
    liquidity_high_usd: float
    cutoff_max_staleness: str
    drift_swing: float
    drift_psi: float
    drift_coverage_tolerance: float
    drift_coverage_n_min: int
    drift_coverage_min_markets: int
    postmortem_wrong_threshold: float = 0.7
    postmortem_max_others: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> MethodsResource:
        return cls(**{name: getattr(settings, name) for name in _METHOD_FIELDS})

    def settings(self) -> Settings:
        """The values as settings (validated: a bad edge or staleness spec raises naming its variable)."""
        return Settings(**{name: getattr(self, name) for name in _METHOD_FIELDS})


class TrustResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The trust formula's configuration: the documented defaults, or the file ``MCA_TRUST_CONFIG_FILE`` names.

    A resource so that a run records which file it used (and a launchpad run may name another one).
    """

    config_file: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustResource:
        return cls(config_file=str(settings.trust_config_file or ""))

    def config(self) -> TrustConfig:
        """The validated config (a bad file raises ``ValueError`` naming it and the field)."""
        return load_trust_config(Path(self.config_file) if self.config_file else None)


class TollamaResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The tollama runtime used by batch forecasting."""

    url: str
    timeout_s: float = 2.0

    def client(self) -> TollamaClient:
        return factory.tollama_client(Settings(tollama_url=self.url), timeout_s=self.timeout_s)
