"""Ground truth of the world, served under ``/_truth`` (route names start with "_": faults never touch them).

Every route answers at the venue's current ``as_of`` (``clock.py``: fixed, or the live clock's latest view) and
reveals nothing later: outcomes of live markets, episodes not yet started.

- ``GET /_truth/world`` [_truth.world]: the config (seed, markets, events, start, end, ``as_of``/``as_of_ts``: the
  venue's current instant; ``clock`` "fixed" or "live", ``clock_origin_ts``: where the clock started, ``speed``;
  distortion per category as ``{"alpha", "beta"}``; ``rates``: ``{"manipulation_rate", "shock_rate",
  "ambiguous_share", "ambiguous_risk", "per_days": 30}``) and counts by label at ``as_of`` (``counts``: the truth
  labels, both voids merged into "VOID"; ``counts_detail``: VOID_5050 and VOID_ZERO_ZERO apart;
  ``visible_markets``/``visible_events``: created by as_of, i.e. listed on Gamma); ``episodes``: started episodes
  by kind; ``clarity``: ``{"clear"|"ambiguous": {"markets": n visible, "labels": {label: count},
  "void_or_unresolved_share": share of the closed ones that are VOID or UNRESOLVED (null if none closed)}}``.
- ``GET /_truth/markets?label=&resolved_date=YYYY-MM-DD&offset=0&limit=1000`` [_truth.markets]:
  ``{"total": N, "offset": o, "limit": l, "markets": [truth, ...]}`` in market id order; ``label`` is a truth label
  (RESOLVED_TRUE, RESOLVED_FALSE, VOID, UNRESOLVED, LIVE) or a detailed one (VOID_5050, VOID_ZERO_ZERO);
  ``resolved_date`` keeps markets closed on that UTC day; ``limit`` <= 10000. Each item is ``world.truth(m, as_of)``
  (``volume_usd`` and ``open_interest_usd`` as Gamma and the subgraphs show them at as_of; ``clarity``: ``{"clear":
  bool, "kinds": [...]}`` with kinds among no_date, no_timezone, relative_date, no_source, vague_wording,
  two_conditions; ``episodes``: the market's started episodes, as below) plus ``label_detail`` and
  ``uma_resolution_status`` (what Gamma shows).
- ``GET /_truth/markets/{market_id}`` [_truth.market]: the same dict; with ``?paths=1&fidelity=60&start=&end=``
  (unix seconds, default the whole life up to as_of) adds ``"paths": {"t": [...], "p_true": [...],
  "p_market": [...], "volume": [...], "open_interest": [...]}`` on exactly the grid and time offset of
  ``/clob/prices-history`` for the YES token (grid points in [start, end), ``t = grid + history offset``,
  ``t <= as_of``), without its range limit; ``volume`` (cumulative USD) and ``open_interest`` (USD) are the world's
  at each ``t``, rounded to the micro-dollar as every route rounds them.
- ``GET /_truth/episodes?market_id=&kind=&start=&end=&offset=0&limit=1000`` [_truth.episodes]: ``{"total", "offset",
  "limit", "episodes": [{"episode_id", "market_id", "event_id", "kind" (pump_and_revert | wash |
  information_shock), "start_ts", "end_ts", "magnitude", "price_move_ts", "volume_start_ts", "volume_end_ts",
  "volume_usd", "volume_multiple", "open_interest_usd", "trades"}]}`` in episode id order (market, then start);
  ``start``/``end`` keep episodes overlapping [start, end). ``magnitude``: a pump's peak displacement of the market
  price, a shock's jump of p_true (both signed, probability units), 0 for wash; ``price_move_ts``: when the market
  price starts to move (a shock's start plus the market's lag; null for wash); ``volume_*``: the extra volume
  burst's window and amount and its rate over the market's mean hourly volume; ``open_interest_usd``: a pump's
  peak extra open interest, a shock's lasting gain, 0 for wash; ``trades``: extra trades. Semantics in
  ``episodes.py``.
- ``GET /_truth/resolutions?date=YYYY-MM-DD`` [_truth.resolutions]: ``{"date": d, "markets": [{market_id, event_id,
  label, label_detail, resolved_ts, outcome}]}``: every market closed on that UTC day (outcome null unless
  RESOLVED_TRUE/FALSE).
- ``GET /_truth/gamma_ids`` [_truth.gamma_ids]: ``{"market_ids": [...], "event_ids": [...]}``: every id Gamma lists
  (each exactly once across a full keyset crawl).
Bad parameters -> 400 ``{"error": "..."}``; unknown market -> 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import numpy as np
from aiohttp import web

from mca_sandbox.appkeys import SPEED
from mca_sandbox.episodes import KINDS, WINDOW_DAYS
from mca_sandbox.render import LABEL_DETAIL, Venue, venue
from mca_sandbox.world import CATEGORIES, DAY, LABEL_NAMES, LIVE, MINUTE

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1000
_encode = msgspec.json.Encoder().encode


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=_encode(payload), status=status, content_type="application/json")


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


class BadRequest(Exception):
    pass


def _int(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw, 10)
    except ValueError:
        raise BadRequest(f"invalid integer for {name}: {raw!r}") from None


def _day(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"invalid {name}: {raw!r} (expected YYYY-MM-DD)") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def market_truths(v: Venue, markets: list[int]) -> list[dict[str, object]]:
    out = v.world.truths(markets, v.as_of)
    for m, item in zip(markets, out, strict=True):
        item["label_detail"] = LABEL_DETAIL[int(v.label[m])]
        item["uma_resolution_status"] = v.uma_status(m)
    return out


def truth_paths(v: Venue, m: int, start: int, end: int, fidelity: int) -> dict[str, list[float] | list[int]]:
    """p_true and p_market on the prices-history grid of the YES token (same offset, t <= as_of), and the
    cumulative volume and open interest at each shown time t."""
    w = v.world
    ts, p_true, p_market = w.paths(m, start, end, step=fidelity * MINUTE)
    t = ts + int(w.market_history_offset[m])
    keep = t <= v.as_of
    flows = w.flow_path(m, t[keep])
    return {
        "t": t[keep].tolist(),
        "p_true": p_true[keep].tolist(),
        "p_market": p_market[keep].tolist(),
        "volume": np.round(flows.volume, 6).tolist(),
        "open_interest": np.round(flows.open_interest, 6).tolist(),
    }


def _label_counts(labels: np.ndarray) -> dict[str, int]:
    detail = np.bincount(labels, minlength=len(LABEL_DETAIL))
    counts: dict[str, int] = {}
    for code, name in LABEL_NAMES.items():
        counts[name] = counts.get(name, 0) + int(detail[code])
    return counts


def clarity_summary(v: Venue) -> dict[str, dict[str, object]]:
    """Per clarity class, over visible markets: counts, labels, and the VOID/UNRESOLVED share of closed markets."""
    w = v.world
    ambiguous = w.event_ambiguity[w.market_event] > 0
    out: dict[str, dict[str, object]] = {}
    for name, mask in (("clear", ~ambiguous & v.visible), ("ambiguous", ambiguous & v.visible)):
        labels = _label_counts(v.label[mask])
        closed = sum(labels.values()) - labels["LIVE"]
        bad = labels["VOID"] + labels["UNRESOLVED"]
        out[name] = {
            "markets": int(mask.sum()),
            "labels": labels,
            "void_or_unresolved_share": round(bad / closed, 6) if closed else None,
        }
    return out


async def world_info(request: web.Request) -> web.Response:
    v = venue(request.app)
    w = v.world
    cfg = w.config
    detail = np.bincount(v.label, minlength=len(LABEL_DETAIL))
    started = w.episodes.start <= v.as_of
    return _json(
        {
            "seed": cfg.seed,
            "markets": w.n_markets,
            "events": w.n_events,
            "visible_markets": int(v.visible.sum()),
            "visible_events": int(v.ev_visible.sum()),
            "start": cfg.start.isoformat(),
            "end": cfg.end.isoformat(),
            "as_of": datetime.fromtimestamp(v.as_of, UTC).isoformat().replace("+00:00", "Z"),
            "as_of_ts": v.as_of,
            "clock": cfg.clock,
            "clock_origin_ts": cfg.as_of_ts,
            "speed": float(request.app[SPEED]),
            "distortion": {
                c: {
                    "alpha": float(cfg.distortion.get(c, (0.0, 1.0))[0]),
                    "beta": float(cfg.distortion.get(c, (0.0, 1.0))[1]),
                }
                for c in CATEGORIES
            },
            "rates": {
                "manipulation_rate": cfg.manipulation_rate,
                "shock_rate": cfg.shock_rate,
                "ambiguous_share": cfg.ambiguous_share,
                "ambiguous_risk": cfg.ambiguous_risk,
                "per_days": WINDOW_DAYS,
            },
            "counts": _label_counts(v.label),
            "counts_detail": {LABEL_DETAIL[code]: int(detail[code]) for code in sorted(LABEL_DETAIL)},
            "episodes": {kind: int((started & (w.episodes.kind == code)).sum()) for code, kind in enumerate(KINDS)},
            "clarity": clarity_summary(v),
        }
    )


async def episodes(request: web.Request) -> web.Response:
    v = venue(request.app)
    w = v.world
    ep = w.episodes
    q = request.query
    try:
        offset = _int(request, "offset", 0)
        limit = _int(request, "limit", DEFAULT_LIMIT)
        start = _int(request, "start", None)
        end = _int(request, "end", None)
    except BadRequest as exc:
        return _error(str(exc))
    assert offset is not None
    assert limit is not None
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        return _error(f"need offset >= 0 and 1 <= limit <= {MAX_LIMIT}")
    mask = (ep.start <= v.as_of) & v.visible[ep.market]
    kind = q.get("kind")
    if kind:
        if kind not in KINDS:
            return _error(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        mask &= ep.kind == KINDS.index(kind)
    market_id = q.get("market_id")
    if market_id:
        m = v.market_index(market_id)
        if m is None:
            return _error("market not found", 404)
        mask &= ep.market == m
    if start is not None:
        mask &= ep.end > start
    if end is not None:
        mask &= ep.start < end
    selected = np.flatnonzero(mask)
    page = selected[offset : offset + limit]
    return _json({"total": int(selected.size), "offset": offset, "limit": limit, "episodes": ep.rows(page)})


def _label_codes(raw: str) -> list[int]:
    name = raw.strip().upper()
    codes = [code for code, label in LABEL_NAMES.items() if label == name]
    codes += [code for code, label in LABEL_DETAIL.items() if label == name and code not in codes]
    if not codes:
        known = sorted(set(LABEL_NAMES.values()) | set(LABEL_DETAIL.values()))
        raise BadRequest(f"unknown label {raw!r}; known: {', '.join(known)}")
    return codes


async def markets(request: web.Request) -> web.Response:
    v = venue(request.app)
    q = request.query
    try:
        offset = _int(request, "offset", 0)
        limit = _int(request, "limit", DEFAULT_LIMIT)
        day = _day(q.get("resolved_date"), "resolved_date")
        codes = _label_codes(q["label"]) if q.get("label") else None
    except BadRequest as exc:
        return _error(str(exc))
    assert offset is not None
    assert limit is not None
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        return _error(f"need offset >= 0 and 1 <= limit <= {MAX_LIMIT}")
    mask = v.visible.copy()
    if codes is not None:
        mask &= np.isin(v.label, codes)
    if day is not None:
        mask &= (v.label != LIVE) & (v.resolved_s >= day) & (v.resolved_s < day + DAY)
    selected = np.flatnonzero(mask)
    page = selected[offset : offset + limit].tolist()
    return _json({"total": int(selected.size), "offset": offset, "limit": limit, "markets": market_truths(v, page)})


async def market(request: web.Request) -> web.Response:
    v = venue(request.app)
    m = v.market_index(request.match_info["market_id"])
    if m is None:
        return _error("market not found", 404)
    [out] = market_truths(v, [m])
    if request.query.get("paths", "").lower() in ("1", "true"):
        try:
            fidelity = _int(request, "fidelity", 60)
            start = _int(request, "start", 0)
            end = _int(request, "end", v.as_of + 1)
        except BadRequest as exc:
            return _error(str(exc))
        assert fidelity is not None
        assert start is not None
        assert end is not None
        if not 1 <= fidelity <= 525_600 or not 0 <= start <= end <= 1 << 40:
            return _error("need 1 <= fidelity <= 525600 (minutes) and 0 <= start <= end <= 2**40")
        out["paths"] = truth_paths(v, m, start, end, fidelity)
    return _json(out)


async def resolutions(request: web.Request) -> web.Response:
    v = venue(request.app)
    raw = request.query.get("date")
    try:
        day = _day(raw, "date")
    except BadRequest as exc:
        return _error(str(exc))
    if day is None:
        return _error("date is required (YYYY-MM-DD)")
    w = v.world
    mask = v.visible & (v.label != LIVE) & (v.resolved_s >= day) & (v.resolved_s < day + DAY)
    cohort = []
    markets = np.flatnonzero(mask).tolist()
    for m, truth in zip(markets, w.truths(markets, v.as_of), strict=True):
        cohort.append(
            {
                "market_id": truth["market_id"],
                "event_id": truth["event_id"],
                "label": truth["label"],
                "label_detail": LABEL_DETAIL[int(v.label[m])],
                "resolved_ts": truth["resolved_ts"],
                "outcome": truth["outcome"],
            }
        )
    return _json({"date": raw, "markets": cohort})


async def gamma_ids(request: web.Request) -> web.Response:
    v = venue(request.app)
    w = v.world
    return _json(
        {
            "market_ids": [w.market_id(m) for m in np.flatnonzero(v.visible).tolist()],
            "event_ids": [w.event_id(e) for e in np.flatnonzero(v.ev_visible).tolist()],
        }
    )


def setup(app: web.Application) -> None:
    """Register the ground-truth routes under /_truth."""
    r = app.router
    r.add_get("/_truth/world", world_info, name="_truth.world")
    r.add_get("/_truth/markets", markets, name="_truth.markets")
    r.add_get("/_truth/markets/{market_id}", market, name="_truth.market")
    r.add_get("/_truth/resolutions", resolutions, name="_truth.resolutions")
    r.add_get("/_truth/gamma_ids", gamma_ids, name="_truth.gamma_ids")
    r.add_get("/_truth/episodes", episodes, name="_truth.episodes")
