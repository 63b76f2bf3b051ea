"""The reliability diagram is valid SVG with one point per bin, placed where the numbers say."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mca_core.diagrams import PAD, SIZE, Curve, reliability_svg

NS = "{http://www.w3.org/2000/svg}"


def test_one_circle_per_bin_at_its_coordinates() -> None:
    curves = [
        Curve("1d", [0.1, 0.5, 0.9], [0.2, 0.5, 0.8], [0.1, 0.4, 0.7], [0.3, 0.6, 0.9]),
        Curve("1w", [0.3], [0.25], [0.2], [0.3]),
    ]
    root = ET.fromstring(reliability_svg(curves, "test"))
    circles = root.findall(f"{NS}circle")
    assert len(circles) == 4
    span = SIZE - 2 * PAD
    first = circles[0]
    assert float(first.get("cx")) == round(PAD + 0.1 * span, 1)
    assert float(first.get("cy")) == round(SIZE - PAD - 0.2 * span, 1)
    labels = [t.text for t in root.findall(f"{NS}text")]
    assert "1d" in labels
    assert "1w" in labels
    assert "test" in labels


def test_empty_diagram_still_renders_axes() -> None:
    root = ET.fromstring(reliability_svg([], "empty"))
    assert root.findall(f"{NS}circle") == []
    assert len(root.findall(f"{NS}line")) == 1  # the diagonal
