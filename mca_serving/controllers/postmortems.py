"""``/postmortem/{market_id}``: the latest postmortem of a resolved market, as JSON or as its markdown text."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException

from mca_serving.dto import Postmortem
from mca_serving.errors import client_error_as_json
from mca_serving.reads import LOOKUP_ERRORS, MarketId, rows_as, snapshot_cursor


def latest_postmortem(state: State, market_id: str) -> Postmortem:
    """The newest report of ``market_id`` in the snapshot (the API's routes and the dashboard's page); 404 if none."""
    with snapshot_cursor(state.reader) as cur:
        found = rows_as(
            cur, Postmortem,
            "SELECT market_id, dt, path, markdown FROM reports.postmortems WHERE market_id = ? "
            "ORDER BY dt DESC LIMIT 1", [market_id],
        )  # fmt: skip
    if not found:
        raise NotFoundException(detail=f"no postmortem for market {market_id!r}")
    return found[0]


class PostmortemController(Controller):
    path = "/postmortem"
    tags = ("postmortems",)

    @get("/{market_id:str}", operation_id="Postmortem", sync_to_thread=True, raises=LOOKUP_ERRORS)
    def postmortem(self, state: State, market_id: MarketId) -> Postmortem:
        return latest_postmortem(state, market_id)

    @get(
        "/{market_id:str}/markdown",
        operation_id="PostmortemMarkdown",
        media_type="text/markdown; charset=utf-8",
        sync_to_thread=True,
        raises=LOOKUP_ERRORS,
        exception_handlers=dict.fromkeys((400, 404, 429), client_error_as_json),
    )
    def markdown(self, state: State, market_id: MarketId) -> str:
        """The same report as markdown (the file under data/reports/postmortem/)."""
        return latest_postmortem(state, market_id).markdown
