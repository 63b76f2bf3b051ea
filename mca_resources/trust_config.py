"""The documented defaults of the trust score and the file that overrides them (``MCA_TRUST_CONFIG_FILE``).

``docs/trust.md`` explains every value. An override file is JSON or TOML (by suffix) holding any
subset of ``TrustConfig``'s fields, nested as in the Struct (``{"weights": {...}, "formula_version":
"..."}``): it is merged onto the defaults key by key and validated as a whole, so a typo or a
weight set that does not sum to 1 fails the run with the field's path. Change ``formula_version``
with any value.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Final

import msgspec

from mca_core.trust_params import (
    LOW_CONFIDENCE_REASONS,
    ExpiryParams,
    LiquidityParams,
    ManipulationParams,
    StabilityParams,
    TrackRecordParams,
    TrustConfig,
    TrustWeights,
)

__all__ = ["DEFAULT_TRUST_CONFIG", "load_trust_config"]

DEFAULT_TRUST_CONFIG: Final = TrustConfig(
    formula_version="trust-v1",
    clarity_scorer="rules",
    neutral=0.5,
    lookback_hours=24.0,
    min_points=6,
    # the segment record is shrunk toward neutral by n already: a thin record is not a missing input
    flag_reasons=tuple(reason for reason in LOW_CONFIDENCE_REASONS if reason != "few_segment_forecasts"),
    weights=TrustWeights(
        liquidity=0.25, stability=0.15, clarity=0.15, manipulation=0.15, time_to_expiry=0.10, track_record=0.20
    ),
    liquidity=LiquidityParams(
        volume_full_usd=1_000_000.0,
        depth_full_usd=100_000.0,
        spread_zero=0.10,
        volume_share=0.5,
        depth_share=0.25,
        spread_share=0.25,
    ),
    stability=StabilityParams(volatility_zero=0.10),
    manipulation=ManipulationParams(
        spike_z_start=3.0,
        spike_z_full=10.0,
        spike_floor_usd=10.0,
        spike_floor_share=1.0,
        oi_jump_start=0.05,
        oi_jump_full=0.30,
        oi_floor_usd=100.0,
        price_jump_start=0.03,
        price_jump_full=0.10,
        jump_backing_usd=50.0,
        jump_backing_multiple=2.0,
        reversal_points=6,
        reversal_start=0.02,
        reversal_full=0.08,
        reversal_z_start=3.0,
        reversal_z_full=8.0,
        reversal_step_floor=0.005,
        explained_move_start=0.02,
        explained_move_full=0.08,
        score_gate=0.8,
    ),
    time_to_expiry=ExpiryParams(full_hours=72.0, settle_margin=0.10),
    track_record=TrackRecordParams(brier_zero=0.25, prior_n=50.0, min_n=30),
)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_trust_config(path: Path | None) -> TrustConfig:
    """The defaults, or the defaults overridden by the JSON/TOML file at ``path``; raises ``ValueError`` naming it."""
    if path is None:
        return DEFAULT_TRUST_CONFIG
    try:
        text = path.read_bytes()
        override = tomllib.loads(text.decode()) if path.suffix == ".toml" else msgspec.json.decode(text)
    except (OSError, ValueError, msgspec.DecodeError) as exc:
        raise ValueError(f"MCA_TRUST_CONFIG_FILE={path}: cannot read it: {exc}") from exc
    if not isinstance(override, dict):
        raise ValueError(f"MCA_TRUST_CONFIG_FILE={path}: expected a table of TrustConfig fields")
    merged = _merge(msgspec.to_builtins(DEFAULT_TRUST_CONFIG), override)
    try:
        return msgspec.convert(merged, TrustConfig)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ValueError(f"MCA_TRUST_CONFIG_FILE={path}: {exc}") from exc
