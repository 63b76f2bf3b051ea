"""Minimal read endpoints over the warehouse until the snapshot reader lands: rows, or 503 "no snapshot yet"."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.exceptions import ServiceUnavailableException
from litestar.params import QueryParameter

from mca_serving.warehouse_reader import WarehouseReader

NO_SNAPSHOT = "no snapshot yet: run the daily graph first"


def _rows(reader: WarehouseReader, sql: str, params: list[object]) -> list[dict[str, Any]]:
    frame = reader.query(sql, params)
    if frame is None:
        raise ServiceUnavailableException(detail=NO_SNAPSHOT, headers={"Retry-After": "60"})
    return frame.to_dicts()


class ScoreboardController(Controller):
    path = "/scoreboard"
    tags = ("read",)

    @get("/", operation_id="Scoreboard", sync_to_thread=True, raises=[ServiceUnavailableException])
    def scoreboard(
        self,
        state: State,
        window: Annotated[str, QueryParameter(pattern=r"^(1d|30d|90d|365d|all)$")] = "90d",
        horizon: Annotated[str | None, QueryParameter(pattern=r"^(1h|4h|1d|1w|1m)$")] = None,
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT * EXCLUDE (dt) FROM calib.scoreboard WHERE dt = (SELECT max(dt) FROM calib.scoreboard) "
            'AND "window" = ? AND (? IS NULL OR horizon = ?) ORDER BY horizon, segment_type, segment'
        )
        return _rows(state.reader, sql, [window, horizon, horizon])


class MarketsController(Controller):
    path = "/markets"
    tags = ("read",)

    @get("/", operation_id="Markets", sync_to_thread=True, raises=[ServiceUnavailableException])
    def markets(
        self,
        state: State,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT market_id, question, category, p_yes, volume_usd, liquidity_usd, closed, end_ts "
            "FROM core.markets WHERE dt = (SELECT max(dt) FROM core.markets) "
            "ORDER BY volume_usd DESC NULLS LAST, market_id LIMIT ? OFFSET ?"
        )
        return _rows(state.reader, sql, [limit, offset])
