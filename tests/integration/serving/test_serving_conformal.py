"""Conformal bands from the service meet their target coverage on held-out sandbox markets.

Calibrate the service's own (pre-conformal) baseline bands on one half of the sandbox's markets, publish the fit as a
``calib.conformal_state`` row in a real DuckDB warehouse, publish a serving snapshot of it, start a new app on it,
and measure the held-out half.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import duckdb
import httpx
import numpy as np
import polars as pl
import pytest

from mca_core.conformal import SplitConformal, band_scores
from mca_resources.serving_snapshot import publish_snapshot
from mca_resources.warehouse import ensure_schema, replace_partition
from mca_serving.app import create_app
from tests.conftest import start_sandbox
from tests.integration.serving.servinglib import serve

HORIZON = 6
EVERY = 24
HISTORY = 32
ALPHA = 0.2


@pytest.fixture(scope="module")
def paths() -> list[np.ndarray]:
    box = start_sandbox(markets=120, seed=11)
    try:
        with httpx.Client(base_url=box.base, timeout=30) as client:
            ids = [m["market_id"] for m in client.get("/_truth/markets", params={"limit": 200}).json()["markets"]]
            out = []
            for market_id in ids:
                truth = client.get(f"/_truth/markets/{market_id}", params={"paths": 1, "fidelity": 60}).json()
                out.append(np.asarray(truth["paths"]["p_market"], dtype=float))
    finally:
        box.stop()
    return out


def origins(path: np.ndarray) -> list[tuple[list[float], np.ndarray]]:
    return [
        (path[max(0, t - 256) : t].round(6).tolist(), path[t : t + HORIZON])
        for t in range(HISTORY, path.size - HORIZON + 1, EVERY)
    ]


async def bands(app, token: str, cases) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """(bands (n, 3, H), outcomes (n, H), conformal_applied) for each (history, future) case, through HTTP."""
    out, applied = [], []
    async with serve(app) as client:
        for history, _ in cases:
            body = {"market_id": "m", "y": history, "freq": "1h", "horizon_steps": HORIZON, "liquidity_bucket": "LOW"}
            response = await client.post("/tsfm/forecast", json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
            payload = response.json()
            out.append([payload["yhat_q"][k] for k in ("0.1", "0.5", "0.9")])
            applied.append(payload["meta"]["conformal_applied"])
    return np.asarray(out), np.asarray([future for _, future in cases]), applied


def coverage(b: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((y >= b[:, 0]) & (y <= b[:, 2])))


async def test_conformal_bands_meet_target_coverage_on_held_out_markets(settings, token, paths) -> None:
    settings = replace(settings, tsfm_baseline="ewma", tsfm_conformal_refresh_s=3600.0)
    calibration = [case for path in paths[0::2] for case in origins(path)]
    held_out = [case for path in paths[1::2] for case in origins(path)]
    assert len(calibration) > 500
    assert len(held_out) > 500

    raw, y, applied = await bands(create_app(settings), token, calibration + held_out)
    assert not any(applied)  # no state published yet
    raw_cal, y_cal = raw[: len(calibration)], y[: len(calibration)]
    raw_cov = coverage(raw[len(calibration) :], y[len(calibration) :])
    scores = band_scores(y_cal, raw_cal[:, 0], raw_cal[:, 1], raw_cal[:, 2])
    state = SplitConformal.fit(scores, ALPHA).to_state(datetime(2026, 10, 31, tzinfo=UTC))
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        ensure_schema(conn)
        row = {"dt": date(2026, 10, 31), "method": "ewma", "segment": "pooled", "q_hat": state.pooled.q_hat,
               "n": state.pooled.n, "source": "pooled", "alpha": ALPHA,
               "state_json": state.to_json().decode()}  # fmt: skip
        replace_partition(conn, "calib.conformal_state", date(2026, 10, 31), pl.DataFrame([row]))
        publish_snapshot(conn, settings.serving_dir)  # the service reads the state from the published snapshot

    conformal_held, y_held, applied = await bands(create_app(settings), token, held_out)
    assert all(applied)
    conformal_cov = coverage(conformal_held, y_held)
    print(f"held-out coverage of the 80 % band: raw {raw_cov:.3f}, conformal {conformal_cov:.3f} (n={y_held.size})")
    assert abs(conformal_cov - (1 - ALPHA)) <= 0.03
    assert abs(raw_cov - (1 - ALPHA)) > 0.03  # the same check fails on the uncalibrated bands
