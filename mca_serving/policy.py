"""Rules every route obeys, as one async ``before_request`` hook: a rate limit per client address, and query
strings checked against what the route handler declares.

- Unknown query parameters are a 400 naming them: a filter that is not implemented yet (``tag``, ``segment``,
  ...) must not silently return unfiltered rows. Handlers that take the whole ``query`` mapping accept anything.
- A declared ``pattern`` must match the whole value (``re.fullmatch``): msgspec and Litestar use ``re.search``,
  where ``^90d$`` also accepts ``"90d\\n"``.
- Every route but those whose ``opt`` says ``rate_limit=False`` (``/health``, ``/metrics``, and the forecaster,
  which its auth guard limits per identity) spends a token of the caller's address bucket; over it, a 429 with
  ``Retry-After``.

The declared parameters come from the kwargs model Litestar built for each route (so parameters of dependencies
count too), collected once when the app is built. A hook, not middleware, so that a 429 or 400 is an ordinary
response of the route; and ``before_request`` receives the registered handler, not a per-call copy.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from litestar import Litestar, Request
from litestar.exceptions import TooManyRequestsException, ValidationException
from litestar.routes import HTTPRoute

from mca_core.token_bucket import KeyedTokenBuckets
from mca_resources.forecasting.metrics import ServiceMetrics

NO_RATE_LIMIT = {"rate_limit": False}  # a handler's ``opt`` for routes outside the address bucket


@dataclass(frozen=True)
class QueryRules:
    """What one route handler accepts in its query string."""

    names: frozenset[str] | None  # None: the handler takes the whole query mapping
    patterns: dict[str, re.Pattern[str]]
    rate_limited: bool


#: For a handler registered after `RequestPolicy.bind` (none is): no parameter, rate limited.
UNKNOWN_HANDLER = QueryRules(frozenset(), {}, rate_limited=True)


def rules_by_handler(app: Litestar) -> dict[int, QueryRules]:
    """``id(handler)`` -> its rules, for every HTTP route handler of ``app``."""
    rules: dict[int, QueryRules] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, kwargs_model in route.route_handler_map.values():
            params = kwargs_model.expected_query_params
            fields = handler.parsed_fn_signature.parameters
            patterns = {
                p.field_alias: re.compile(pattern)
                for p in params
                if p.field_name in fields
                and (pattern := getattr(fields[p.field_name].kwarg_definition, "pattern", None))
            }
            takes_all = "query" in kwargs_model.expected_reserved_kwargs
            names = None if takes_all else frozenset(p.field_alias for p in params)
            rules[id(handler)] = QueryRules(names, patterns, handler.opt.get("rate_limit", True))
    return rules


class RequestPolicy:
    """The app's ``before_request`` hook; `bind` it to the built app before serving."""

    def __init__(self, per_address: KeyedTokenBuckets, metrics: ServiceMetrics) -> None:
        self.per_address = per_address
        self.metrics = metrics
        self._rules: dict[int, QueryRules] = {}

    def bind(self, app: Litestar) -> None:
        self._rules = rules_by_handler(app)

    async def __call__(self, request: Request) -> None:  # type: ignore[type-arg]
        scope = request.scope
        rules = self._rules.get(id(scope["route_handler"]), UNKNOWN_HANDLER)
        if rules.rate_limited:
            self._throttle(request)
        if scope["query_string"]:
            self._check_query(request, rules)

    def _throttle(self, request: Request) -> None:  # type: ignore[type-arg]
        address = request.client.host if request.client else "unknown"
        wait = self.per_address.take(address)
        if wait > 0:
            self.metrics.read_rate_limited.inc()
            raise TooManyRequestsException(
                detail="rate limit exceeded", headers={"Retry-After": str(max(1, math.ceil(wait)))}
            )

    def _check_query(self, request: Request, rules: QueryRules) -> None:  # type: ignore[type-arg]
        query = request.query_params
        problems: list[dict[str, str]] = []
        if rules.names is not None:
            accepted = f"accepted: {', '.join(sorted(rules.names))}" if rules.names else "this route takes none"
            problems += [
                {"message": f"unknown query parameter ({accepted})", "key": name, "source": "query"}
                for name in sorted(set(query) - rules.names)
            ]
        for name, pattern in rules.patterns.items():
            for value in query.getall(name, []):
                if pattern.fullmatch(value) is None:
                    problems.append({"message": f"must match {pattern.pattern}", "key": name, "source": "query"})
        if problems:
            self.metrics.query_rejected.inc()
            raise ValidationException(
                detail=f"Validation failed for {request.method} {request.url.path}", extra=problems
            )
