"""The probability path of a resolved market as a deterministic SVG: the YES price, the cutoffs, the outcome.

Drawn with matplotlib on its own ``Figure`` (no pyplot state), like `mca_core.diagrams`: a fixed SVG hash salt,
text kept as text and no date in the file, so the same path always gives byte-identical SVG. Times are plotted
as hours before resolution (negative to the left), which reads the same for every market and keeps timezone
handling out of the axis. The 1d cutoff, where the report judges the price, is drawn heavier than the others.

Every chart has the same axes (the 32 days of fetched history, fixed ticks), so charts compare at a glance, and
the static part of the figure (axes, ticks, grid, labels, legend: 78% of the drawing time) is drawn once per
renderer: each chart draws only its own artists, each tagged with an SVG id (``gid``), and their groups are put in
the slots of the static drawing; cutoff lines and labels, which only depend on their x, are drawn once per x. The
artists without a gid number their groups alone, so the result is the very file a full draw of the figure writes
(tested byte for byte against `path_svg`).
"""

from __future__ import annotations

import io
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported where it draws (mca_core.diagrams says why)
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN = 7.5, 3.4
PATH_COLOR, CUTOFF_COLOR, OUTCOME_COLOR = "#0072B2", "#E69F00", "#D55E00"
JUDGED_HORIZON = "1d"
#: x ticks (hours relative to resolution) and their labels; the x range covers the fetched 32 days of history
X_TICKS = ((-720.0, "-30d"), (-504.0, "-21d"), (-336.0, "-14d"), (-168.0, "-7d"), (-24.0, "-1d"), (0.0, "0"))
X_RANGE = (-768.0, 12.0)
Y_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
HORIZON_NAMES = ("1m", "1w", "1d", "4h", "1h")
MAX_REMEMBERED = 1000  # drawn cutoff groups a renderer keeps (5 horizons x 2 artists when cutoffs are exact)
POOL_FROM = 2000  # charts from which `render_svgs` spreads over the cores by default
_GID = "pm-"  # prefix of the ids of the artists a chart sets
_GROUP = re.compile(r"<g\b|</g>")
_TAIL_DEFS = "\n <defs>\n"  # the clip paths matplotlib writes after the figure


@dataclass(frozen=True)
class PathChart:
    """What the chart shows: hourly YES prices, the forecast at each cutoff and the outcome, in hours relative to
    resolution (negative before it)."""

    title: str
    y: int
    hours: Sequence[float]
    p: Sequence[float]
    cutoffs: Sequence[tuple[str, float, float]]  # (horizon, hours of the cutoff, p_yes at the cutoff)


class PathChartRenderer:
    """One figure drawn once and re-filled per chart: building a matplotlib figure costs as much as saving it.

    Every artist a chart can need is created up front (one line, marker and label per horizon) and each render
    sets all of them, hiding what the chart lacks, so the output depends only on the chart (byte-identical
    whatever was drawn before). ``svg`` draws the static artists once, then only the chart's (module docstring).
    Not thread-safe: use one renderer per thread or process.
    """

    def __init__(self) -> None:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=100)
        figure.subplots_adjust(left=0.08, right=0.98, top=0.86, bottom=0.16)
        axes = figure.add_subplot()
        (self._path,) = axes.plot([], [], drawstyle="steps-post", color=PATH_COLOR, linewidth=1.2, label="YES price")
        self._outcome = axes.axhline(0.0, color=OUTCOME_COLOR, linestyle="--", linewidth=1.2, label="outcome")
        resolution = axes.axvline(0.0, color="#555555", linewidth=1.0)
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
        legend = axes.legend(loc="lower left", fontsize=7, frameon=False)
        self._title = figure.text(0.08, 0.975, "", fontsize=9, ha="left", va="top")
        self._figure, self._axes = figure, axes
        self._static = (figure.patch, resolution, legend)  # with the axes' own frame, ticks and grid
        self._path.set_gid(f"{_GID}path")
        self._outcome.set_gid(f"{_GID}outcome")
        self._title.set_gid(f"{_GID}title")
        for horizon, artists in self._cutoffs.items():
            for kind, artist in zip(("cutoff", "marker", "label"), artists, strict=True):
                artist.set_gid(f"{_GID}{kind}-{horizon}")
        # cutoff lines and labels depend only on their x (a fixed offset before resolution): drawn once per x
        self._by_x = {f"{_GID}{kind}-{h}": a for h, (line, _, label) in self._cutoffs.items()
                      for kind, a in (("cutoff", line), ("label", label))}  # fmt: skip
        self._drawn: dict[tuple[str, float], str] = {}
        self._pieces: list[str] | None = None  # the static drawing, split around the chart's groups
        self._slots: list[str] = []  # the gid of the group that goes after each piece but the last

    def figure(self, chart: PathChart) -> Figure:
        """The figure filled with ``chart``: price (y) against hours relative to resolution (x)."""
        self._path.set_data(chart.hours, chart.p)
        self._outcome.set_ydata([chart.y, chart.y])
        given = {horizon: (x, p_yes) for horizon, x, p_yes in chart.cutoffs}
        for horizon, (line, marker, label) in self._cutoffs.items():
            shown = horizon in given
            for artist in (line, marker, label):
                artist.set_visible(shown)
            if shown:
                x, p_yes = given[horizon]
                line.set_xdata([x, x])
                marker.set_data([x], [p_yes])
                label.set_x(x)
        self._title.set_text(chart.title)
        return self._figure

    def full_svg(self, chart: PathChart) -> str:
        """The whole figure filled with ``chart`` drawn as SVG, byte-identical for the same input."""
        self.figure(chart)
        return self._save()

    def svg(self, chart: PathChart) -> str:
        """The same bytes as `full_svg`, drawing only the chart's artists into the static drawing."""
        if self._pieces is None:
            self._split_static()
        assert self._pieces is not None
        self.figure(chart)
        known = {}
        for gid, artist in self._by_x.items():
            key = (gid, _x_of(artist))
            if artist.get_visible() and key in self._drawn:
                known[gid] = self._drawn[key]
                artist.set_visible(False)
        self._show_static(False)
        try:
            drawn = self._save()
        finally:
            self._show_static(True)
            for gid in known:
                self._by_x[gid].set_visible(True)
        groups = _groups(drawn)
        if len(self._drawn) < MAX_REMEMBERED:
            self._drawn |= {(gid, _x_of(self._by_x[gid])): group for gid, group in groups.items() if gid in self._by_x}
        groups |= known
        tail = drawn[drawn.rindex(_TAIL_DEFS) :]
        if not self._pieces[-1].endswith(tail):  # the chart needs other clip paths than the static drawing: redraw
            return self.full_svg(chart)
        out = [self._pieces[0]]
        for slot, piece in zip(self._slots, self._pieces[1:], strict=True):
            out += [groups.get(slot, ""), piece]
        return "".join(out)

    def _save(self) -> str:
        import matplotlib as mpl

        buffer = io.StringIO()
        with mpl.rc_context({"svg.hashsalt": "mca", "svg.fonttype": "none", "path.simplify": True}):
            self._figure.savefig(buffer, format="svg", metadata={"Date": None})
        return buffer.getvalue()

    def _show_static(self, shown: bool) -> None:
        self._axes.set_axis_on() if shown else self._axes.set_axis_off()
        for artist in self._static:
            artist.set_visible(shown)

    def _split_static(self) -> None:
        """Draw the figure with every chart artist shown and cut it around their groups."""
        every = PathChart("title", 1, [-1.0, 0.0], [0.5, 0.5], [(h, -1.0, 0.5) for h in HORIZON_NAMES])
        drawn = self.full_svg(every)
        spans = sorted(_group_spans(drawn).items(), key=lambda item: item[1])
        pieces, start = [], 0
        for _, (begin, end) in spans:
            pieces.append(drawn[start:begin])
            start = end
        self._pieces, self._slots = [*pieces, drawn[start:]], [gid for gid, _ in spans]


def _x_of(artist: Artist) -> float:
    """The x of a cutoff line or label (all the rest of them is the same in every chart)."""
    from matplotlib.lines import Line2D

    if isinstance(artist, Line2D):
        return float(np.asarray(artist.get_xdata())[0])
    return float(artist.get_position()[0])  # type: ignore[attr-defined]


def _group_spans(svg: str) -> dict[str, tuple[int, int]]:
    """gid -> (start, end) of the whole lines of each chart artist's group in ``svg``."""
    spans = {}
    for found in re.finditer(rf'<g id="({_GID}[^"]+)">', svg):
        depth = 0
        for tag in _GROUP.finditer(svg, found.start()):
            depth += 1 if tag.group() != "</g>" else -1
            if depth == 0:
                begin = svg.rindex("\n", 0, found.start()) + 1
                spans[found.group(1)] = (begin, svg.index("\n", tag.end()) + 1)
                break
    return spans


def _groups(svg: str) -> dict[str, str]:
    return {gid: svg[begin:end] for gid, (begin, end) in _group_spans(svg).items()}


def path_svg(chart: PathChart) -> str:
    """One chart as SVG from a fresh figure drawn whole (the straightforward way; batches use `render_svgs`)."""
    return PathChartRenderer().full_svg(chart)


WORKER_MODULE = "mca_core.postmortem_chart_worker"


def _render_in_worker(charts: Sequence[PathChart]) -> list[str]:
    done = subprocess.run([sys.executable, "-m", WORKER_MODULE], input=pickle.dumps(list(charts)),
                          capture_output=True, check=True)  # fmt: skip
    svgs: list[str] = pickle.loads(done.stdout)
    return svgs


def default_workers(charts: int) -> int:
    """Processes for ``charts`` charts: one below ``POOL_FROM``, else the cores this process may use that the
    1-minute load average leaves idle (counting this process): on a busy machine more processes only queue."""
    if charts < POOL_FROM:
        return 1
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores, int(cores - os.getloadavg()[0] + 1)))


def render_svgs(charts: Sequence[PathChart], workers: int | None = None) -> list[str]:
    """Every chart as SVG, in order; ``workers`` > 1 spreads them over that many processes (same bytes).

    Workers are fresh interpreters running `mca_core.postmortem_chart_worker` (a multiprocessing pool would
    re-import the caller's main module, i.e. Dagster, in each), each costing about 1.7 s CPU to start (the
    matplotlib import), the price of ~400 charts; the default is `default_workers`.
    """
    if workers is None:
        workers = default_workers(len(charts))
    if workers <= 1 or len(charts) < 2 * workers:
        renderer = PathChartRenderer()
        return [renderer.svg(chart) for chart in charts]
    size = -(-len(charts) // workers)
    chunks = [charts[i : i + size] for i in range(0, len(charts), size)]
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:  # threads only wait for their process
        return [svg for part in pool.map(_render_in_worker, chunks) for svg in part]
