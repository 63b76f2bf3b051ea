"""The typed configuration of the trust score (``mca_core.trust``): weights, scales, thresholds, version.

No value has a default here: the documented defaults live in ``mca_resources.trust_config``
(``DEFAULT_TRUST_CONFIG``), the one home of configuration. Every Struct validates itself on
construction and when msgspec decodes or converts into it (a ``ValueError`` naming the field;
msgspec adds the path, e.g. ``- at `$.weights```). Unknown fields are rejected on decode.

Ramps: a parameter pair ``*_start``/``*_full`` maps a measure ``x`` to
``clip((x - start) / (full - start), 0, 1)``: 0 up to ``start``, 1 from ``full`` on.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec

from mca_core.clarity import SCORER_NAMES

__all__ = [
    "LOW_CONFIDENCE_REASONS",
    "ExpiryParams",
    "LiquidityParams",
    "ManipulationParams",
    "StabilityParams",
    "TrackRecordParams",
    "TrustConfig",
    "TrustWeights",
]

#: Every reason a trust row can be low-confidence for, in output order (docs/trust.md defines each).
LOW_CONFIDENCE_REASONS: Final = (
    "no_path",
    "few_points",
    "no_volume",
    "no_liquidity",
    "no_spread",
    "no_path_volume",
    "no_open_interest",
    "no_end_date",
    "no_text",
    "no_segment_record",
    "few_segment_forecasts",
)
_SUM_TOLERANCE: Final = 1e-6


def _finite(owner: str, name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{owner}.{name} must be a finite number, got {value}")


def _positive(owner: str, name: str, value: float) -> None:
    _finite(owner, name, value)
    if value <= 0.0:
        raise ValueError(f"{owner}.{name} must be > 0, got {value}")


def _unit(owner: str, name: str, value: float) -> None:
    _finite(owner, name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}.{name} must be in [0, 1], got {value}")


def _ramp(owner: str, name: str, start: float, full: float) -> None:
    _finite(owner, f"{name}_start", start)
    _finite(owner, f"{name}_full", full)
    if not 0.0 <= start < full:
        raise ValueError(f"{owner}: {name}_start and {name}_full must satisfy 0 <= start < full, got {start}, {full}")


def _shares(owner: str, shares: dict[str, float]) -> None:
    for name, value in shares.items():
        _unit(owner, name, value)
    total = sum(shares.values())
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"{owner}: {', '.join(shares)} must sum to 1, got {total:.6g} (set them together)")


class TrustWeights(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Weight of each component in the score; each in [0, 1], together summing to 1 (never renormalised)."""

    liquidity: float
    stability: float
    clarity: float
    manipulation: float
    time_to_expiry: float
    track_record: float

    def __post_init__(self) -> None:
        _shares("weights", msgspec.structs.asdict(self))


class LiquidityParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """L = volume_share·v + depth_share·d + spread_share·s (shares sum to 1).

    ``v = clip(log10(1 + volume_24h) / log10(1 + volume_full_usd))``, ``d`` the same for
    ``liquidity_usd`` with ``depth_full_usd``, ``s = 1 - clip(spread / spread_zero)`` (spread in
    probability points; ``spread_zero`` is the spread at which ``s`` reaches 0).
    """

    volume_full_usd: float
    depth_full_usd: float
    spread_zero: float
    volume_share: float
    depth_share: float
    spread_share: float

    def __post_init__(self) -> None:
        for name in ("volume_full_usd", "depth_full_usd", "spread_zero"):
            _positive("liquidity", name, getattr(self, name))
        _shares(
            "liquidity",
            {"volume_share": self.volume_share, "depth_share": self.depth_share, "spread_share": self.spread_share},
        )


class StabilityParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """S = 1 - clip(sigma / volatility_zero), sigma the std (ddof 1) of consecutive p_yes steps."""

    volatility_zero: float

    def __post_init__(self) -> None:
        _positive("stability", "volatility_zero", self.volatility_zero)


class ManipulationParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Ramps of the four suspicion signals; M is the largest signal that can be computed.

    - volume spike: robust z of the largest hourly volume increment,
      ``(max - median) / max(1.4826 MAD, spike_floor_usd)``, ramped by ``spike_z``;
    - open-interest jump: largest ``|ΔOI| / max(OI before, oi_floor_usd)`` between consecutive
      points, ramped by ``oi_jump``;
    - price jump without volume: per step ``ramp(|Δp|, price_jump) · (1 - clip(Δvolume /
      backing))``, ``backing = max(jump_backing_multiple · median Δvolume, jump_backing_usd)``, the largest;
    - reversal: the largest move to a point undone on its other side within ``reversal_points``
      points (``min`` of the rise into and the fall out of a peak, or the converse for a
      trough), ramped by ``reversal`` in probability points and, divided by the path's robust step
      size ``max(1.4826 · median |Δp|, reversal_step_floor)``, by ``reversal_z`` (a reversal that
      ordinary noise of this market makes is not one);

    The spike scale has two more floors beside ``spike_floor_usd``: ``spike_floor_share`` of the
    median increment (a flat path is not a spiky one). Spike and open-interest signals at a step
    are multiplied by ``1 - ramp(lasting move, explained_move)``, the lasting move being
    ``|p(reversal_points after) - p(before the step)|``: volume that moved the price for good is
    information. ``score_gate``: the score is multiplied by ``1 - score_gate · M`` (a suspect
    market cannot buy its trust back with liquidity; 0 makes the score purely linear).
    """

    spike_z_start: float
    spike_z_full: float
    spike_floor_usd: float
    spike_floor_share: float
    oi_jump_start: float
    oi_jump_full: float
    oi_floor_usd: float
    price_jump_start: float
    price_jump_full: float
    jump_backing_usd: float
    jump_backing_multiple: float
    reversal_points: int
    reversal_start: float
    reversal_full: float
    reversal_z_start: float
    reversal_z_full: float
    reversal_step_floor: float
    explained_move_start: float
    explained_move_full: float
    score_gate: float

    def __post_init__(self) -> None:
        _unit("manipulation", "spike_floor_share", self.spike_floor_share)
        _unit("manipulation", "score_gate", self.score_gate)
        for name in ("spike_z", "oi_jump", "price_jump", "reversal", "reversal_z", "explained_move"):
            _ramp("manipulation", name, getattr(self, f"{name}_start"), getattr(self, f"{name}_full"))
        for name in (
            "spike_floor_usd",
            "oi_floor_usd",
            "jump_backing_usd",
            "jump_backing_multiple",
            "reversal_step_floor",
        ):
            _positive("manipulation", name, getattr(self, name))
        if self.price_jump_full > 1.0 or self.reversal_full > 1.0:
            raise ValueError("manipulation: price_jump_full and reversal_full are probability points, at most 1")
        if not 1 <= self.reversal_points <= 48:
            raise ValueError(f"manipulation.reversal_points must be in [1, 48], got {self.reversal_points}")


class ExpiryParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """T = 1 - u · (1 - clip(tte_hours / full_hours)), ``u = clip(min(p, 1 - p) / settle_margin)``.

    Far from the end (``tte >= full_hours``) or with a settled price (within ``settle_margin``
    of 0 or 1) T is 1; an unsettled price at the end date gives 0.
    """

    full_hours: float
    settle_margin: float

    def __post_init__(self) -> None:
        _positive("time_to_expiry", "full_hours", self.full_hours)
        _positive("time_to_expiry", "settle_margin", self.settle_margin)
        if self.settle_margin > 0.5:
            raise ValueError(f"time_to_expiry.settle_margin must be <= 0.5, got {self.settle_margin}")


class TrackRecordParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """C = neutral + n / (n + prior_n) · (1 - clip(brier / brier_zero) - neutral).

    ``brier_zero``: the Brier score that counts as no skill (0.25: always forecasting 0.5);
    ``min_n``: fewer resolved forecasts than this flag ``few_segment_forecasts``.
    """

    brier_zero: float
    prior_n: float
    min_n: int

    def __post_init__(self) -> None:
        _positive("track_record", "brier_zero", self.brier_zero)
        _positive("track_record", "prior_n", self.prior_n)
        if self.min_n < 0:
            raise ValueError(f"track_record.min_n must be >= 0, got {self.min_n}")


class TrustConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the trust score depends on besides its inputs; stored with the results.

    ``formula_version``: recorded on every row; bump it whenever a default or a formula changes.
    ``clarity_scorer``: the ``mca_core.clarity.scorer_for`` name the caller uses for the clarity
    input. ``neutral``: the value in [0, 1] a component takes when its inputs are missing (the
    row is then low-confidence). ``lookback_hours``: hourly points in ``[as_of - lookback,
    as_of]`` are the market's path. ``min_points``: fewest path points for the path measures
    (stability, reversal; ``min_points - 1`` known steps for the volume and open-interest
    signals), >= 3. ``flag_reasons``: the reasons that set ``low_confidence`` (every reason is
    listed in ``low_confidence_reasons`` either way).
    """

    formula_version: str
    clarity_scorer: str
    neutral: float
    lookback_hours: float
    min_points: int
    flag_reasons: tuple[str, ...]
    weights: TrustWeights
    liquidity: LiquidityParams
    stability: StabilityParams
    manipulation: ManipulationParams
    time_to_expiry: ExpiryParams
    track_record: TrackRecordParams

    def __post_init__(self) -> None:
        if not self.formula_version.strip():
            raise ValueError("formula_version must be a non-empty string")
        if self.clarity_scorer not in SCORER_NAMES:
            raise ValueError(f"clarity_scorer must be one of {list(SCORER_NAMES)}, got {self.clarity_scorer!r}")
        _unit("config", "neutral", self.neutral)
        _positive("config", "lookback_hours", self.lookback_hours)
        if self.min_points < 3:
            raise ValueError(f"min_points must be >= 3, got {self.min_points}")
        if unknown := sorted(set(self.flag_reasons) - set(LOW_CONFIDENCE_REASONS)):
            raise ValueError(f"flag_reasons has unknown reason(s) {unknown}; known: {list(LOW_CONFIDENCE_REASONS)}")
