"""Segment expressions shared by features, calibration and trust: category, liquidity, TTE, volume.

Every function returns a Polars expression, so callers compose them into their own ``select`` or
``with_columns``; none reads a frame. Bucket labels are plain strings (DuckDB ``VARCHAR``) from
the tuples below, and intervals are half-open ``[lower, upper)``: a value equal to a threshold
belongs to the higher bucket.

Missing values:

- ``liquidity_bucket`` and ``volume_bucket``: a null or NaN volume falls in the LOWEST bucket.
  Gamma omits ``volume`` on markets that never traded (the Katana fixture), so "no recorded
  volume" means "illiquid", not "unknown"; this keeps every market in exactly one segment.
- ``tte_bucket``: a null or NaN time to expiry stays null (an unknown end date is not "short").
- ``category_expr``: never null; falls back to ``"uncategorized"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

__all__ = [
    "LIQUIDITY_BUCKETS",
    "TTE_BUCKETS",
    "UNCATEGORIZED",
    "VOLUME_BUCKETS",
    "LiquidityEdges",
    "category_expr",
    "liquidity_bucket",
    "slug_expr",
    "tte_bucket",
    "volume_bucket",
]

#: Liquidity buckets on a market's total traded volume in USD, lowest first.
LIQUIDITY_BUCKETS: Final = ("LOW", "MID", "HIGH")

#: Time-to-expiry buckets, shortest first: [0, 1d), [1d, 1w), [1w, 30d), [30d, inf). Negative -> "<1d".
TTE_BUCKETS: Final = ("<1d", "1d-1w", "1w-1m", ">1m")
_TTE_EDGES_SECONDS: Final = (86_400.0, 604_800.0, 2_592_000.0)

#: Volume buckets in USD of total volume, smallest first.
VOLUME_BUCKETS: Final = ("<1k", "1k-10k", "10k-100k", "100k-1m", ">=1m")
_VOLUME_EDGES_USD: Final = (1_000.0, 10_000.0, 100_000.0, 1_000_000.0)

#: Category of a market with no Gamma category and no usable tag.
UNCATEGORIZED: Final = "uncategorized"

IntoExpr = pl.Expr | str


def _col(value: IntoExpr) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def _bucket(value: pl.Expr, edges: tuple[float, ...], labels: tuple[str, ...]) -> pl.Expr:
    """Label of the half-open interval ``[edges[i-1], edges[i])`` holding ``value`` (null stays null)."""
    index = pl.sum_horizontal([(value >= edge).cast(pl.UInt32) for edge in edges])
    index = pl.when(value.is_null()).then(pl.lit(None, dtype=pl.UInt32)).otherwise(index)
    return pl.lit(pl.Series(labels, dtype=pl.String)).gather(index)


@dataclass(frozen=True, slots=True)
class LiquidityEdges:
    """Bucket thresholds in USD of total volume: LOW < ``low_usd`` <= MID < ``high_usd`` <= HIGH.

    The values are configuration (``MCA_LIQUIDITY_LOW_USD``/``MCA_LIQUIDITY_HIGH_USD``, documented defaults
    10k and 100k in `mca_resources.settings`); requires ``0 <= low_usd <= high_usd``.
    """

    low_usd: float
    high_usd: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_usd <= self.high_usd:
            raise ValueError(
                f"liquidity thresholds must satisfy 0 <= low <= high, got low={self.low_usd}, high={self.high_usd}"
            )


def liquidity_bucket(volume: IntoExpr, edges: LiquidityEdges) -> pl.Expr:
    """``LOW`` (volume < ``edges.low_usd``), ``MID`` (< ``edges.high_usd``) or ``HIGH`` from total volume in USD.

    ``volume`` is a column name or a numeric expression; null/NaN volume is ``LOW`` (see the module docstring).
    """
    value = _col(volume).cast(pl.Float64).fill_nan(None).fill_null(0.0)
    return _bucket(value, (edges.low_usd, edges.high_usd), LIQUIDITY_BUCKETS).alias("liquidity_bucket")


def volume_bucket(volume: IntoExpr) -> pl.Expr:
    """``<1k``, ``1k-10k``, ``10k-100k``, ``100k-1m`` or ``>=1m`` from total volume in USD.

    Null/NaN volume is ``<1k`` (see the module docstring).
    """
    value = _col(volume).cast(pl.Float64).fill_nan(None).fill_null(0.0)
    return _bucket(value, _VOLUME_EDGES_USD, VOLUME_BUCKETS).alias("volume_bucket")


def tte_bucket(seconds: IntoExpr) -> pl.Expr:
    """``<1d``, ``1d-1w``, ``1w-1m`` (1m = 30 days) or ``>1m`` from time to expiry in seconds.

    Negative values (already past the end date) are ``<1d``; null/NaN stays null.
    """
    value = _col(seconds).cast(pl.Float64).fill_nan(None)
    return _bucket(value, _TTE_EDGES_SECONDS, TTE_BUCKETS).alias("tte_bucket")


def slug_expr(text: IntoExpr) -> pl.Expr:
    """Lower-case slug of a label: runs of anything but letters/digits become one ``-``, trimmed.

    ``"US-current-affairs"`` -> ``"us-current-affairs"``, ``"Science & Tech"`` -> ``"science-tech"``.
    Unicode letters are kept (lower-cased). Null, or a text with no letter/digit, gives null.
    """
    slug = _col(text).cast(pl.String).str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", "-").str.strip_chars("-")
    return pl.when(slug.str.len_bytes() > 0).then(slug).otherwise(pl.lit(None, dtype=pl.String))


def _first_tag_slug(tags: IntoExpr) -> pl.Expr:
    """Slug of the first tag whose slug is non-empty; null for null/empty lists."""
    return _col(tags).cast(pl.List(pl.String)).list.eval(slug_expr(pl.element()).drop_nulls()).list.first()


def category_expr(category: IntoExpr, market_tags: IntoExpr, event_tags: IntoExpr) -> pl.Expr:
    """Segment category of a market, as a slug; never null.

    Order of precedence: the Gamma ``category`` when its slug is non-empty, else the first usable
    tag of the market (``list[str]`` of tag labels), else the first usable tag of its event, else
    ``"uncategorized"``. Arguments are column names or expressions; tag lists may be null.
    """
    return pl.coalesce(
        slug_expr(category),
        _first_tag_slug(market_tags),
        _first_tag_slug(event_tags),
        pl.lit(UNCATEGORIZED),
    ).alias("category")
