"""Which forecasting models the service may name, and under which licence.

A model is ``commercial_ok`` (open weights under a licence that permits production use) or ``research_only``
(e.g. CC-BY-NC weights). A production configuration that names a research-only model, or a model the registry
does not know, must fail at start-up, not at the first request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["REGISTRY", "License", "LicenseError", "ModelSpec", "check_models"]


class License(StrEnum):
    COMMERCIAL_OK = "commercial_ok"
    RESEARCH_ONLY = "research_only"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    license: License
    weights_licence: str


class LicenseError(ValueError):
    """The configuration names a model it may not serve."""


REGISTRY: Final[Mapping[str, ModelSpec]] = {
    spec.name: spec
    for spec in (
        ModelSpec("chronos2", License.COMMERCIAL_OK, "Apache-2.0"),
        ModelSpec("timesfm-2.5-200m", License.COMMERCIAL_OK, "Apache-2.0"),
        ModelSpec("toto-open-base-1.0", License.COMMERCIAL_OK, "Apache-2.0"),
        ModelSpec("moirai-2.0-R-small", License.RESEARCH_ONLY, "CC-BY-NC-4.0"),
        ModelSpec("mock", License.COMMERCIAL_OK, "MIT (tollama's contract-test model)"),
        ModelSpec("sandbox-quantile", License.COMMERCIAL_OK, "sandbox"),
        ModelSpec("sandbox-crossing", License.COMMERCIAL_OK, "sandbox"),
        ModelSpec("sandbox-missing", License.COMMERCIAL_OK, "sandbox"),
        ModelSpec("sandbox-nan", License.COMMERCIAL_OK, "sandbox"),
        ModelSpec("sandbox-slow", License.COMMERCIAL_OK, "sandbox"),
    )
}


def check_models(
    names: Iterable[str], *, production: bool, registry: Mapping[str, ModelSpec] = REGISTRY
) -> list[ModelSpec]:
    """The specs of ``names``; raise `LicenseError` for an unknown model, or a research-only one in production."""
    specs = []
    for name in names:
        spec = registry.get(name)
        if spec is None:
            raise LicenseError(f"model {name!r} is not in the model registry (known: {sorted(registry)})")
        if production and spec.license is License.RESEARCH_ONLY:
            raise LicenseError(
                f"model {name!r} is research_only ({spec.weights_licence}) and cannot be served in production"
            )
        specs.append(spec)
    if not specs:
        raise LicenseError("no forecasting model configured")
    return specs
