"""Auth and limits: same 401 for missing and invalid tokens, auth probes never 5xx, 429 with Retry-After, and a
start-up that refuses weak tokens or research-only models."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

import pytest
from litestar import Litestar
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body
from litestar.testing import TestClient

from mca_core.model_registry import LicenseError
from mca_serving.auth import GuardedPost, TokenFileError
from tests.integration.serving.servinglib import body, captured_logs, log_text, metric, serve

PROBES: dict[str, bytes | None] = {
    "no header": None,
    "wrong scheme": b"Basic YWxpY2U6c2VjcmV0",
    "empty bearer": b"Bearer ",
    "non-ascii token": "Bearer tokœ-ünïcode-ß".encode(),
    "latin-1 bytes": b"Bearer \xff\xfe\xfd" * 3,
    "huge header": b"Bearer " + b"a" * 60_000,
    "placeholder token": b"Bearer changeme",
}


async def test_auth_probes_get_the_same_401_and_never_a_5xx(app_factory) -> None:
    async with serve(app_factory()) as client:
        with captured_logs() as logs:
            answers = {}
            for name, header in PROBES.items():
                headers = {"Authorization": header} if header is not None else {}
                response = await client.post("/tsfm/forecast", json=body(), headers=headers)
                answers[name] = (response.status_code, response.json(), response.headers.get("www-authenticate"))
            metrics = (await client.get("/metrics")).text
    assert {name: a[0] for name, a in answers.items()} == dict.fromkeys(PROBES, 401)
    assert len({str(a[1:]) for a in answers.values()}) == 1  # one body and challenge for every kind of failure
    assert answers["no header"][2].startswith("Bearer")
    assert metric(metrics, "tsfm_auth_failures_total", reason="missing") == 1
    assert metric(metrics, "tsfm_auth_failures_total", reason="invalid") == len(PROBES) - 1
    assert logs  # the requests were logged (httpx), so the next two lines look at something
    assert "changeme" not in log_text(logs)
    assert "YWxpY2U" not in log_text(logs)


async def test_valid_token_is_never_logged(app_factory, token) -> None:
    async with serve(app_factory(tollama_url="http://127.0.0.1:9/tollama")) as client:
        with captured_logs() as logs:
            response = await client.post("/tsfm/forecast", json=body(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "tollama forecast failed" in log_text(logs)  # the failed upstream call was logged, without the token
    assert token not in log_text(logs)
    assert hashlib.sha256(token.encode()).hexdigest() not in log_text(logs)


async def test_rate_limit_per_identity_answers_429_with_retry_after(app_factory, token) -> None:
    app = app_factory(tsfm_rate_per_min=1.0, tsfm_rate_burst=3)
    headers = {"Authorization": f"Bearer {token}"}
    async with serve(app) as client:
        statuses = [(await client.post("/tsfm/forecast", json=body(), headers=headers)) for _ in range(5)]
        metrics = (await client.get("/metrics")).text
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    assert int(statuses[3].headers["retry-after"]) >= 1
    assert metric(metrics, "tsfm_rate_limited_total") == 2
    assert (
        sum(metric(metrics, "tsfm_forecast_requests_total", outcome=o, mode="normal") for o in ("ok", "cache_hit")) == 3
    )


async def test_unauthenticated_traffic_is_limited_per_address(app_factory, token) -> None:
    app = app_factory(tsfm_anon_rate_per_min=1.0, tsfm_rate_burst=4)  # address burst = 2
    async with serve(app) as client:
        bad = [(await client.post("/tsfm/forecast", json=body(), headers={"Authorization": "Bearer nope"})).status_code
               for _ in range(4)]  # fmt: skip
        good = await client.post("/tsfm/forecast", json=body(), headers={"Authorization": f"Bearer {token}"})
    assert bad == [401, 401, 429, 429]
    assert good.status_code == 200  # a valid identity is not held back by the address's guesses


def test_token_stored_as_digest_is_accepted(app_factory, settings, tmp_path) -> None:
    raw = secrets.token_urlsafe(32)
    settings.api_tokens_file.write_text(f"bob:sha256:{hashlib.sha256(raw.encode()).hexdigest()}\n")
    with TestClient(app_factory()) as client:
        ok = client.post("/tsfm/forecast", json=body(), headers={"Authorization": f"Bearer {raw}"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("alice:changeme", "shorter than 32"),
        ("alice:changeme-changeme-changeme-changeme", "placeholder"),
        ("alice:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "repetitive"),
        ("alice", "expected 'identity:token'"),
    ],
)
def test_weak_tokens_refuse_start_up_without_echoing_them(app_factory, settings, line, message) -> None:
    settings.api_tokens_file.write_text(line + "\n")
    with pytest.raises(TokenFileError, match=message) as info:
        app_factory()
    assert "changeme-changeme" not in str(info.value)
    assert ":1:" in str(info.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620])
def test_a_token_file_group_or_others_can_access_refuses_start_up(app_factory, settings, mode) -> None:
    settings.api_tokens_file.chmod(mode)
    with pytest.raises(TokenFileError, match=f"mode {mode:04o}.*chmod 600"):
        app_factory()
    settings.api_tokens_file.chmod(0o400)
    assert app_factory() is not None  # owner-only, even read-only, is fine


def test_research_only_model_fails_start_up_in_production(app_factory) -> None:
    with pytest.raises(LicenseError, match="research_only"):
        app_factory(environment="production", tsfm_models="chronos2,moirai-2.0-R-small")
    assert app_factory(environment="research", tsfm_models="moirai-2.0-R-small") is not None


def test_guarded_post_runs_every_guard_with_the_handler_itself() -> None:
    seen: list[tuple[str, object]] = []

    async def first(connection, handler) -> None:  # type: ignore[no-untyped-def]
        seen.append(("first", handler))

    async def second(connection, handler) -> None:  # type: ignore[no-untyped-def]
        seen.append(("second", handler))
        if connection.headers.get("x-deny"):
            raise NotAuthorizedException(detail="denied")

    @GuardedPost("/echo", guards=[first, second], status_code=200)
    async def echo(data: Annotated[dict[str, int], Body()]) -> dict[str, int]:
        return data

    app = Litestar([echo], openapi_config=None)
    with TestClient(app) as client:
        assert client.post("/echo", json={"a": 1}).json() == {"a": 1}
        handler = seen[0][1]
        assert [name for name, _ in seen] == ["first", "second"]
        assert seen[1][1] is handler
        assert any(h is handler for h in app.route_handler_method_map["/echo"].values())  # the registered one
        denied = client.post("/echo", content=b"not json", headers={"x-deny": "1"})
    assert denied.status_code == 401  # the guard answered before the (invalid) body was read
    assert [name for name, _ in seen] == ["first", "second", "first", "second"]
