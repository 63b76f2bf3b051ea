"""One client's failing requests must not degrade the others beyond what the upstream's health warrants.

alice asks the sandbox's ``sandbox-slow`` for forecasts that take longer than the timeout (its default 5 s delay),
over and over; bob's ordinary requests, on a healthy model and on that same model, must still be answered by
tollama in normal mode. When bob's calls fail too, the upstream is failing for everybody and the shared breaker
opens (test_serving_forecast.py covers that path).
"""

from __future__ import annotations

from tests.integration.serving.servinglib import auth, body, metric, serve

SLOW = {"name": "sandbox-slow"}  # 5 s per forecast: past the 0.2 s timeout
SLOW_BUT_QUICK = {"name": "sandbox-slow", "params": {"delay_s": 0.0}}


async def test_one_clients_timeouts_do_not_send_others_to_the_baseline(app_factory, token, bob_token) -> None:
    app = app_factory(tsfm_timeout_s=0.2, tsfm_breaker_failures=3, tsfm_breaker_reset_s=60.0)
    async with serve(app) as client:
        alice = []
        for i in range(8):
            response = await client.post(
                "/tsfm/forecast", json=body(model=SLOW, y=body()["y"][i:]), headers=auth(token)
            )
            alice.append(response.json()["meta"])
        bob_other_model = (
            await client.post("/tsfm/forecast", json=body(model={"name": "sandbox-quantile"}), headers=auth(bob_token))
        ).json()["meta"]
        bob_same_model = (
            await client.post("/tsfm/forecast", json=body(model=SLOW_BUT_QUICK), headers=auth(bob_token))
        ).json()["meta"]
        ready = (await client.get("/ready")).json()
        metrics = (await client.get("/metrics")).text
    assert all(m["fallback_reason"].startswith("tollama_error:") for m in alice[:3])
    assert {m["fallback_reason"] for m in alice[3:]} == {"circuit_breaker_open"}  # alice alone is cut off
    assert alice[-1]["circuit_breaker_state"] == "open"
    for bob in (bob_other_model, bob_same_model):
        assert (bob["runtime"], bob["fallback_used"], bob["degradation_mode"]) == ("tollama", False, "normal")
        assert bob["circuit_breaker_state"] == "closed"
    assert ready["circuits"] == dict.fromkeys(ready["models"], "closed")
    assert set(ready["degradation_modes"].values()) == {"normal"}
    assert metric(metrics, "tsfm_identity_breaker_opens_total", model="sandbox-slow") == 1
    assert metric(metrics, "tsfm_circuit_transitions_total", model="sandbox-slow", to="open") == 0
    assert metric(metrics, "tsfm_degradation_mode", model="sandbox-slow") == 0
