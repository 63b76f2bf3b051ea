"""The probability path of a resolved market as a deterministic SVG: the YES price, the cutoffs, the outcome.

Drawn with matplotlib on its own ``Figure`` (no pyplot state), like `mca_core.diagrams`: a fixed SVG hash salt,
text kept as text and no date in the file, so the same path always gives byte-identical SVG. Times are plotted
as hours before resolution (negative to the left), which reads the same for every market and keeps timezone
handling out of the axis. The 1d cutoff, where the report judges the price, is drawn heavier than the others.

Every chart has the same axes (the 32 days of fetched history, fixed ticks), so charts compare at a glance and
matplotlib does not re-run its tick locators and title layout per chart.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context

import matplotlib as mpl
from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN = 7.5, 3.4
PATH_COLOR, CUTOFF_COLOR, OUTCOME_COLOR = "#0072B2", "#E69F00", "#D55E00"
JUDGED_HORIZON = "1d"
#: x ticks (hours relative to resolution) and their labels; the x range covers the fetched 32 days of history
X_TICKS = ((-720.0, "-30d"), (-504.0, "-21d"), (-336.0, "-14d"), (-168.0, "-7d"), (-24.0, "-1d"), (0.0, "0"))
X_RANGE = (-768.0, 12.0)
Y_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
HORIZON_NAMES = ("1m", "1w", "1d", "4h", "1h")


@dataclass(frozen=True)
class PathChart:
    """What the chart shows: hourly YES prices, the forecast at each cutoff, the outcome and resolution time."""

    title: str
    resolved_ts: datetime
    y: int
    ts: Sequence[datetime]
    p: Sequence[float]
    cutoffs: Sequence[tuple[str, datetime, float]]  # (horizon, cutoff_ts, p_yes at the cutoff)


def _hours_before(ts: datetime, resolved_ts: datetime) -> float:
    return (ts - resolved_ts).total_seconds() / 3600


class PathChartRenderer:
    """One figure drawn once and re-filled per chart: building a matplotlib figure costs as much as saving it.

    Every artist a chart can need is created up front (one line, marker and label per horizon) and each render
    sets all of them, hiding what the chart lacks, so the output depends only on the chart (byte-identical
    whatever was drawn before). Not thread-safe: use one renderer per thread or process.
    """

    def __init__(self) -> None:
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=100)
        figure.subplots_adjust(left=0.08, right=0.98, top=0.86, bottom=0.16)
        axes = figure.add_subplot()
        (self._path,) = axes.plot([], [], drawstyle="steps-post", color=PATH_COLOR, linewidth=1.2, label="YES price")
        self._outcome = axes.axhline(0.0, color=OUTCOME_COLOR, linestyle="--", linewidth=1.2, label="outcome")
        axes.axvline(0.0, color="#555555", linewidth=1.0)
        self._cutoffs = {}
        for horizon in HORIZON_NAMES:
            judged = horizon == JUDGED_HORIZON
            line = axes.axvline(0.0, color=CUTOFF_COLOR, linestyle=":", linewidth=1.6 if judged else 0.8)
            (marker,) = axes.plot([0.0], [0.0], marker="o", markersize=5 if judged else 3.5, color=CUTOFF_COLOR)
            label = axes.text(0.0, 1.03, horizon, ha="center", va="bottom", fontsize=7, color="#444444")
            self._cutoffs[horizon] = (line, marker, label)
        axes.set(xlim=X_RANGE, ylim=(-0.02, 1.02), xlabel="time relative to resolution", ylabel="P(YES)")
        axes.set_xticks([x for x, _ in X_TICKS], [label for _, label in X_TICKS])
        axes.set_yticks(Y_TICKS, [f"{y:g}" for y in Y_TICKS])
        axes.grid(True, color="#e5e5e5", linewidth=0.6)
        axes.legend(loc="lower left", fontsize=7, frameon=False)
        self._title = figure.text(0.08, 0.975, "", fontsize=9, ha="left", va="top")
        self._figure = figure

    def figure(self, chart: PathChart) -> Figure:
        """The figure filled with ``chart``: price (y) against hours relative to resolution (x)."""
        self._path.set_data([_hours_before(t, chart.resolved_ts) for t in chart.ts], list(chart.p))
        self._outcome.set_ydata([chart.y, chart.y])
        given = {horizon: (cutoff_ts, p_yes) for horizon, cutoff_ts, p_yes in chart.cutoffs}
        for horizon, (line, marker, label) in self._cutoffs.items():
            shown = horizon in given
            for artist in (line, marker, label):
                artist.set_visible(shown)
            if shown:
                cutoff_ts, p_yes = given[horizon]
                x = _hours_before(cutoff_ts, chart.resolved_ts)
                line.set_xdata([x, x])
                marker.set_data([x], [p_yes])
                label.set_x(x)
        self._title.set_text(chart.title)
        return self._figure

    def svg(self, chart: PathChart) -> str:
        """The chart as SVG text, byte-identical for the same input."""
        buffer = io.StringIO()
        with mpl.rc_context({"svg.hashsalt": "mca", "svg.fonttype": "none", "path.simplify": True}):
            self.figure(chart).savefig(buffer, format="svg", metadata={"Date": None})
        return buffer.getvalue()


def path_svg(chart: PathChart) -> str:
    """One chart as SVG with a fresh renderer (batches keep a `PathChartRenderer`)."""
    return PathChartRenderer().svg(chart)


_WORKER_RENDERER: PathChartRenderer | None = None


def _render_in_worker(chart: PathChart) -> str:
    global _WORKER_RENDERER  # one renderer per worker process, built on its first chart
    if _WORKER_RENDERER is None:
        _WORKER_RENDERER = PathChartRenderer()
    return _WORKER_RENDERER.svg(chart)


def render_svgs(charts: Sequence[PathChart], workers: int = 1) -> list[str]:
    """Every chart as SVG, in order; ``workers`` > 1 spreads them over that many processes (same bytes)."""
    if workers <= 1 or len(charts) < 2 * workers:
        renderer = PathChartRenderer()
        return [renderer.svg(chart) for chart in charts]
    chunk = max(1, len(charts) // (4 * workers))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_render_in_worker, charts, chunksize=chunk))
