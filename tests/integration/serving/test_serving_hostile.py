"""What a hostile or careless client sends to ``POST /tsfm/forecast``: every body is a 4xx that names the problem,
every 5xx anywhere is logged with a request id.

The corpus is kept here so that each probe stays a regression test: deep nesting, invalid UTF-8, huge numbers,
duplicate keys, loose types, non-JSON media types.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import msgspec
import pytest

from tests.integration.serving.servinglib import auth, body, captured_logs, serve

JSON = {"Content-Type": "application/json"}
Y = msgspec.json.encode(body()["y"])


def raw(**fields: bytes) -> bytes:
    """A body with some fields spelled as raw JSON text (``y`` and ``market_id`` filled in unless given)."""
    parts = {"market_id": b'"m1"', "y": Y} | fields
    return b"{" + b",".join(b'"' + k.encode() + b'":' + v for k, v in parts.items()) + b"}"


HOSTILE: dict[str, bytes] = {
    "nested 5000 deep at the top": b"[" * 5000 + b"]" * 5000,
    "nested 5000 deep in y": raw(y=b"[" * 5000 + b"]" * 5000),
    "nested 100000 deep in an unknown field": raw(extra=b"[" * 100_000 + b"]" * 100_000),
    "nested objects in params": raw(model=b'{"params":' + b'{"a":' * 3000 + b"1" + b"}" * 3001),
    "invalid UTF-8 in market_id": raw(market_id=b'"\xff\xfe"'),
    "invalid UTF-8 in a key": b'{"market_id":"m","\xc3(":1}',
    "lone surrogate escape": raw(market_id=b'"\\ud800"'),
    "overlong UTF-8": raw(market_id=b'"\xc0\xaf"'),
    "huge number": raw(horizon_steps=b"1" + b"0" * 400),
    "huge float": raw(y=b"[1e999]"),
    "huge exponent in params": raw(model=b'{"params":{"x":1e400}}'),
    "NaN literal": raw(y=b"[NaN]"),
    "Infinity literal": raw(y=b"[Infinity]"),
    "truncated": raw()[:-5],
    "trailing garbage": raw() + b"garbage",
    "two documents": raw() + raw(),
    "BOM": b"\xef\xbb\xbf" + raw(),
    "not an object": b'"just a string"',
    "null": b"null",
    "empty object": b"{}",
    "market_id too long": raw(market_id=b'"' + b"m" * 200 + b'"'),
    "duplicate keys, the last one invalid": raw()[:-1] + b',"horizon_steps":12,"horizon_steps":0}',
    "NUL inside a string": raw(market_id=b'"m\\u0000"'),
    "freq with a trailing newline": raw(freq=b'"5m\\n"'),
    "covariate name with a trailing newline": raw(x_past=b'{"v\\n":' + Y + b"}"),
}

LOOSE_TYPES: dict[str, tuple[dict[str, Any], str]] = {
    "y as strings": ({"y": ["0.5"] * 40}, "y[0]"),
    "horizon as a string": ({"horizon_steps": "12"}, "horizon_steps"),
    "horizon as a float": ({"horizon_steps": 12.0}, "horizon_steps"),
    "a bool for a number": ({"y": [True] * 40}, "y[0]"),
    "timestamp as a number": ({"as_of_ts": 1_700_000_000}, "as_of_ts"),
    "timestamp as a number in a string": ({"as_of_ts": "-4"}, "as_of_ts"),
    "timestamp without a time zone": ({"as_of_ts": "2026-10-01T12:00:00"}, "as_of_ts"),
    "nan in params": ({"model": {"params": {"temperature": "nan"}}}, "model.params[...]"),
    "inf in params": ({"model": {"params": {"temperature": "inf"}}}, "model.params[...]"),
    "quantile as a string": ({"quantiles": ["0.5"]}, "quantiles[0]"),
}


async def test_hostile_bodies_are_all_4xx(app_factory, token) -> None:
    async with serve(app_factory()) as client:
        answers = {}
        for name, content in HOSTILE.items():
            response = await client.post("/tsfm/forecast", content=content, headers=auth(token) | JSON)
            answers[name] = (response.status_code, response.json())
    assert {name: status for name, (status, _) in answers.items() if not 400 <= status < 500} == {}
    assert all(payload["detail"] for _, payload in answers.values())  # a reason, never an empty error


async def test_loose_types_are_refused_naming_the_field(app_factory, token) -> None:
    async with serve(app_factory()) as client:
        for name, (fields, key) in LOOSE_TYPES.items():
            response = await client.post("/tsfm/forecast", json=body(**fields), headers=auth(token))
            assert response.status_code == 400, (name, response.text)
            assert response.json()["extra"][0]["key"] == key, (name, response.text)
        aware = await client.post(
            "/tsfm/forecast", json=body(as_of_ts="2026-10-01T12:00:00+02:00"), headers=auth(token)
        )
    assert aware.status_code == 200
    assert aware.json()["as_of_ts"] == "2026-10-01T12:00:00+02:00"


@pytest.mark.parametrize(
    ("quantiles", "accepted"),
    [
        ([0.1, 0.10000001, 0.9], False),  # two levels that both format as "0.1"
        ([0.9999999, 0.99999999], False),  # both "1"
        ([0.12345, 0.5], False),  # finer than the documented resolution
        ([0.0001, 0.1234, 0.5, 0.9999], True),
    ],
)
async def test_quantile_keys_are_exact_and_distinct(app_factory, token, quantiles, accepted) -> None:
    async with serve(app_factory()) as client:
        response = await client.post("/tsfm/forecast", json=body(quantiles=quantiles), headers=auth(token))
    if accepted:
        assert response.status_code == 200, response.text
        keys = list(response.json()["yhat_q"])
        assert [float(k) for k in keys] == quantiles
    else:
        assert response.status_code == 400
        assert response.json()["extra"][0]["key"] == "quantiles"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/json; charset=utf-16", "application/json; charset=latin-1", "application/jsonx",
     "application/vnd.api+json"],
)  # fmt: skip
async def test_anything_but_json_is_415(app_factory, token, content_type) -> None:
    headers = auth(token) | ({"Content-Type": content_type} if content_type else {})
    async with serve(app_factory()) as client:
        response = await client.post("/tsfm/forecast", content=msgspec.json.encode(body()), headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=UTF-8", 'application/json;charset="utf-8"']
)
async def test_json_media_types_are_accepted(app_factory, token, content_type) -> None:
    headers = auth(token) | {"Content-Type": content_type}
    async with serve(app_factory()) as client:
        response = await client.post("/tsfm/forecast", content=msgspec.json.encode(body()), headers=headers)
    assert response.status_code == 200, response.text


def publish_broken_snapshot(serving_dir) -> None:  # type: ignore[no-untyped-def]
    """A snapshot whose core.markets lacks every column but dt (the /markets query fails), named by ``current``."""
    serving_dir.mkdir(parents=True)
    name = "snapshot-20260101T000000000000Z-broken00.duckdb"
    with duckdb.connect(str(serving_dir / name)) as conn:
        conn.execute("CREATE SCHEMA core; CREATE TABLE core.markets (dt DATE); CREATE SCHEMA meta")
        conn.execute("CREATE TABLE meta.snapshot AS SELECT now() AS published_ts, 'broken' AS source")
        conn.execute("CREATE TABLE meta.tables AS SELECT 'core.markets' AS name, 0::BIGINT AS n_rows")
    (serving_dir / "current").write_text(name)


async def test_every_5xx_is_logged_with_the_request_id_it_returns(app_factory, settings) -> None:
    """A 503 (no snapshot yet) and a 500 (a published table of the wrong shape) both carry X-Request-ID, which the
    log has."""
    async with serve(app_factory()) as client:
        with captured_logs() as logs:
            unavailable = await client.get("/scoreboard")
            publish_broken_snapshot(settings.serving_dir)
            broken = await client.get("/markets")
            given = await client.get("/markets", headers={"X-Request-ID": "client-trace-42"})
            metrics = (await client.get("/metrics")).text
    assert unavailable.status_code == 503
    assert unavailable.headers["retry-after"] == "60"
    assert broken.status_code == 500
    assert broken.json() == {"status_code": 500, "detail": "Internal Server Error"}  # nothing leaks
    assert given.headers["x-request-id"] == "client-trace-42"
    records = {r.getMessage(): r for r in logs if r.name == "mca.serving"}
    for response in (unavailable, broken, given):
        rid = response.headers["x-request-id"]
        assert any(rid in message for message in records), rid
    failed = next(r for m, r in records.items() if broken.headers["x-request-id"] in m)
    assert failed.levelno == logging.ERROR
    assert failed.exc_info is not None  # the traceback is in the log, not in the answer
    assert 'mca_server_errors_total{status="500"} 2.0' in metrics


async def test_seed_request_shape_is_served(app_factory, token) -> None:
    """The seed's PRD2 request (reference/calibration.md §1.4): model_name / model_version, x_past covariates."""
    y = body()["y"]
    seed = {
        "market_id": "0xabc", "as_of_ts": "2026-10-01T12:00:00Z", "freq": "5m", "horizon_steps": 12,
        "quantiles": [0.1, 0.5, 0.9], "y": y, "x_past": {"volume": [1.0] * len(y), "spread": [0.01] * len(y)},
        "x_future": {}, "transform": {"space": "logit", "eps": 1e-6},
        "model": {"provider": "tollama", "model_name": "sandbox-quantile", "model_version": "2026-10", "params": {}},
    }  # fmt: skip
    async with serve(app_factory()) as client:
        first = await client.post("/tsfm/forecast", json=seed, headers=auth(token))
        again = await client.post("/tsfm/forecast", json=seed, headers=auth(token))
        ours = seed | {"model": {"name": "sandbox-quantile", "version": "2026-10"}}
        same_as_ours = await client.post("/tsfm/forecast", json=ours, headers=auth(token))
        both = seed | {"model": {"name": "mock", "model_name": "sandbox-quantile"}}
        conflicting = await client.post("/tsfm/forecast", json=both, headers=auth(token))
        agreeing = await client.post("/tsfm/forecast", json=both | {"model": {"name": "mock", "model_name": "mock"}},
                                     headers=auth(token))  # fmt: skip
    assert first.status_code == 200, first.text
    meta = first.json()["meta"]
    assert (meta["runtime"], meta["model_name"], meta["model_version"]) == ("tollama", "sandbox-quantile", "2026-10")
    assert (meta["cache_hit"], meta["cache_stale"], meta["cache"]) == (False, False, "miss")
    assert (meta["circuit_breaker_state"], meta["degradation_state"]) == ("closed", "normal")
    assert set(first.json()["yhat_q"]) == {"0.1", "0.5", "0.9"}
    assert (again.json()["meta"]["cache_hit"], again.json()["meta"]["cache"]) == (True, "fresh")
    assert same_as_ours.json()["meta"]["cache"] == "fresh"  # both spellings are one request
    assert conflicting.status_code == 400
    assert conflicting.json()["extra"][0]["key"] == "model"
    assert agreeing.status_code == 200
