"""A slow, plain-Python reference of the trust formulas (docs/trust.md), one market at a time.

Written from the formulas, not from ``mca_core.trust``: loops over points, ``statistics.median``, explicit
None checks. The unit tests compare it with the vectorised score; ``bench/bench_trust.py`` runs it row-wise
through pandas as the peer.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from mca_core.trust_params import LOW_CONFIDENCE_REASONS, TrustConfig

COMPONENT_ORDER = ("liquidity", "stability", "clarity", "manipulation", "time_to_expiry", "track_record")
SIGNAL_ORDER = ("volume_spike", "oi_jump", "price_jump_without_volume", "reversal")


@dataclass
class Point:
    ts: datetime
    p: float
    volume: float | None
    oi: float | None


def ramp(x: float, start: float, full: float) -> float:
    return min(max((x - start) / (full - start), 0.0), 1.0)


def clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _log_share(x: float, full: float) -> float:
    return clip01(math.log10(1.0 + x) / math.log10(1.0 + full))


def _maximum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def reference_trust(
    market: dict,
    points: list[Point],
    clarity: float | None,
    record: tuple[int, float | None] | None,
    as_of: datetime,
    config: TrustConfig,
) -> dict:
    """The score row of one market (same fields as ``mca_core.trust.TRUST_COLUMNS`` but market_id)."""
    m = config.manipulation
    neutral = config.neutral
    start = as_of - timedelta(hours=config.lookback_hours)
    pts = sorted((pt for pt in points if start <= pt.ts <= as_of), key=lambda pt: pt.ts)
    n = len(pts)
    enough = n >= config.min_points
    h = m.reversal_points
    dp: list[float | None] = [None] + [pts[i].p - pts[i - 1].p for i in range(1, n)]
    dv: list[float | None] = [None]
    doi: list[float | None] = [None]
    for i in range(1, n):
        a, b = pts[i - 1], pts[i]
        dv.append(max(b.volume - a.volume, 0.0) if a.volume is not None and b.volume is not None else None)
        doi.append(abs(b.oi - a.oi) / max(a.oi, m.oi_floor_usd) if a.oi is not None and b.oi is not None else None)
    known_dv = [v for v in dv if v is not None]
    known_doi = [v for v in doi if v is not None]
    med = statistics.median(known_dv) if known_dv else None
    spikes, oi_jumps, jumps, reversals = [], [], [], []
    known_dp = [abs(v) for v in dp if v is not None]
    step_scale = max(1.4826 * statistics.median(known_dp), m.reversal_step_floor) if known_dp else None
    for i in range(n):
        after = pts[i + h].p if i + h < n else pts[n - 1].p
        before = pts[i - 1].p if i >= 1 else pts[i].p
        unexplained = 1.0 - ramp(abs(after - before), m.explained_move_start, m.explained_move_full)
        if dv[i] is not None and med is not None:
            mad = statistics.median([abs(v - med) for v in known_dv])
            scale = max(1.4826 * mad, m.spike_floor_share * med, m.spike_floor_usd)
            spikes.append(ramp((dv[i] - med) / scale, m.spike_z_start, m.spike_z_full) * unexplained)
            if dp[i] is not None:
                backing = max(m.jump_backing_multiple * med, m.jump_backing_usd)
                unbacked = 1.0 - clip01(dv[i] / backing)
                jumps.append(ramp(abs(dp[i]), m.price_jump_start, m.price_jump_full) * unbacked)
        if doi[i] is not None:
            oi_jumps.append(ramp(doi[i], m.oi_jump_start, m.oi_jump_full) * unexplained)
        back = [pts[i - a].p for a in range(1, h + 1) if i - a >= 0]
        ahead = [pts[i + a].p for a in range(1, h + 1) if i + a < n]
        if back and ahead and step_scale is not None:
            p = pts[i].p
            peak = min(p - min(back), p - min(ahead))
            trough = min(max(back) - p, max(ahead) - p)
            size = max(peak, trough)
            reversals.append(
                ramp(size, m.reversal_start, m.reversal_full)
                * ramp(size / step_scale, m.reversal_z_start, m.reversal_z_full)
            )
    volume_known = len(known_dv) >= config.min_points - 1
    oi_known = len(known_doi) >= config.min_points - 1
    signals = {
        "volume_spike": _maximum(spikes) if volume_known and enough else None,
        "oi_jump": _maximum(oi_jumps) if oi_known and enough else None,
        "price_jump_without_volume": _maximum(jumps) if volume_known and enough else None,
        "reversal": _maximum(reversals) if enough else None,
    }
    suspicion = _maximum(list(signals.values()))
    signal = None
    if suspicion is not None and suspicion > 0:
        signal = next(name for name in SIGNAL_ORDER if signals[name] == suspicion)

    liq = config.liquidity
    v, depth, spread = market["volume_24h"], market["liquidity_usd"], market["spread"]
    liquidity = (
        liq.volume_share * (_log_share(v, liq.volume_full_usd) if v is not None else neutral)
        + liq.depth_share * (_log_share(depth, liq.depth_full_usd) if depth is not None else neutral)
        + liq.spread_share * (1.0 - clip01(spread / liq.spread_zero) if spread is not None else neutral)
    )
    stability = neutral
    if enough:
        stability = 1.0 - clip01(statistics.stdev([v for v in dp if v is not None]) / config.stability.volatility_zero)
    expiry = neutral
    if market["end_ts"] is not None and n:
        tte = (market["end_ts"] - as_of).total_seconds() / 3600.0
        last = pts[-1].p
        unsettled = clip01(min(last, 1.0 - last) / config.time_to_expiry.settle_margin)
        expiry = 1.0 - unsettled * (1.0 - clip01(tte / config.time_to_expiry.full_hours))
    record_n, record_brier = record if record is not None else (0, None)
    track = neutral
    tr = config.track_record
    if record_brier is not None:
        track = neutral + record_n / (record_n + tr.prior_n) * (1.0 - clip01(record_brier / tr.brier_zero) - neutral)
    components = {
        "liquidity": liquidity,
        "stability": stability,
        "clarity": clarity if clarity is not None else neutral,
        "manipulation": suspicion if suspicion is not None else neutral,
        "time_to_expiry": expiry,
        "track_record": track,
    }
    effective = dict(components, manipulation=1.0 - components["manipulation"])
    linear = sum(getattr(config.weights, name) * effective[name] for name in COMPONENT_ORDER)
    score = min(max(100.0 * linear * (1.0 - m.score_gate * components["manipulation"]), 0.0), 100.0)
    lowest = min(effective.values())
    missing = {
        "no_path": n == 0,
        "few_points": 0 < n < config.min_points,
        "no_volume": v is None,
        "no_liquidity": depth is None,
        "no_spread": spread is None,
        "no_path_volume": n > 0 and not volume_known,
        "no_open_interest": n > 0 and not oi_known,
        "no_end_date": market["end_ts"] is None,
        "no_text": clarity is None,
        "no_segment_record": record_brier is None,
        "few_segment_forecasts": record_brier is not None and record_n < tr.min_n,
    }
    reasons = [code for code in LOW_CONFIDENCE_REASONS if missing[code]]
    return {
        "trust_score": score,
        **components,
        "manipulation_signal": signal,
        "weakest_component": next(name for name in COMPONENT_ORDER if effective[name] == lowest),
        "low_confidence": any(code in config.flag_reasons for code in reasons),
        "low_confidence_reasons": reasons,
        "formula_version": config.formula_version,
    }
