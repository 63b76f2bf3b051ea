"""Resolution labels of closed markets: the ground truth that calibration scores against.

Contract of ``label_markets`` (rules apply in this order; the YES outcome is the FIRST outcome,
price and token, whatever its name: ``Yes``, ``Up``, ``Long``...):

1. ``closed`` false or null -> ``label`` null (the market is not over; nothing to score).
2. ``uma_resolution_status`` ``proposed`` or ``disputed`` (case-insensitive) -> ``UNRESOLVED``:
   the oracle has not finalised, prices may still move. A ``proposed`` entry in the status
   HISTORY does not matter: only the current status counts (the Katana fixture is ``resolved``
   with history ``["proposed"]`` and is a normal ``RESOLVED_FALSE``).
3. Exactly two prices, both present and not NaN (``p0`` = YES, ``p1`` = NO):
   - ``p0 > 0.99`` and ``p1 < 0.01`` -> ``RESOLVED_TRUE``;
   - ``p0 < 0.01`` and ``p1 > 0.99`` -> ``RESOLVED_FALSE``;
   - both within 0.01 of 0.5 (a 50-50 settle) -> ``VOID``;
   - both ``< 0.01`` (legacy ``["0", "0"]``: cancelled / never settled on chain) -> ``VOID``;
   - any other pair -> ``UNRESOLVED`` (not a final binary settle; this includes legacy scalar
     markets that settled fractionally, e.g. ``["0.584...", "0.415..."]``, which have no YES/NO
     truth to score).
4. Prices missing, of another length, or holding a null/NaN -> ``VOID`` when the status is
   ``resolved`` (the oracle finished but no binary payout is recorded), else ``UNRESOLVED``.

Other columns:

- ``resolved_ts``: ``closed_ts`` when present, else ``end_ts`` (Gamma ``closedTime``, else
  ``endDate``), as ``Datetime(us, UTC)`` (other zones converted, naive taken as UTC); null for
  markets not closed, or when both are null.
- ``cohort_dt``: the UTC calendar date of ``resolved_ts`` (the partition a resolution belongs
  to); null when ``resolved_ts`` is null.
- ``y``: ``Int8`` 1 for ``RESOLVED_TRUE``, 0 for ``RESOLVED_FALSE``, null otherwise.

Only ``RESOLVED_TRUE``/``RESOLVED_FALSE`` enter calibration; ``VOID`` and ``UNRESOLVED`` are kept
and counted so a reader sees what was excluded.
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = [
    "FIFTY_FIFTY_TOLERANCE",
    "LABELS",
    "RESOLVED_LABELS",
    "SETTLED_HIGH",
    "SETTLED_LOW",
    "label_markets",
]

LABELS: Final = ("RESOLVED_TRUE", "RESOLVED_FALSE", "VOID", "UNRESOLVED")
#: The labels that enter calibration.
RESOLVED_LABELS: Final = ("RESOLVED_TRUE", "RESOLVED_FALSE")

#: A winning outcome settles above this price, a losing one below ``SETTLED_LOW``.
SETTLED_HIGH: Final = 0.99
SETTLED_LOW: Final = 0.01
#: Distance from 0.5 within which both prices count as a 50-50 settle (inclusive).
FIFTY_FIFTY_TOLERANCE: Final = 0.01
# Absorbs float error so that 0.51 and 0.49 (|p - 0.5| = 0.0100000000000000089) count as 50-50.
_EPS: Final = 1e-9

_REQUIRED: Final = ("market_id", "closed", "outcome_prices", "uma_resolution_status", "closed_ts", "end_ts")


def _as_utc(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as ``Datetime(us, UTC)``: other zones converted, naive taken as UTC."""
    dtype = frame.schema[name]
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        col = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col.dt.convert_time_zone("UTC")
    return col.cast(pl.Datetime("us", "UTC"))


def label_markets(markets: pl.DataFrame) -> pl.DataFrame:
    """Add ``label``, ``resolved_ts``, ``cohort_dt`` and ``y`` to a frame of markets.

    Input: one row per market with ``market_id`` (str), ``closed`` (bool, null = not closed),
    ``outcome_prices`` (``list[f64]`` or null; YES first), ``uma_resolution_status`` (str or null),
    ``closed_ts`` and ``end_ts`` (Datetime UTC, nullable); usually also ``event_id``. Every input
    column is kept. Output rows are sorted by ``market_id`` (stable for repeated ids). Rules: see
    the module docstring. Raises ``ValueError`` naming a missing required column.
    """
    missing = [name for name in _REQUIRED if name not in markets.columns]
    if missing:
        raise ValueError(f"label_markets: missing required column(s) {missing}")

    closed = pl.col("closed").cast(pl.Boolean).fill_null(False)
    status = pl.col("uma_resolution_status").cast(pl.String).str.strip_chars().str.to_lowercase()
    prices = pl.col("outcome_prices").cast(pl.List(pl.Float64))
    p0 = prices.list.get(0, null_on_oob=True)
    p1 = prices.list.get(1, null_on_oob=True)
    binary = (
        (prices.list.len() == 2) & p0.is_not_null() & p1.is_not_null() & p0.is_not_nan() & p1.is_not_nan()
    ).fill_null(False)
    pending = status.is_in(["proposed", "disputed"]).fill_null(False)
    oracle_done = (status == "resolved").fill_null(False)
    fifty_fifty = ((p0 - 0.5).abs() <= FIFTY_FIFTY_TOLERANCE + _EPS) & (
        (p1 - 0.5).abs() <= FIFTY_FIFTY_TOLERANCE + _EPS
    )

    label = (
        pl.when(~closed)
        .then(pl.lit(None, dtype=pl.String))
        .when(pending)
        .then(pl.lit("UNRESOLVED"))
        .when(~binary)
        .then(pl.when(oracle_done).then(pl.lit("VOID")).otherwise(pl.lit("UNRESOLVED")))
        .when((p0 > SETTLED_HIGH) & (p1 < SETTLED_LOW))
        .then(pl.lit("RESOLVED_TRUE"))
        .when((p0 < SETTLED_LOW) & (p1 > SETTLED_HIGH))
        .then(pl.lit("RESOLVED_FALSE"))
        .when(fifty_fifty | ((p0 < SETTLED_LOW) & (p1 < SETTLED_LOW)))
        .then(pl.lit("VOID"))
        .otherwise(pl.lit("UNRESOLVED"))
    )
    resolved_ts = pl.when(closed).then(pl.coalesce(_as_utc(markets, "closed_ts"), _as_utc(markets, "end_ts")))

    out = markets.with_columns(label.alias("label"), resolved_ts.alias("resolved_ts"))
    out = out.with_columns(
        pl.col("resolved_ts").dt.date().alias("cohort_dt"),
        pl.when(pl.col("label") == "RESOLVED_TRUE")
        .then(pl.lit(1, dtype=pl.Int8))
        .when(pl.col("label") == "RESOLVED_FALSE")
        .then(pl.lit(0, dtype=pl.Int8))
        .otherwise(pl.lit(None, dtype=pl.Int8))
        .alias("y"),
    )
    return out.sort("market_id", maintain_order=True)
