"""``/scoreboard``, ``/reliability`` and ``/metrics/calibration_quality``: the latest scored day of the snapshot.

A segment filter picks one ``segment_type`` and its ``segment``: ``category`` (or its seed name ``tag``),
``liquidity_bucket``, or ``segment_type`` + ``segment``. The scoreboard has one dimension per row, so two filters
of different dimensions are a 400 rather than an empty answer.
"""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State

from mca_serving.dto import BinRow, CalibrationQuality, HorizonQuality, IntervalQuality, ScoreRow
from mca_serving.reads import (
    HORIZON_ORDER,
    READ_ERRORS,
    Horizon,
    LiquidityBucket,
    SegmentType,
    Text,
    Window,
    bad_query,
    rows_as,
    snapshot_cursor,
)

_SCORE_COLUMNS = ", ".join(f'"{name}"' for name in ScoreRow.__struct_fields__)
_BIN_COLUMNS = ", ".join(f'"{name}"' for name in BinRow.__struct_fields__)


def segment_filter(
    segment_type: SegmentType | None,
    segment: str | None,
    category: str | None,
    tag: str | None,
    liquidity_bucket: str | None,
) -> tuple[str | None, str | None]:
    """The one (segment_type, segment) the filters name (segment None: every segment of that type), or a 400."""
    if category is not None and tag is not None and category != tag:
        raise bad_query("tag", "tag and category name the same filter and differ")
    if segment is not None and segment_type is None:
        raise bad_query("segment", "segment needs segment_type")
    named: list[tuple[str, str | None]] = []
    if category is not None or tag is not None:
        named.append(("category", category or tag))
    if liquidity_bucket is not None:
        named.append(("liquidity_bucket", liquidity_bucket))
    if segment_type is not None:
        named.append((segment_type, segment))
    if len(named) > 1:
        keys = ", ".join(kind for kind, _ in named)
        raise bad_query(
            "segment_type", f"one segment filter at a time (the scoreboard has no crossed segments): {keys}"
        )
    return named[0] if named else (None, None)


def _where(window: str, horizon: str | None, kind: str | None, value: str | None) -> tuple[str, list[object]]:
    sql = ['"window" = ?']
    params: list[object] = [window]
    for column, given in (("horizon", horizon), ("segment_type", kind), ("segment", value)):
        if given is not None:
            sql.append(f"{column} = ?")
            params.append(given)
    return " AND ".join(sql), params


class ScoreboardController(Controller):
    path = "/scoreboard"
    tags = ("calibration",)

    @get("/", operation_id="Scoreboard", sync_to_thread=True, raises=READ_ERRORS)
    def scoreboard(
        self,
        state: State,
        window: Window = "90d",
        horizon: Horizon | None = None,
        segment_type: SegmentType | None = None,
        segment: Text = None,
        category: Text = None,
        tag: Text = None,
        liquidity_bucket: LiquidityBucket | None = None,
    ) -> list[ScoreRow]:
        """Calibration metrics of the latest scored day, in horizon order, then segment type and segment.

        One segment filter at a time: ``category`` (or ``tag``, equal if both), ``liquidity_bucket``, or
        ``segment_type`` (with an optional ``segment``); two dimensions are a 400 (no crossed segments are scored).
        """
        kind, value = segment_filter(segment_type, segment, category, tag, liquidity_bucket)
        where, params = _where(window, horizon, kind, value)
        with snapshot_cursor(state.reader) as cur:
            return rows_as(
                cur, ScoreRow,
                f"SELECT {_SCORE_COLUMNS} FROM calib.scoreboard WHERE {where} "
                f"ORDER BY {HORIZON_ORDER}, segment_type, segment", params,
            )  # fmt: skip


class ReliabilityController(Controller):
    path = "/reliability"
    tags = ("calibration",)

    @get("/", operation_id="Reliability", sync_to_thread=True, raises=READ_ERRORS)
    def reliability(
        self,
        state: State,
        window: Window = "90d",
        horizon: Horizon | None = None,
        segment_type: SegmentType | None = None,
        segment: Text = None,
        category: Text = None,
        tag: Text = None,
        liquidity_bucket: LiquidityBucket | None = None,
    ) -> list[BinRow]:
        """The points of the reliability diagrams (Wilson intervals), per horizon and segment, bins in order; the
        segment filters are the scoreboard's (one at a time)."""
        kind, value = segment_filter(segment_type, segment, category, tag, liquidity_bucket)
        where, params = _where(window, horizon, kind, value)
        with snapshot_cursor(state.reader) as cur:
            return rows_as(
                cur, BinRow,
                f"SELECT {_BIN_COLUMNS} FROM calib.reliability_bins WHERE {where} "
                f"ORDER BY {HORIZON_ORDER}, segment_type, segment, bin", params,
            )  # fmt: skip


class CalibrationQualityController(Controller):
    path = "/metrics/calibration_quality"
    tags = ("calibration",)

    @get("/", operation_id="CalibrationQuality", sync_to_thread=True, raises=READ_ERRORS)
    def calibration_quality(self, state: State, window: Window = "90d") -> CalibrationQuality:
        """One summary per horizon (segment ``all``) and the interval methods' coverage against nominal."""
        with snapshot_cursor(state.reader) as cur:
            dt = cur.execute("SELECT max(dt) FROM calib.scoreboard").fetchone()[0]  # type: ignore[index]
            horizons = rows_as(
                cur, HorizonQuality,
                "SELECT horizon, n, n_events, brier, brier_ci_low, brier_ci_high, log_loss, ece, ece_debiased, "
                "slope, intercept, low_confidence FROM calib.scoreboard "
                f"WHERE \"window\" = ? AND segment_type = 'all' ORDER BY {HORIZON_ORDER}", [window],
            )  # fmt: skip
            intervals = rows_as(
                cur, IntervalQuality,
                "SELECT method, band_calibration, nominal, n, coverage, mean_width, winkler "
                "FROM calib.interval_metrics WHERE segment_type = 'all' ORDER BY method, band_calibration, nominal",
            )  # fmt: skip
        return CalibrationQuality(dt, window, horizons, intervals)
