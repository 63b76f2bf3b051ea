"""The reliability diagram: the numbers where they say, the y = x line, a legend clear of the data, stable bytes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from mca_core.diagrams import Curve, reliability_figure, reliability_svg

CURVES = [
    Curve("1d", [0.1, 0.5, 0.9], [0.2, 0.5, 0.8], [0.1, 0.4, 0.7], [0.3, 0.6, 0.9]),
    Curve("1w", [0.3], [0.25], [0.2], [0.3]),
]


def test_each_curve_is_drawn_at_its_bins_with_the_diagonal() -> None:
    axes = reliability_figure(CURVES, "test").axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    diagonal = lines["perfect calibration (y = x)"]
    assert list(diagonal.get_xdata()) == [0, 1]
    assert list(diagonal.get_ydata()) == [0, 1]
    bars = {container.get_label(): container for container in axes.containers}
    data_line, _, (error_lines,) = bars["1d"].lines
    assert np.allclose(data_line.get_xdata(), [0.1, 0.5, 0.9])
    assert np.allclose(data_line.get_ydata(), [0.2, 0.5, 0.8])
    segments = error_lines.get_segments()  # the Wilson interval of each bin, vertical at its forecast
    assert np.allclose([s[:, 1] for s in segments], [[0.1, 0.3], [0.4, 0.6], [0.7, 0.9]])
    assert axes.get_xlim() == (0, 1)
    assert axes.get_ylim() == (0, 1)


def test_legend_sits_outside_the_plot_and_the_figure_is_readable() -> None:
    figure = reliability_figure(CURVES, "test")
    figure.canvas.draw()  # lay out
    axes = figure.axes[0]
    legend = axes.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["perfect calibration (y = x)", "1d", "1w"]
    assert legend.get_window_extent().x0 >= axes.get_window_extent().x1  # to the right of the data, never over it
    width, height = figure.get_size_inches() * figure.dpi
    assert width >= 600
    assert height >= 480


def test_svg_is_valid_and_byte_identical_for_the_same_curves() -> None:
    first = reliability_svg(CURVES, "test")
    assert first == reliability_svg(CURVES, "test")
    root = ET.fromstring(first)
    assert root.tag.endswith("svg")
    assert "test" in first
    assert reliability_svg([], "empty") != first
