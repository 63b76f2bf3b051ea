"""``mca serve`` on a real loopback port: it starts before any snapshot exists and refuses a weak token file."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

MCA = [sys.executable, "-m", "mca_resources.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(tmp_path: Path, tokens: str) -> dict[str, str]:
    (tmp_path / "tokens").write_text(tokens)
    return os.environ | {
        "MCA_DATA_DIR": str(tmp_path / "data"),
        "MCA_API_TOKENS_FILE": str(tmp_path / "tokens"),
        "MCA_TOLLAMA_URL": "http://127.0.0.1:9/tollama",
        "MCA_TSFM_MODELS": "mock",
        "MCA_ENVIRONMENT": "sandbox",
    }


def test_serve_answers_before_any_snapshot(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(32)
    port = free_port()
    proc = subprocess.Popen(
        [*MCA, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env_for(tmp_path, f"alice:{token}\n"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):  # wait until it accepts connections (bounded, no timing asserted)
            try:
                health = httpx.get(f"{base}/health")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        scoreboard = httpx.get(f"{base}/scoreboard")
        assert scoreboard.status_code == 503
        assert "no snapshot yet" in scoreboard.json()["detail"]
        forecast = httpx.post(
            f"{base}/tsfm/forecast",
            json={"market_id": "m", "y": [0.4, 0.5, 0.45]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert forecast.status_code == 200
        assert forecast.json()["meta"]["fallback_reason"] == "too_few_points"
        assert httpx.get(f"{base}/schema/openapi.json").json()["paths"]["/tsfm/forecast"]["post"]
    finally:
        proc.terminate()
        proc.wait(10)
    logs = (proc.stderr.read() if proc.stderr else b"").decode()
    assert token not in logs


def test_serve_refuses_a_placeholder_token(tmp_path: Path) -> None:
    out = subprocess.run(
        [*MCA, "serve", "--port", str(free_port())],
        env=env_for(tmp_path, "alice:changeme\n"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "refusing to start" in out.stderr
    assert "changeme" not in out.stderr
