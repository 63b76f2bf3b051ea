"""``/markets`` (search and filters over every market of the registry) and ``/markets/{market_id}`` (one market:
identity, latest state, paths, forecast band, trust and its components, alerts, bars)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from mca_serving.dto import (
    BandStep,
    Bar,
    MarketDetail,
    MarketRow,
    MarketsPage,
    MarketState,
    PathPoint,
    Registry,
    Resolution,
    Trust,
)
from mca_serving.reads import (
    ALERT_COLUMNS,
    LOOKUP_ERRORS,
    READ_ERRORS,
    LiquidityBucket,
    MarketId,
    Text,
    alerts_from,
    dicts,
    rows_as,
    snapshot_cursor,
)

Status = Literal["live", "closed", "resolved", "unseen"]

#: every registry market with its latest state, resolution and trust score (one row per market)
_MARKETS = """
SELECT r.market_id, coalesce(m.question, r.question) AS question, coalesce(m.slug, r.slug) AS slug,
       coalesce(m.category, r.category) AS category,
       CASE WHEN s.label IS NOT NULL THEN 'resolved' WHEN m.market_id IS NULL THEN 'unseen'
            WHEN m.closed THEN 'closed' ELSE 'live' END AS status,
       s.label, m.p_yes, m.volume_usd, m.liquidity_usd, m.liquidity_bucket, m.end_ts, t.trust_score
FROM core.market_registry r
LEFT JOIN core.markets m ON m.market_id = r.market_id
LEFT JOIN (SELECT market_id, label FROM core.resolutions
           QUALIFY row_number() OVER (PARTITION BY market_id ORDER BY dt DESC) = 1) s ON s.market_id = r.market_id
LEFT JOIN (SELECT market_id, trust_score FROM trust.trust_scores
           QUALIFY row_number() OVER (PARTITION BY market_id ORDER BY dt DESC) = 1) t ON t.market_id = r.market_id
"""
_REGISTRY_COLUMNS = ", ".join(Registry.__struct_fields__)
_TRUST_META = {"dt", "market_id", "trust_score", "formula_version", "low_confidence"}
MAX_PATH_POINTS = 2000
_NON_NEGATIVE = {"minimum": 0}  # Litestar 2.25 leaves out a bound of 0 (falsy) from OpenAPI


def _trust(row: dict[str, object]) -> Trust:
    numeric = {k: v for k, v in row.items() if k not in _TRUST_META and isinstance(v, float | int | None)}
    components = {k: None if v is None else float(v) for k, v in numeric.items() if not isinstance(v, bool)}
    details = {k: None if v is None else str(v) for k, v in row.items() if k not in _TRUST_META and k not in components}
    return Trust(
        row["dt"],
        row["trust_score"],
        row["formula_version"],
        row["low_confidence"],
        components,
        details,  # type: ignore[arg-type]
    )


class MarketsController(Controller):
    path = "/markets"
    tags = ("markets",)

    @get("/", operation_id="Markets", sync_to_thread=True, raises=READ_ERRORS)
    def markets(
        self,
        state: State,
        q: Annotated[
            str | None, QueryParameter(min_length=1, max_length=100, description="text in the question")
        ] = None,
        category: Text = None,
        status: Status | None = None,
        liquidity_bucket: LiquidityBucket | None = None,
        min_trust_score: Annotated[float | None, QueryParameter(ge=0, le=100, schema_extra=_NON_NEGATIVE)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000, schema_extra=_NON_NEGATIVE)] = 0,
    ) -> MarketsPage:
        """Markets by volume (largest first, then market_id); ``q`` matches the question, case-insensitively."""
        where, params = [], []
        for sql, value in (
            ("contains(lower(question), lower(?))", q),
            ("category = ?", category),
            ("status = ?", status),
            ("liquidity_bucket = ?", liquidity_bucket),
            ("trust_score >= ?", min_trust_score),
        ):
            if value is not None:
                where.append(sql)
                params.append(value)
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        with snapshot_cursor(state.reader) as cur:
            rows = cur.execute(
                f"SELECT *, count(*) OVER () AS total FROM ({_MARKETS}) {condition} "
                "ORDER BY volume_usd DESC NULLS LAST, market_id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
            total = rows[0][-1] if rows else self._count(cur, condition, params)
        return MarketsPage([MarketRow(*row[:-1]) for row in rows], total, limit, offset)

    @staticmethod
    def _count(cur, condition: str, params: list[object]) -> int:  # type: ignore[no-untyped-def]
        return int(cur.execute(f"SELECT count(*) FROM ({_MARKETS}) {condition}", params).fetchone()[0])

    @get("/{market_id:str}", operation_id="Market", sync_to_thread=True, raises=LOOKUP_ERRORS)
    def market(self, state: State, market_id: MarketId) -> MarketDetail:
        """Everything the snapshot knows of one market; 404 when the registry has never seen it."""
        with snapshot_cursor(state.reader) as cur:
            registry = rows_as(
                cur, Registry, f"SELECT {_REGISTRY_COLUMNS} FROM core.market_registry WHERE market_id = ?", [market_id]
            )
            if not registry:
                raise NotFoundException(detail=f"no market {market_id!r} in the registry")
            latest = rows_as(
                cur, MarketState,
                "SELECT dt, closed, p_yes, best_bid, best_ask, spread, volume_usd, volume_24h, liquidity_usd, "
                "liquidity_bucket, start_ts, end_ts FROM core.markets WHERE market_id = ?", [market_id],
            )  # fmt: skip
            resolution = rows_as(
                cur, Resolution,
                "SELECT dt, resolved_ts, label FROM core.resolutions WHERE market_id = ? ORDER BY dt DESC LIMIT 1",
                [market_id],
            )  # fmt: skip
            path = rows_as(
                cur, PathPoint,
                "SELECT ts, p FROM (SELECT DISTINCT ON (ts) ts, p FROM core.price_history WHERE market_id = ? "
                "ORDER BY ts DESC, dt DESC LIMIT ?) ORDER BY ts", [market_id, MAX_PATH_POINTS],
            )  # fmt: skip
            live_path = rows_as(
                cur, PathPoint, "SELECT ts, p FROM core.live_paths WHERE market_id = ? ORDER BY ts", [market_id]
            )
            band = rows_as(
                cur, BandStep,
                "SELECT as_of_ts, step, ts, q10, q50, q90, runtime, model_name, fallback_reason "
                "FROM serving.forecast_bands WHERE market_id = ? ORDER BY step", [market_id],
            )  # fmt: skip
            trust = dicts(
                cur, "SELECT * FROM trust.trust_scores WHERE market_id = ? ORDER BY dt DESC LIMIT 1", [market_id]
            )
            alerts = dicts(
                cur, f"SELECT {ALERT_COLUMNS} FROM alerts.alerts WHERE market_id = ? "
                "ORDER BY ts DESC NULLS LAST, alert_id DESC LIMIT 100", [market_id],
            )  # fmt: skip
            token = registry[0].yes_token_id
            bars = rows_as(
                cur, Bar,
                "SELECT bucket_start, open, high, low, close, volume, trade_count FROM rt.bars_5m "
                "WHERE asset_id = ? ORDER BY bucket_start", [token],
            ) if token else []  # fmt: skip
        return MarketDetail(
            registry[0], latest[0] if latest else None, resolution[0] if resolution else None, path, live_path, band,
            _trust(trust[0]) if trust else None, alerts_from(alerts), bars,
        )  # fmt: skip
