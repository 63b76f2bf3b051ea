"""Materialization previews round floats to 4 significant digits and keep other values readable."""

from __future__ import annotations

import polars as pl

from mca_assets.common import preview


def test_preview_rounds_floats_and_keeps_text_and_nulls() -> None:
    frame = pl.DataFrame({"horizon": ["1d", "1w"], "brier": [0.123456789012345, None], "n": [1200, 3]})
    text = preview(frame).value
    assert "| 1d | 0.1235 | 1200 |" in text
    assert "| 1w |  | 3 |" in text
    assert "0.12345" not in text
