"""POST /tsfm/forecast against the sandbox's tollama: every failure still gets a 200 with a valid band and a reason."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mca_sandbox.faults import FaultRule
from tests.integration.serving.servinglib import auth, body, metric, serve


def assert_valid_band(payload: dict[str, Any], quantiles=(0.1, 0.5, 0.9), horizon: int = 6) -> np.ndarray:
    band = np.array([payload["yhat_q"][format(q, "g")] for q in quantiles])
    assert band.shape == (len(quantiles), horizon)
    assert np.all((band >= 0.0) & (band <= 1.0))
    assert np.all(np.diff(band, axis=0) >= 0.0)
    return band


async def forecast(client, token: str, **kw: Any) -> dict[str, Any]:
    response = await client.post("/tsfm/forecast", json=body(**kw), headers=auth(token))
    assert response.status_code == 200, response.text
    payload = response.json()
    assert_valid_band(payload, kw.get("quantiles", (0.1, 0.5, 0.9)), kw.get("horizon_steps", 6))
    return payload


async def test_model_answer_then_cache_hit(app_factory, token) -> None:
    async with serve(app_factory()) as client:
        first = (await forecast(client, token, model={"name": "sandbox-quantile"}))["meta"]
        second = (await forecast(client, token, model={"name": "sandbox-quantile"}, market_id="other"))["meta"]
        metrics = (await client.get("/metrics")).text
    assert (first["runtime"], first["cache"], first["fallback_used"]) == ("tollama", "miss", False)
    assert (second["runtime"], second["cache"]) == ("tollama", "fresh")
    assert metric(metrics, "tsfm_cache_lookups_total", result="fresh") == 1
    assert metric(metrics, "tsfm_forecast_requests_total", outcome="cache_hit", mode="normal") == 1
    assert metric(metrics, "tsfm_upstream_request_duration_seconds_count", status_class="2xx") == 1


@pytest.mark.parametrize(
    ("model", "reason", "crossing"),
    [
        ("sandbox-crossing", None, True),
        ("sandbox-missing", "tollama_error:invalid_response", False),
        ("sandbox-nan", "tollama_error:invalid_response", False),
    ],
)
async def test_misbehaving_models_still_give_a_valid_band(app_factory, token, model, reason, crossing) -> None:
    async with serve(app_factory()) as client:
        meta = (await forecast(client, token, model={"name": model}))["meta"]
        metrics = (await client.get("/metrics")).text
    assert meta["fallback_reason"] == reason
    assert meta["fallback_used"] is (reason is not None)
    assert meta["runtime"] == ("baseline" if reason else "tollama")
    assert (meta["crossing_fixed"] > 0) is crossing
    assert (metric(metrics, "tsfm_quantile_crossing_fixes_total") > 0) is crossing
    if reason:
        assert metric(metrics, "tsfm_upstream_errors_total", reason="invalid_response") == 1  # not retried
        assert metric(metrics, "tsfm_fallbacks_total", reason=reason) == 1


async def test_tollama_down_falls_back_with_the_connect_reason(app_factory, token) -> None:
    async with serve(app_factory(tollama_url="http://127.0.0.1:9/tollama")) as client:
        meta = (await forecast(client, token))["meta"]
        metrics = (await client.get("/metrics")).text
        ready = (await client.get("/ready")).json()
    assert (meta["runtime"], meta["fallback_reason"]) == ("baseline", "tollama_error:connect")
    assert metric(metrics, "tsfm_upstream_errors_total", reason="connect") == 2  # the first try and its one retry
    assert ready["tollama"] == "unreachable"
    assert ready["status"] == "ready"


async def test_slow_model_past_the_timeout_falls_back(app_factory, token) -> None:
    async with serve(app_factory(tsfm_timeout_s=0.2)) as client:
        meta = (await forecast(client, token, model={"name": "sandbox-slow", "params": {"delay_s": 1.0}}))["meta"]
        metrics = (await client.get("/metrics")).text
    assert meta["fallback_reason"] == "tollama_error:timeout"
    assert metric(metrics, "tsfm_upstream_errors_total", reason="timeout") == 2


async def test_series_preparation_reasons(app_factory, token) -> None:
    y = body()["y"]
    async with serve(app_factory()) as client:
        short = (await forecast(client, token, y=y[:10]))["meta"]
        gappy = (await forecast(client, token, y=y[:20] + [None] * 13 + y[20:]))["meta"]
        illiquid = (await forecast(client, token, liquidity_bucket="LOW"))["meta"]
        metrics = (await client.get("/metrics")).text
    assert short["fallback_reason"] == "too_few_points"
    assert short["input_len"] == 10
    assert gappy["fallback_reason"] == "max_gap_exceeded"
    assert illiquid["fallback_reason"] == "baseline_only_liquidity_bucket"
    assert metric(metrics, "tsfm_upstream_request_duration_seconds_count", status_class="2xx") == 0


async def test_stale_if_error_serves_the_cached_answer_marked_stale(app_factory, token, tollama_box) -> None:
    async with serve(app_factory(tsfm_cache_fresh_s=0.0)) as client:
        fresh = await forecast(client, token)
        tollama_box.faults.set_rules([FaultRule(route="tollama.forecast", status={503: 1.0})])
        stale = await forecast(client, token)
    assert stale["meta"]["cache"] == "stale"
    assert stale["meta"]["fallback_reason"] == "stale_if_error"
    assert stale["yhat_q"] == fresh["yhat_q"]
    assert any("tollama_error:http_5xx" in w for w in stale["meta"]["warnings"])


async def test_breaker_opens_half_opens_and_closes_when_tollama_recovers(
    app_factory, token, bob_token, tollama_box
) -> None:
    """Failing for two clients in a burst: the shared breaker opens (refusing calls), one probe after the reset
    timeout closes it."""
    app = app_factory(tsfm_breaker_failures=3, tsfm_breaker_reset_s=0.3, tsfm_degradation_window_s=0.6)
    tollama_box.faults.set_rules([FaultRule(route="tollama.forecast", status={500: 1.0})])
    async with serve(app) as client:
        metas = [(await forecast(client, (token, bob_token)[i % 2], y=body()["y"][i:]))["meta"] for i in range(5)]
        reasons = [m["fallback_reason"] for m in metas]
        during = (await client.get("/metrics")).text
        ready = (await client.get("/ready")).json()
        assert (ready["circuit"], ready["circuits"]["sandbox-quantile"], ready["circuits"]["mock"]) == (
            "open", "open", "closed"
        )  # fmt: skip
        tollama_box.faults.set_rules([])
        meta: dict[str, Any] = {}
        for i in range(200):  # wait for the reset timeout and the quiet window, never asserting on time
            meta = (await forecast(client, token, y=body()["y"][i:]))["meta"]
            if meta["runtime"] == "tollama" and meta["degradation_mode"] == "normal":
                break
            await asyncio.sleep(0.05)
        after = (await client.get("/metrics")).text
    assert reasons[:3] == ["tollama_error:http_5xx"] * 3
    assert set(reasons[3:]) <= {"circuit_breaker_open", "degradation_baseline_only"}
    assert metas[3]["circuit_breaker_state"] == "open"
    model = {"model": "sandbox-quantile"}
    assert metric(during, "tsfm_circuit_state", **model) == 2
    assert metric(during, "tsfm_circuit_transitions_total", to="open", **model) == 1
    assert meta["runtime"] == "tollama"
    assert meta["fallback_used"] is False
    assert meta["degradation_mode"] == "normal"
    assert meta["circuit_breaker_state"] == "closed"
    assert metric(after, "tsfm_circuit_state", **model) == 0
    assert metric(after, "tsfm_circuit_transitions_total", to="half_open", **model) >= 1
    assert metric(after, "tsfm_circuit_transitions_total", to="closed", **model) >= 1


async def test_validation_errors_name_the_field(app_factory, token) -> None:
    cases = {
        "quantiles": body(quantiles=[0.5, 0.1]),
        "y[0]": body(y=[1.5, 0.2]),
        "horizon_steps": body(horizon_steps=0),
        "model.name": body(model={"name": "moirai-2.0-R-small"}),
        "x_past.volume": body(x_past={"volume": [1.0, 2.0]}),
        "y": body(y=[None, None]),
        "data": body(surprise=1),
    }
    async with serve(app_factory()) as client:
        for key, payload in cases.items():
            response = await client.post("/tsfm/forecast", json=payload, headers=auth(token))
            assert response.status_code == 400, (key, response.text)
            extra = response.json()["extra"]
            assert extra[0]["key"] == key, (key, extra)
        json_headers = auth(token) | {"Content-Type": "application/json"}
        malformed = await client.post("/tsfm/forecast", content=b'{"y": [NaN]}', headers=json_headers)
        huge = await client.post("/tsfm/forecast", content=b"[" + b"0.5," * 100_000 + b"0.5]", headers=json_headers)
    assert malformed.status_code == 400
    assert huge.status_code == 413


async def test_degradation_mode_goes_baseline_only_and_recovers_step_by_step(
    app_factory, token, bob_token, tollama_box
) -> None:
    """A failure burst for two clients (breakers kept closed) drives the mode to baseline-only; it recovers
    through degraded. With two clients failing, leaving out the worst still leaves the other's failures."""
    app = app_factory(tsfm_breaker_failures=1000, tsfm_degradation_window_s=2.0)
    tollama_box.faults.set_rules([FaultRule(route="tollama.forecast", status={502: 1.0})])
    async with serve(app) as client:
        failed = [(await forecast(client, (token, bob_token)[i % 2], y=body()["y"][i:]))["meta"] for i in range(10)]
        skipped = (await forecast(client, token, y=body()["y"][10:]))["meta"]
        during = (await client.get("/metrics")).text
        tollama_box.faults.set_rules([])
        modes = []
        for i in range(200):  # bounded wait for the window to pass; nothing asserted on time
            meta = (await forecast(client, token, y=body()["y"][i % 30 :]))["meta"]
            if not modes or modes[-1] != meta["degradation_mode"]:
                modes.append(meta["degradation_mode"])
            if meta["degradation_mode"] == "normal":
                break
            await asyncio.sleep(0.05)
        after = (await client.get("/metrics")).text
    assert [m["fallback_reason"] for m in failed] == ["tollama_error:http_5xx"] * 10
    assert skipped["fallback_reason"] == "degradation_baseline_only"
    assert skipped["degradation_mode"] == skipped["degradation_state"] == "baseline_only"
    assert metric(during, "tsfm_degradation_mode", model="sandbox-quantile") == 2
    assert modes == ["baseline_only", "degraded", "normal"]
    assert meta["runtime"] == "tollama"
    assert metric(after, "tsfm_degradation_mode", model="sandbox-quantile") == 0
    assert metric(after, "tsfm_forecast_requests_total", outcome="ok", mode="degraded") >= 1


async def test_tollama_4xx_is_not_retried(app_factory, token, tollama_box) -> None:
    tollama_box.faults.set_rules([FaultRule(route="tollama.forecast", status={429: 1.0})])
    async with serve(app_factory()) as client:
        meta = (await forecast(client, token))["meta"]
        second = (await forecast(client, token, model={"name": "mock"}, horizon_steps=3))["meta"]
        metrics = (await client.get("/metrics")).text
    assert meta["fallback_reason"] == "tollama_error:http_4xx"
    assert second["fallback_reason"] == "tollama_error:http_4xx"
    assert metric(metrics, "tsfm_upstream_errors_total", reason="http_4xx") == 2  # one attempt each


CACHE_VARIANTS: dict[str, dict[str, Any]] = {
    "y": {"y": body()["y"][1:]},
    "freq": {"freq": "1h"},
    "horizon_steps": {"horizon_steps": 7},
    "quantiles": {"quantiles": [0.2, 0.5, 0.8]},
    "x_past": {"x_past": {"volume": [1.0] * 64}},
    "x_future": {"x_past": {"volume": [1.0] * 64}, "x_future": {"volume": [1.0] * 6}},  # tollama: known in the past too
    "transform.space": {"transform": {"space": "logit"}},
    "transform.eps": {"transform": {"space": "none", "eps": 1e-4}},
    "model.name": {"model": {"name": "mock"}},
    "model.version": {"model": {"version": "v2"}},
    "model.params": {"model": {"params": {"temperature": 0.7}}},
}


async def test_cache_key_is_the_whole_request_but_its_labels(app_factory, token) -> None:
    """Each field that can change the model's answer gives its own entry; market_id, as_of_ts, liquidity_bucket
    and the order of dict keys do not (docs/serving.md)."""
    async with serve(app_factory()) as client:
        first = (await forecast(client, token))["meta"]
        misses = {name: (await forecast(client, token, **fields))["meta"] for name, fields in CACHE_VARIANTS.items()}
        relabelled = (await forecast(client, token, market_id="m2", as_of_ts="2026-10-01T00:00:00Z",
                                     liquidity_bucket="HIGH"))["meta"]  # fmt: skip
        params = {"model": {"params": {"a": 1.0, "b": True}}}
        await forecast(client, token, **params)
        reordered = (await forecast(client, token, model={"params": {"b": True, "a": 1.0}}))["meta"]
        named_default = (await forecast(client, token, model={"name": "sandbox-quantile"}))["meta"]
    assert first["cache"] == "miss"
    assert {name: meta["cache"] for name, meta in misses.items()} == dict.fromkeys(CACHE_VARIANTS, "miss")
    assert misses["model.version"]["model_version"] == "v2"
    assert relabelled["cache"] == "fresh"
    assert reordered["cache"] == "fresh"
    assert named_default["cache"] == "fresh"  # no name means the default model: the same request
