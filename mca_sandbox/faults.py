"""Fault injection: what a real upstream does to a client, on demand and at a known rate.

A fault plan is a list of rules. Each rule names routes by glob (``gamma.*``, ``clob.prices_history``, ``ws.market``)
and the faults to inject there. Rules are applied in order and every matching rule gets its own draws, from a
generator seeded by the plan's seed, so a plan fires at reproducible rates. Counters of every fault fired are kept
and exposed at ``GET /_faults`` so tests can compare what a client saw with what the venue did.

The plan is set at start (``--faults``, JSON text, ``@file.json``, or the compact form
``gamma.*:429=0.05,500=0.1,malformed=0.01;ws.market:disconnect_after=2000``) and at run time (``POST /_faults``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import random
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from mca_sandbox.appkeys import FAULTS

#: Polymarket's published limits (requests per 10 s sliding window), applied when a rule says ``throttle``.
PUBLISHED_LIMITS_PER_10S: dict[str, int] = {
    "gamma.markets": 300,
    "gamma.markets_keyset": 300,
    "gamma.events": 500,
    "gamma.events_keyset": 500,
    "gamma.*": 4000,
    # /batch-prices-history has no published limit of its own: each batch request counts as one /prices-history one
    "clob.*prices_history": 1000,
    "clob.book": 1500,
    "clob.*": 9000,
    "subgraph": 1000,  # Goldsky: 100 req/s per IP
}


@dataclass
class FaultRule:
    """Faults injected on the routes matching ``route`` (a glob on route names)."""

    route: str = "*"
    status: dict[int, float] = field(default_factory=dict)  # status code -> probability per request
    retry_after: float = 1.0  # seconds advertised with an injected 429
    latency_ms: float = 0.0  # added to every matching request
    hang_rate: float = 0.0  # probability to hang for hang_s before answering
    hang_s: float = 30.0
    truncate_rate: float = 0.0  # body cut in the middle
    malformed_rate: float = 0.0  # body that is not JSON
    empty_rate: float = 0.0  # list emptied (cursor kept): an empty page
    corrupt_rate: float = 0.0  # per record of a page: a bad record (wrong type, missing id, NaN, price out of [0, 1])
    disconnect_after: int | None = None  # WebSocket: close after N messages sent on a connection
    duplicate_rate: float = 0.0  # WebSocket: a message sent twice
    reorder_rate: float = 0.0  # WebSocket: a message held back and sent after the next one
    throttle: bool = False  # queue requests to stay within Polymarket's published limits

    def matches(self, route: str) -> bool:
        return fnmatch.fnmatchcase(route, self.route)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FaultRule:
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {sorted(unknown)}; known: {sorted(known)}")
        data = dict(raw)
        if "status" in data:
            data["status"] = {int(k): float(v) for k, v in data["status"].items()}
            bad = [code for code in data["status"] if code < 400 or code > 599]
            if bad:
                raise ValueError(f"status faults must be 4xx/5xx codes, got {bad}")
        for name in (
            "hang_rate",
            "truncate_rate",
            "malformed_rate",
            "empty_rate",
            "corrupt_rate",
            "duplicate_rate",
            "reorder_rate",
        ):
            if name in data and not 0.0 <= float(data[name]) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {data[name]}")
        return cls(**data)


def parse_plan(spec: str) -> list[FaultRule]:
    """Parse ``--faults``: JSON (a list of rules or ``{"rules": [...]}``), ``@path``, or the compact form."""
    spec = spec.strip()
    if not spec:
        return []
    if spec.startswith("@"):
        spec = Path(spec[1:]).read_text()
    if spec[0] in "[{":
        raw = json.loads(spec)
        rules = raw["rules"] if isinstance(raw, dict) else raw
        return [FaultRule.from_dict(r) for r in rules]
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        route, _, body = part.partition(":")
        rule: dict[str, Any] = {"route": route.strip() or "*", "status": {}}
        for item in filter(None, (i.strip() for i in body.split(","))):
            key, _, value = item.partition("=")
            if key.isdigit():
                rule["status"][key] = float(value)
            elif key in ("malformed", "truncate", "empty", "corrupt", "hang", "duplicate", "reorder"):
                rule[f"{key}_rate"] = float(value)
            elif key == "throttle":
                rule["throttle"] = value.lower() in ("1", "true", "on", "yes", "")
            elif key == "disconnect_after":
                rule["disconnect_after"] = int(value)
            else:
                rule[key] = float(value)
        rules.append(FaultRule.from_dict(rule))
    return rules


@dataclass
class Decision:
    """What to do to one request, decided before the handler runs."""

    status: int | None = None
    retry_after: float = 0.0
    delay_s: float = 0.0
    truncate: bool = False
    malformed: bool = False
    empty: bool = False
    corrupt_rate: float = 0.0


class FaultState:
    """The live fault plan, its random draws and the counters of faults fired."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int = 0) -> None:
        self.seed = seed
        self.fired: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._windows: dict[str, deque[float]] = {}
        self.set_rules(rules or [])

    def set_rules(self, rules: list[FaultRule]) -> None:
        self.rules = rules
        self._rng = random.Random(self.seed)
        self.fired.clear()
        self.requests.clear()

    def rules_for(self, route: str) -> list[FaultRule]:
        return [r for r in self.rules if r.matches(route)]

    def count(self, route: str, kind: str) -> None:
        self.fired[f"{route}:{kind}"] += 1

    def decide(self, route: str) -> Decision:
        """Draw this request's faults; at most one status fault fires per request (the first rule that draws)."""
        self.requests[route] += 1
        decision = Decision()
        rng = self._rng
        for rule in self.rules_for(route):
            decision.delay_s += rule.latency_ms / 1000.0
            if decision.status is None:
                for code, rate in rule.status.items():
                    if rng.random() < rate:
                        decision.status = code
                        decision.retry_after = rule.retry_after
                        self.count(route, str(code))
                        break
            if rule.hang_rate and rng.random() < rule.hang_rate:
                decision.delay_s += rule.hang_s
                self.count(route, "hang")
            # body faults only where a body is sent: an error status replaces the body
            body_ok = decision.status is None
            if body_ok and rule.truncate_rate and rng.random() < rule.truncate_rate:
                decision.truncate = True
                self.count(route, "truncate")
            if body_ok and rule.malformed_rate and rng.random() < rule.malformed_rate:
                decision.malformed = True
                self.count(route, "malformed")
            if body_ok and rule.empty_rate and rng.random() < rule.empty_rate:
                decision.empty = True
                self.count(route, "empty")
            if body_ok and rule.corrupt_rate:
                decision.corrupt_rate = max(decision.corrupt_rate, rule.corrupt_rate)
            if rule.throttle:
                decision.delay_s += self._throttle_delay(route)
        return decision

    def _throttle_delay(self, route: str) -> float:
        """Sliding-window queueing at the published limit of the most specific matching limit key."""
        key = next((k for k in PUBLISHED_LIMITS_PER_10S if fnmatch.fnmatchcase(route, k)), None)
        if key is None:
            return 0.0
        limit = PUBLISHED_LIMITS_PER_10S[key]
        window = self._windows.setdefault(key, deque())
        now = time.monotonic()
        while window and window[0] <= now - 10.0:
            window.popleft()
        if len(window) < limit:
            window.append(now)
            return 0.0
        start = window[-limit] + 10.0  # when the request `limit` places back leaves the window
        window.append(start)
        self.count(route, "throttled")
        return max(0.0, start - now)

    def ws_rule(self, route: str = "ws.market") -> FaultRule:
        """The merged WebSocket faults for a route (first non-default value wins)."""
        merged = FaultRule(route=route)
        for rule in self.rules_for(route):
            if merged.disconnect_after is None and rule.disconnect_after is not None:
                merged.disconnect_after = rule.disconnect_after
            merged.duplicate_rate = merged.duplicate_rate or rule.duplicate_rate
            merged.reorder_rate = merged.reorder_rate or rule.reorder_rate
            merged.latency_ms = merged.latency_ms or rule.latency_ms
        return merged

    def draw(self) -> float:
        return self._rng.random()

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rules": [asdict(r) for r in self.rules],
            "fired": dict(self.fired),
            "requests": dict(self.requests),
        }


def _emptied(payload: Any) -> Any:
    """Every list emptied, at any depth (so GraphQL's ``{"data": {"orderbooks": [...]}}`` empties too)."""
    if isinstance(payload, list):
        return []
    if isinstance(payload, dict):
        return {k: _emptied(v) if isinstance(v, list | dict) else v for k, v in payload.items()}
    return payload


#: Ways a record goes bad upstream; each is one the platform must reject with a reason, never crash on.
_CORRUPTIONS: tuple[tuple[str, Any], ...] = (
    ("id", None),  # missing required id
    ("outcomePrices", '["NaN", "NaN"]'),  # NaN prices
    ("outcomePrices", '["1.7", "-0.7"]'),  # prices outside [0, 1]
    ("clobTokenIds", 12),  # wrong type
)


def _corrupt_records(payload: Any, rate: float, faults: FaultState) -> int:
    """Corrupt each record of the page's list with probability ``rate``; returns how many were corrupted."""
    records = payload if isinstance(payload, list) else next((v for v in payload.values() if isinstance(v, list)), [])
    count = 0
    for record in records:
        if not isinstance(record, dict) or faults.draw() >= rate:
            continue
        key, value = _CORRUPTIONS[int(faults.draw() * len(_CORRUPTIONS))]
        if key not in record or key == "id":
            record.pop("id", None)
        else:
            record[key] = value
        count += 1
    return count


@web.middleware
async def fault_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Apply the plan to every named route except the control routes (``_truth``, ``_faults``)."""
    route = request.match_info.route.name
    if not route or route.startswith("_"):
        return await handler(request)
    faults = request.app[FAULTS]
    decision = faults.decide(route)
    if decision.delay_s:
        await asyncio.sleep(decision.delay_s)
    if decision.status is not None:
        headers = {"Retry-After": f"{decision.retry_after:g}"} if decision.status == 429 else {}
        body = {"error": "Too Many Requests"} if decision.status == 429 else {"error": "injected fault"}
        return web.json_response(body, status=decision.status, headers=headers)
    response = await handler(request)
    if not isinstance(response, web.Response) or response.body is None:
        return response
    if not (decision.truncate or decision.malformed or decision.empty or decision.corrupt_rate):
        return response
    raw = bytes(response.body)  # type: ignore[arg-type]
    if decision.empty:
        raw = json.dumps(_emptied(json.loads(raw)), separators=(",", ":")).encode()
    if decision.corrupt_rate:
        payload = json.loads(raw)
        corrupted = _corrupt_records(payload, decision.corrupt_rate, faults)
        if corrupted:
            faults.fired[f"{route}:corrupt"] += corrupted
            raw = json.dumps(payload, separators=(",", ":")).encode()
    if decision.malformed:
        raw = b"<html><body>502 Bad Gateway</body></html>" if len(raw) % 2 else raw.replace(b'"', b"'", 3)
    if decision.truncate:
        raw = raw[: max(1, len(raw) // 2)]
    return web.Response(body=raw, status=response.status, content_type="application/json")


async def faults_get(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS].describe())


async def faults_post(request: web.Request) -> web.Response:
    """Replace the plan: body is a list of rules, ``{"rules": [...]}``, or ``{"spec": "<compact form>"}``."""
    try:
        raw = await request.json()
        if isinstance(raw, dict) and "spec" in raw:
            rules = parse_plan(str(raw["spec"]))
        else:
            items = raw["rules"] if isinstance(raw, dict) else raw
            if not isinstance(items, list):
                raise ValueError("expected a list of rules")
            rules = [FaultRule.from_dict(r) for r in items]
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": f"invalid fault plan: {exc}"}, status=400)
    faults = request.app[FAULTS]
    faults.set_rules(rules)
    return web.json_response(faults.describe())


def setup(app: web.Application) -> None:
    app.router.add_get("/_faults", faults_get, name="_faults_get")
    app.router.add_post("/_faults", faults_post, name="_faults_post")
