"""Bearer-token auth and rate limits for the forecaster, as async guards (sync guards run in a thread pool).

Tokens come from ``MCA_API_TOKENS_FILE``: one ``identity:token`` per line (``#`` comments and blank lines
ignored), or ``identity:sha256:<64 hex>`` for a token stored as its digest. Only sha256 digests are kept in
memory; a presented token is hashed and compared in constant time, as bytes, against every digest (a non-ASCII
token can therefore never raise). Placeholder or short tokens, and a file that group or others may read or write
(as ssh refuses such a private key), refuse to start the service. Missing and invalid
tokens get the same 401 with ``WWW-Authenticate: Bearer``. Requests without a valid token are rate limited per
client address before they can guess; valid ones per identity. No token, header or digest is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import HttpMethod
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler

from mca_core.token_bucket import KeyedTokenBuckets
from mca_resources.forecasting.metrics import ServiceMetrics

MIN_TOKEN_LENGTH = 32
MAX_HEADER_LENGTH = 1024
_PLACEHOLDERS = ("changeme", "change_me", "secret", "password", "example", "placeholder", "token", "test", "xxx")
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mca"'}
IDENTITY_KEY = "mca_identity"  # in the connection's scope["state"], for the handler


class TokenFileError(ValueError):
    """The token file would let a guessable token in (or cannot be read); the service must not start."""


def _refuse_reason(identity: str, token: str) -> str | None:
    lowered = token.lower()
    if len(token) < MIN_TOKEN_LENGTH:
        return f"shorter than {MIN_TOKEN_LENGTH} characters"
    if token == identity or any(word in lowered for word in _PLACEHOLDERS):
        return "a placeholder"
    if len(set(token)) < 12:
        return "too repetitive (fewer than 12 distinct characters)"
    return None


def load_token_digests(path: Path | None) -> dict[bytes, str]:
    """sha256 digest -> identity, from the token file; `TokenFileError` names the line, never the token."""
    if path is None:
        return {}
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise TokenFileError(f"cannot read the token file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise TokenFileError(
            f"the token file {path} is accessible by group or others (mode {mode:04o}); run chmod 600 {path}"
        )
    digests: dict[bytes, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        identity, sep, token = text.partition(":")
        identity, token = identity.strip(), token.strip()
        if not sep or not identity or not token:
            raise TokenFileError(f"{path}:{number}: expected 'identity:token'")
        stored = _DIGEST.match(token)
        if stored:
            digest = bytes.fromhex(stored.group(1))
        else:
            reason = _refuse_reason(identity, token)
            if reason:
                raise TokenFileError(f"{path}:{number}: the token of {identity!r} is {reason}; refusing to start")
            digest = hashlib.sha256(token.encode()).digest()
        if digest in digests:
            raise TokenFileError(f"{path}:{number}: the token of {identity!r} is already used by another identity")
        digests[digest] = identity
    return digests


@dataclass
class AuthGuard:
    """The forecaster's guard: identity from the bearer token, then a token bucket per identity or address."""

    digests: dict[bytes, str]
    per_identity: KeyedTokenBuckets
    per_address: KeyedTokenBuckets
    metrics: ServiceMetrics

    def identify(self, header: str) -> str | None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(header) > MAX_HEADER_LENGTH:
            return None
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found = None
        for digest, identity in self.digests.items():  # no early exit: time does not depend on which matched
            if hmac.compare_digest(presented, digest):
                found = identity
        return found

    def _throttle(self, buckets: KeyedTokenBuckets, key: str) -> None:
        wait = buckets.take(key)
        if wait > 0:
            self.metrics.rate_limited.inc()
            raise TooManyRequestsException(
                detail="rate limit exceeded", headers={"Retry-After": str(max(1, math.ceil(wait)))}
            )

    async def __call__(self, connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        identity = self.identify(header) if header else None
        if identity is None:
            address = connection.client.host if connection.client else "unknown"
            self._throttle(self.per_address, address)
            self.metrics.auth_failures.labels(reason="missing" if not header else "invalid").inc()
            raise NotAuthorizedException(detail="a valid bearer token is required", headers=_CHALLENGE)
        self._throttle(self.per_identity, identity)
        connection.scope.setdefault("state", {})[IDENTITY_KEY] = identity


class GuardedPost(HTTPRouteHandler):
    """A POST route handler (``@GuardedPost("/path", ...)``) whose guards receive the handler itself, not a copy.

    Litestar hands each guard a shallow copy of the handler so that a guard cannot alter it; copying the handler's
    ~60 slots cost 30 µs of a ~355 µs baseline forecast (bench/README.md). The guards here never touch the handler.
    """

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path, http_method=HttpMethod.POST, **kwargs)

    async def authorize_connection(self, connection: ASGIConnection) -> None:  # type: ignore[type-arg]
        for guard in self.resolve_guards():
            await guard(connection, self)
