"""The tollama client against the sandbox runtime: forecasts, and every failure as a typed error."""

from __future__ import annotations

import pytest

from mca_resources.errors import ClientError, InvalidResponse, ServerError, UpstreamConnectError, UpstreamTimeout
from mca_resources.http import HttpUpstream, RetryPolicy
from mca_resources.tollama import TollamaClient, TollamaRequest, TollamaSeries
from mca_sandbox.faults import FaultRule


def client(url: str, timeout_s: float = 2.0) -> TollamaClient:
    return TollamaClient(
        HttpUpstream(url, name="tollama", retry=RetryPolicy(attempts=1), limits={}, timeout_s=timeout_s)
    )


def request(model: str = "mock", **kw: object) -> TollamaRequest:
    series = [TollamaSeries(id="m1", target=[0.4, 0.42, 0.41, 0.45, 0.44] * 10, freq="5min")]
    return TollamaRequest(model=model, horizon=6, quantiles=[0.1, 0.5, 0.9], series=series, **kw)  # type: ignore[arg-type]


async def test_health_and_mock_forecast(sandbox) -> None:
    t = client(sandbox.urls["tollama"])
    assert (await t.health())["status"] == "ok"
    response = await t.forecast(request())
    await t.http.aclose()
    assert response.forecasts[0].quantiles["0.5"] == [0.44] * 6
    assert set(response.forecasts[0].quantiles) == {"0.1", "0.5", "0.9"}


async def test_quantile_model_is_monotone(sandbox) -> None:
    t = client(sandbox.urls["tollama"])
    q = (await t.forecast(request("sandbox-quantile"))).forecasts[0].quantiles
    await t.http.aclose()
    for lo, mid, hi in zip(q["0.1"], q["0.5"], q["0.9"], strict=True):
        assert lo <= mid <= hi


async def test_unknown_model_is_a_client_error_with_hint(sandbox) -> None:
    t = client(sandbox.urls["tollama"])
    with pytest.raises(ClientError) as info:
        await t.forecast(request("no-such-model"))
    await t.http.aclose()
    assert info.value.status == 404
    assert info.value.detail == "model 'no-such-model' is not installed"
    assert info.value.hint == "run tollama pull no-such-model"


@pytest.mark.parametrize("model", ["sandbox-missing", "sandbox-nan"])
async def test_incomplete_or_non_finite_forecast_is_invalid(sandbox, model: str) -> None:
    t = client(sandbox.urls["tollama"])
    with pytest.raises(InvalidResponse):
        await t.forecast(request(model))
    await t.http.aclose()


async def test_slow_model_times_out(sandbox) -> None:
    t = client(sandbox.urls["tollama"], timeout_s=0.3)
    with pytest.raises(UpstreamTimeout):
        await t.forecast(request("sandbox-slow", options={"delay_s": 2.0}))
    await t.http.aclose()


async def test_server_error_and_connection_refused(sandbox_factory) -> None:
    box = sandbox_factory(markets=50, rules=[FaultRule(route="tollama.forecast", status={503: 1.0})])
    t = client(box.urls["tollama"])
    with pytest.raises(ServerError):
        await t.forecast(request())
    await t.http.aclose()
    dead = client("http://127.0.0.1:9/tollama")
    with pytest.raises(UpstreamConnectError):
        await dead.health()
    await dead.http.aclose()
