"""Reliability diagrams drawn with matplotlib, as deterministic SVG text so a picture can ride in Dagster metadata.

The figure is built on its own ``Figure`` (no pyplot state, no display), at a readable size, with the y = x line
of perfect calibration, Wilson intervals as error bars, and the legend outside the plotting area so it never hides
a point. The same curves always give byte-identical SVG (fixed hash salt, no date in the file).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN = 7.0, 5.6
#: the colour cycle of the horizons (colour-blind safe, Okabe-Ito)
COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")


@dataclass(frozen=True)
class Curve:
    """One line of the diagram: bin means of forecasts and outcome rates with their Wilson interval."""

    label: str
    p_mean: Sequence[float]
    y_rate: Sequence[float]
    ci_low: Sequence[float]
    ci_high: Sequence[float]


def reliability_figure(curves: Sequence[Curve], title: str) -> Figure:
    """Forecast probability (x) against observed frequency (y), one curve per entry, on [0, 1] x [0, 1].

    matplotlib is imported here, not with the module: every Dagster process loads this module with the code
    location, and only the calibration step draws (about 1.2 s of each CLI start saved)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#777777", linewidth=1, label="perfect calibration (y = x)")
    for i, curve in enumerate(curves):
        y = list(curve.y_rate)
        below = [max(0.0, r - lo) for r, lo in zip(y, curve.ci_low, strict=True)]
        above = [max(0.0, hi - r) for r, hi in zip(y, curve.ci_high, strict=True)]
        axes.errorbar(list(curve.p_mean), y, yerr=[below, above], marker="o", markersize=4, capsize=2,
                      linewidth=1.5, color=COLORS[i % len(COLORS)], label=curve.label)  # fmt: skip
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="forecast probability (bin mean)", ylabel="observed frequency")
    axes.set_title(title)
    axes.set_aspect("equal")
    axes.grid(True, color="#e5e5e5", linewidth=0.6)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="horizon")
    return figure


def reliability_svg(curves: Sequence[Curve], title: str) -> str:
    """`reliability_figure` as SVG text, byte-identical for the same input."""
    import matplotlib as mpl

    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "mca", "svg.fonttype": "none"}):
        reliability_figure(curves, title).savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
