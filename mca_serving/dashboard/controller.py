"""``/`` (the page), ``/static/{name}`` (its files, gzipped when the browser accepts it) and the two reads the API
has no shape for: the list of postmortems and one rendered as HTML. Hidden from OpenAPI: they are the page's, not
the API's; everything else the page shows it fetches from the API itself."""

from __future__ import annotations

from functools import cache
from string import Template
from typing import Annotated

import msgspec
from litestar import Controller, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from mca_serving.controllers.postmortems import latest_postmortem
from mca_serving.dashboard.assets import OWN_DIR, Asset, load_assets
from mca_serving.dashboard.grades import DashboardConfig
from mca_serving.dashboard.markdown import renderer
from mca_serving.policy import NO_RATE_LIMIT
from mca_serving.reads import LOOKUP_ERRORS, READ_ERRORS, MarketId, snapshot_cursor

IMMUTABLE = "public, max-age=31536000, immutable"
_MARKDOWN = renderer()


class PostmortemItem(msgspec.Struct):
    market_id: str
    dt: str
    question: str | None
    label: str | None


@cache
def assets() -> dict[str, Asset]:
    """By hashed name."""
    return {asset.name: asset for asset in load_assets().values()}


DEFAULT_CONFIG = DashboardConfig()


@cache
def page_html(config: DashboardConfig = DEFAULT_CONFIG) -> bytes:
    """index.html naming the current asset files (``$bokeh_min_js`` ...) and carrying the page's config."""
    urls = {key.replace(".", "_").replace("-", "_"): f"/static/{a.name}" for key, a in load_assets().items()}
    page = Template((OWN_DIR / "index.html").read_text())
    return page.substitute(urls, config=msgspec.json.encode(config).decode()).encode()


class DashboardController(Controller):
    include_in_schema = False

    @get("/", media_type=MediaType.HTML, opt=NO_RATE_LIMIT)
    async def page(self) -> Response[bytes]:
        return Response(page_html(), media_type=MediaType.HTML, headers={"Cache-Control": "no-cache"})

    @get("/static/{name:str}", opt=NO_RATE_LIMIT, raises=[NotFoundException])
    async def static(self, request: Request, name: str) -> Response[bytes]:  # type: ignore[type-arg]
        asset = assets().get(name)
        if asset is None:
            raise NotFoundException(detail=f"no static file {name!r}")
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(asset.gzipped, media_type=asset.media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    @get("/dashboard/postmortems", sync_to_thread=True, raises=READ_ERRORS)
    def postmortems(
        self, state: State, limit: Annotated[int, QueryParameter(ge=1, le=500)] = 200
    ) -> list[PostmortemItem]:
        """The latest postmortem of each market, newest day first, with the question and the label."""
        with snapshot_cursor(state.reader) as cur:
            rows = cur.execute(
                "SELECT p.market_id, CAST(p.dt AS VARCHAR), r.question, s.label FROM "
                "(SELECT market_id, max(dt) AS dt FROM reports.postmortems GROUP BY market_id) p "
                "LEFT JOIN core.market_registry r USING (market_id) "
                "LEFT JOIN (SELECT market_id, label FROM core.resolutions QUALIFY "
                "row_number() OVER (PARTITION BY market_id ORDER BY dt DESC) = 1) s USING (market_id) "
                "ORDER BY p.dt DESC, p.market_id LIMIT ?",
                [limit],
            ).fetchall()
        return [PostmortemItem(*row) for row in rows]

    @get("/dashboard/postmortem/{market_id:str}", media_type=MediaType.HTML, sync_to_thread=True, raises=LOOKUP_ERRORS)
    def postmortem_html(self, state: State, market_id: MarketId) -> str:
        """The latest postmortem of the market, rendered (the API's ``/postmortem/{id}`` holds its markdown)."""
        return _MARKDOWN.render(latest_postmortem(state, market_id).markdown)
