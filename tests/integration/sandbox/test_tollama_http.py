"""The tollama-compatible runtime over loopback: the /v1/forecast contract, its models, errors and faults."""

from __future__ import annotations

import json

import httpx
import pytest

from mca_sandbox.faults import FaultRule

HTTP = httpx.Client(timeout=30)
TARGET = [0.40, 0.42, 0.41, 0.45, 0.44, 0.47, 0.46]


@pytest.fixture(scope="module", autouse=True)
def _close_client():
    yield
    HTTP.close()


def request(model: str = "sandbox-quantile", **overrides) -> dict:
    body = {
        "model": model,
        "horizon": 4,
        "quantiles": [0.1, 0.5, 0.9],
        "series": [{"id": "m1", "freq": "1h", "target": TARGET}],
    }
    body.update(overrides)
    return body


def forecast(box, body, **kwargs) -> httpx.Response:
    return HTTP.post(f"{box.base}/tollama/v1/forecast", json=body, **kwargs)


def test_health_is_ok(sandbox):
    response = HTTP.get(f"{sandbox.base}/tollama/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_models_lists_the_installed_models(sandbox):
    body = HTTP.get(f"{sandbox.base}/tollama/v1/models").json()
    installed = {m["name"] for m in body["installed"]}
    assert {
        "mock",
        "sandbox-quantile",
        "sandbox-crossing",
        "sandbox-missing",
        "sandbox-nan",
        "sandbox-slow",
    } <= installed
    not_installed = {m["name"] for m in body["available"] if not m["installed"]}
    assert "chronos2" in not_installed


def test_mock_returns_the_last_value_for_mean_and_every_quantile(sandbox):
    response = forecast(sandbox, request("mock", quantiles=[0.05, 0.5, 0.95]))
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "mock"
    assert body["warnings"] is None
    assert set(body["timing"]) == {"model_load_ms", "inference_ms", "total_ms"}
    assert body["forecasts"] == [
        {"id": "m1", "mean": [0.46] * 4, "quantiles": {"0.05": [0.46] * 4, "0.5": [0.46] * 4, "0.95": [0.46] * 4}}
    ]


def test_sandbox_quantile_is_monotone_in_q_widening_in_h_and_deterministic(sandbox):
    quantiles = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]
    body = forecast(sandbox, request(quantiles=quantiles, horizon=12)).json()
    (fc,) = body["forecasts"]
    keys = [format(q, "g") for q in quantiles]
    assert list(fc["quantiles"]) == keys
    assert fc["mean"] == [TARGET[-1]] * 12
    assert fc["quantiles"]["0.5"] == [TARGET[-1]] * 12
    paths = [fc["quantiles"][k] for k in keys]
    assert all(len(p) == 12 for p in paths)
    for h in range(12):
        column = [p[h] for p in paths]
        assert column == sorted(column)
        assert all(0.0 <= v <= 1.0 for v in column)  # a probability series stays a probability
    width = [hi - lo for lo, hi in zip(fc["quantiles"]["0.1"], fc["quantiles"]["0.9"], strict=True)]
    assert width == sorted(width)
    assert width[0] > 0
    again = forecast(sandbox, request(quantiles=quantiles, horizon=12)).json()
    assert again["forecasts"] == body["forecasts"]


def test_several_series_are_answered_in_order(sandbox):
    series = [{"id": "a", "target": [1.0, 2.0, 3.0]}, {"id": "b", "target": [10.0]}]
    body = forecast(sandbox, request("mock", series=series, horizon=2)).json()
    assert [(f["id"], f["mean"]) for f in body["forecasts"]] == [("a", [3.0, 3.0]), ("b", [10.0, 10.0])]


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"quantiles": [0.9, 0.1]}, "sorted"),
        ({"quantiles": [0.1, 0.1]}, "unique"),
        ({"quantiles": [0.0, 0.5]}, "between 0 and 1"),
        ({"quantiles": [0.5, 1.0]}, "between 0 and 1"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": "3"}, "horizon"),
        ({"series": [{"id": "m1", "target": []}]}, "target"),
        ({"series": [{"id": "m1", "target": [0.1, None]}]}, "target"),
        ({"series": []}, "series"),
        ({"series": [{"id": "m1", "target": [1.0], "colour": "red"}]}, "extra fields"),
        ({"series": [{"id": "m1", "target": [1.0, 2.0], "timestamps": ["2026-01-01"]}]}, "timestamps"),
        ({"series": [{"id": "x", "target": [1.0]}, {"id": "x", "target": [2.0]}]}, "unique"),
        ({"temperature": 0.2}, "extra fields"),
        ({"parameters": {"covariates_mode": "loose"}}, "covariates_mode"),
    ],
)
def test_invalid_requests_are_400_with_detail_and_hint(sandbox, overrides, detail):
    response = forecast(sandbox, request(**overrides))
    assert response.status_code == 400
    body = response.json()
    assert detail in body["detail"]
    assert isinstance(body["hint"], str)
    assert body["hint"]


def test_missing_required_field_is_400(sandbox):
    body = request()
    del body["horizon"]
    response = forecast(sandbox, body)
    assert response.status_code == 400
    assert response.json()["detail"] == "field required: horizon"


def test_bad_json_is_400(sandbox):
    response = HTTP.post(
        f"{sandbox.base}/tollama/v1/forecast", content=b'{"model": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("request body is not valid JSON")


def test_unknown_model_is_404_with_pull_hint(sandbox):
    response = forecast(sandbox, request("chronos2"))
    assert response.status_code == 404
    body = response.json()
    assert body["detail"] == "model 'chronos2' is not installed"
    assert body["hint"] == "run tollama pull chronos2"


def test_validation_comes_before_model_lookup(sandbox):
    assert forecast(sandbox, request("nope", horizon=0)).status_code == 400


def test_request_id_is_echoed_on_success_and_error(sandbox):
    ok = forecast(sandbox, request(), headers={"X-Request-ID": "req-123"})
    bad = forecast(sandbox, request("nope"), headers={"X-Request-ID": "req-456"})
    assert ok.headers["X-Request-ID"] == "req-123"
    assert bad.headers["X-Request-ID"] == "req-456"
    assert HTTP.get(f"{sandbox.base}/tollama/v1/health").headers["X-Request-ID"]


def test_covariates_are_dropped_with_a_warning_or_refused_in_strict_mode(sandbox):
    series = [{"id": "m1", "target": TARGET, "past_covariates": {"volume": [1.0] * len(TARGET)}}]
    lenient = forecast(sandbox, request(series=series)).json()
    assert lenient["warnings"] == ["model 'sandbox-quantile' does not support covariates; ignored them for series 'm1'"]
    strict = forecast(sandbox, request(series=series, parameters={"covariates_mode": "strict"}))
    assert strict.status_code == 400
    short = [{"id": "m1", "target": TARGET, "past_covariates": {"volume": [1.0]}}]
    assert forecast(sandbox, request(series=short)).status_code == 400


def test_crossing_model_returns_crossing_quantiles(sandbox):
    fc = forecast(sandbox, request("sandbox-crossing")).json()["forecasts"][0]
    assert all(lo > hi for lo, hi in zip(fc["quantiles"]["0.1"], fc["quantiles"]["0.9"], strict=True))


def test_missing_model_omits_the_highest_quantile(sandbox):
    fc = forecast(sandbox, request("sandbox-missing")).json()["forecasts"][0]
    assert list(fc["quantiles"]) == ["0.1", "0.5"]


def test_nan_model_returns_nulls_in_valid_json(sandbox):
    response = forecast(sandbox, request("sandbox-nan"))
    assert "NaN" not in response.text
    fc = response.json()["forecasts"][0]
    assert fc["mean"][-1] is None
    assert fc["quantiles"]["0.1"][0] is None


def test_slow_model_waits_then_answers_or_times_out(sandbox):
    ok = forecast(sandbox, request("sandbox-slow", options={"delay_s": 0.05}))
    assert ok.status_code == 200
    assert len(ok.json()["forecasts"][0]["mean"]) == 4
    late = forecast(sandbox, request("sandbox-slow", options={"delay_s": 30}, timeout=0.05))
    assert late.status_code == 504
    assert "timed out" in late.json()["detail"]


def test_api_forecast_streams_ndjson_unless_stream_false(sandbox):
    streamed = HTTP.post(f"{sandbox.base}/tollama/api/forecast", json=request("mock"))
    assert streamed.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert lines[-1]["done"] is True
    assert lines[-1]["response"]["forecasts"][0]["mean"] == [TARGET[-1]] * 4
    plain = HTTP.post(f"{sandbox.base}/tollama/api/forecast", json=request("mock", stream=False))
    assert plain.json()["forecasts"] == lines[-1]["response"]["forecasts"]


def test_injected_503_fires_on_forecast_only(sandbox_factory):
    box = sandbox_factory(markets=10, rules=[FaultRule(route="tollama.forecast", status={503: 1.0})])
    for _ in range(3):
        assert forecast(box, request()).status_code == 503
    assert HTTP.get(f"{box.base}/tollama/v1/health").status_code == 200
    fired = HTTP.get(f"{box.base}/_faults").json()["fired"]
    assert fired == {"tollama.forecast:503": 3}
