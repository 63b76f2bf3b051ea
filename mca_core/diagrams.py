"""A reliability diagram as a small self-contained SVG, so the picture can ride in Dagster metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SIZE = 320
PAD = 36
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


@dataclass(frozen=True)
class Curve:
    """One line of the diagram: bin means of forecasts and outcome rates with their Wilson interval."""

    label: str
    p_mean: Sequence[float]
    y_rate: Sequence[float]
    ci_low: Sequence[float]
    ci_high: Sequence[float]


def _xy(p: float, y: float) -> tuple[float, float]:
    span = SIZE - 2 * PAD
    return PAD + p * span, SIZE - PAD - y * span


def reliability_svg(curves: Sequence[Curve], title: str) -> str:
    """Forecast (x) against observed frequency (y) per curve, with the diagonal of perfect calibration."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" font-family="sans-serif" '
        'font-size="10">',
        f'<rect width="{SIZE}" height="{SIZE}" fill="white"/>',
        f'<text x="{SIZE / 2}" y="14" text-anchor="middle" font-size="12">{title}</text>',
    ]
    x0, y0 = _xy(0, 0)
    x1, y1 = _xy(1, 1)
    parts.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#999"/>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#bbb" stroke-dasharray="4 3"/>')
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        tx, _ = _xy(tick, 0)
        _, ty = _xy(0, tick)
        parts.append(f'<text x="{tx}" y="{y0 + 14}" text-anchor="middle">{tick:g}</text>')
        parts.append(f'<text x="{x0 - 4}" y="{ty + 3}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{SIZE / 2}" y="{SIZE - 6}" text-anchor="middle">forecast probability</text>')
    for i, curve in enumerate(curves):
        color = COLORS[i % len(COLORS)]
        points = [_xy(p, y) for p, y in zip(curve.p_mean, curve.y_rate, strict=True)]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for p, lo, hi, (x, y) in zip(curve.p_mean, curve.ci_low, curve.ci_high, points, strict=True):
            _, ylo = _xy(p, lo)
            _, yhi = _xy(p, hi)
            parts.append(f'<line x1="{x:.1f}" y1="{ylo:.1f}" x2="{x:.1f}" y2="{yhi:.1f}" stroke="{color}"/>')
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
        parts.append(f'<text x="{x0 + 6}" y="{y1 + 14 + 12 * i}" fill="{color}">{curve.label}</text>')
    parts.append("</svg>")
    return "".join(parts)
