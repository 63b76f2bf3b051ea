"""Request and response of ``POST /tsfm/forecast`` (the seed's PRD2 shape), with their bounds.

Bounds live in the types so that the OpenAPI schema states them and msgspec rejects a bad body with a 400 naming
the field. What a JSON schema cannot say (quantiles sorted, covariate lengths) is checked by `cross_field_errors`.
The service decodes bodies strictly (no strings for numbers, timestamps only as RFC 3339 strings with an offset).
The seed's spelling ``model.model_name`` / ``model.model_version`` is accepted beside ``name`` / ``version``.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Annotated, Literal

import msgspec

MAX_POINTS = 4096
MAX_HORIZON = 256
MAX_QUANTILES = 19
#: Quantile levels have at most this many decimals (a resolution of 0.0001), so that their keys
#: ``format(q, "g")``, which tollama uses too, are exact and distinct.
QUANTILE_DECIMALS = 4


def exact(regex: str) -> str:
    """``regex`` anchored to the whole string, in Python and in ECMA-262 (OpenAPI) alike: Python's ``$`` also
    matches before a final newline, so ``"5m\\n"`` passed ``^...$``; the lookahead refuses it."""
    return rf"^(?:{regex})$(?!\n)"


Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
QuantileLevel = Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)]
COVARIATE_NAME = exact(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
CovariateName = Annotated[str, msgspec.Meta(pattern=COVARIATE_NAME)]
CovariateValue = Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)]
Freq = Annotated[str, msgspec.Meta(pattern=exact(r"[1-9][0-9]{0,3}(s|m|min|h|d)"), description="step, e.g. 5m, 1h")]
ModelName = Annotated[str, msgspec.Meta(pattern=exact(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"))]
ModelVersion = Annotated[str, msgspec.Meta(max_length=64)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with a UTC offset")]


def _openapi(**schema: object) -> dict[str, object]:
    """Schema keywords for OpenAPI that Litestar does not derive from nested constraints (list items, dict keys)."""
    return {"extra": schema}


_COVARIATES_SCHEMA = _openapi(
    maxProperties=8,
    propertyNames={"pattern": COVARIATE_NAME},
    additionalProperties={"type": "array", "maxItems": MAX_POINTS,
                          "items": {"type": "number", "minimum": -1e12, "maximum": 1e12}},
)  # fmt: skip
Covariates = Annotated[
    dict[CovariateName, Annotated[list[CovariateValue], msgspec.Meta(max_length=MAX_POINTS)]],
    msgspec.Meta(max_length=8, extra_json_schema=_COVARIATES_SCHEMA),
]


class TransformIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    space: Literal["none", "logit"] = "logit"
    eps: Annotated[float, msgspec.Meta(ge=1e-9, le=1e-2)] = 1e-6


class ModelIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``model_name`` / ``model_version`` (the seed's names) are folded into ``name`` / ``version`` on decoding."""

    provider: Literal["tollama"] = "tollama"
    name: ModelName | None = None
    version: ModelVersion | None = None
    model_name: ModelName | None = None
    model_version: ModelVersion | None = None
    params: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=64)], float | bool],
        msgspec.Meta(
            max_length=16,
            description="passed to tollama as options",
            extra_json_schema=_openapi(
                maxProperties=16,
                propertyNames={"maxLength": 64},
                additionalProperties={"type": ["number", "boolean"]},
            ),
        ),
    ] = {}

    def __post_init__(self) -> None:
        if self.model_name is None and self.model_version is None:  # our spelling: nothing to fold
            return
        for ours, seeds in (("name", "model_name"), ("version", "model_version")):
            given, alias = getattr(self, ours), getattr(self, seeds)
            if given is not None and alias is not None and given != alias:
                raise ValueError(f"{ours} and {seeds} name the same field and differ")  # msgspec: 400 at $.model
            if given is None:
                setattr(self, ours, alias)
            setattr(self, seeds, None)


class ForecastIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``y``: the market's YES probability path, oldest first, one value per ``freq`` step; ``null`` = no data."""

    market_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=exact(r"[^\x00-\x1f\x7f]+"))]
    y: Annotated[
        list[Probability | None],
        msgspec.Meta(
            min_length=1,
            max_length=MAX_POINTS,
            extra_json_schema=_openapi(
                items={"oneOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}]}
            ),
        ),
    ]
    as_of_ts: Timestamp | None = None
    freq: Freq = "5m"
    horizon_steps: Annotated[int, msgspec.Meta(ge=1, le=MAX_HORIZON)] = 12
    quantiles: Annotated[
        list[QuantileLevel],
        msgspec.Meta(
            min_length=1,
            max_length=MAX_QUANTILES,
            description="sorted ascending, unique, at most four decimals (multiples of 0.0001)",
            extra_json_schema=_openapi(
                items={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, uniqueItems=True
            ),
        ),
    ] = msgspec.field(default_factory=lambda: [0.1, 0.5, 0.9])
    x_past: Covariates | None = None
    x_future: Covariates | None = None
    transform: TransformIn = msgspec.field(default_factory=TransformIn)
    model: ModelIn = msgspec.field(default_factory=ModelIn)
    liquidity_bucket: Literal["LOW", "MID", "HIGH"] | None = None


def cross_field_errors(req: ForecastIn, served_models: tuple[str, ...]) -> list[tuple[str, str]]:
    """(field, reason) for each rule spanning fields; empty when the request is valid."""
    errors: list[tuple[str, str]] = []
    if any(b <= a for a, b in pairwise(req.quantiles)):
        errors.append(("quantiles", "must be sorted ascending and unique"))
    if any(round(q, QUANTILE_DECIMALS) != q for q in req.quantiles):
        errors.append(("quantiles", f"levels need at most {QUANTILE_DECIMALS} decimals (a resolution of 0.0001)"))
    if all(v is None for v in req.y):
        errors.append(("y", "needs at least one observed (non-null) value"))
    for name, covariates, length in (("x_past", req.x_past, len(req.y)), ("x_future", req.x_future, req.horizon_steps)):
        for key, values in (covariates or {}).items():
            if len(values) != length:
                errors.append((f"{name}.{key}", f"has {len(values)} values, expected {length}"))
    if req.model.name is not None and req.model.name not in served_models:
        errors.append(("model.name", f"{req.model.name!r} is not served here (served: {list(served_models)})"))
    return errors


class ForecastMeta(msgspec.Struct, kw_only=True):
    runtime: Literal["tollama", "baseline"]
    model_name: str
    model_version: str | None
    latency_ms: float
    input_len: int
    transform: Literal["none", "logit"]
    fallback_used: bool
    fallback_reason: str | None
    cache: Literal["fresh", "stale", "miss", "bypass"]
    degradation_mode: Literal["normal", "degraded", "baseline_only"]
    conformal_applied: bool
    crossing_fixed: int
    warnings: list[str]
    # the seed's names, which its clients read: cache in (fresh, stale), cache == stale, the breaker that decided
    # this request's calls (the model's shared one, or the caller's own when worse), degradation_mode again
    cache_hit: bool
    cache_stale: bool
    circuit_breaker_state: Literal["closed", "open", "half_open"]
    degradation_state: Literal["normal", "degraded", "baseline_only"]


class ForecastOut(msgspec.Struct, kw_only=True):
    market_id: str
    as_of_ts: datetime | None
    freq: str
    horizon_steps: int
    quantiles: list[float]
    yhat_q: dict[str, list[float]]
    meta: ForecastMeta
