"""``mca serve`` on a real loopback port: it starts before any snapshot exists, refuses a weak or readable token
file, and closes connections that stall while sending a request."""

from __future__ import annotations

import os
import secrets
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.integration.serving.servinglib import token_file

MCA = [sys.executable, "-m", "mca_resources.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(tmp_path: Path, tokens: str) -> dict[str, str]:
    token_file(tmp_path / "tokens", tokens)
    return os.environ | {
        "MCA_DATA_DIR": str(tmp_path / "data"),
        "MCA_API_TOKENS_FILE": str(tmp_path / "tokens"),
        "MCA_TOLLAMA_URL": "http://127.0.0.1:9/tollama",
        "MCA_TSFM_MODELS": "mock",
        "MCA_ENVIRONMENT": "sandbox",
    }


@contextmanager
def running_serve(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``mca serve`` on a free port, once it answers ``/health``; stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [*MCA, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # wait until it accepts connections (bounded, no timing asserted)
            try:
                httpx.get(f"{base}/health")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                time.sleep(0.1)
        yield proc, base
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_answers_before_any_snapshot(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(32)
    with running_serve(env_for(tmp_path, f"alice:{token}\n")) as (proc, base):
        health = httpx.get(f"{base}/health")
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


def test_serve_refuses_a_token_file_others_can_read(tmp_path: Path) -> None:
    env = env_for(tmp_path, f"alice:{secrets.token_urlsafe(32)}\n")
    (tmp_path / "tokens").chmod(0o644)
    out = subprocess.run(
        [*MCA, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert "mode 0644" in out.stderr
    assert "chmod 600" in out.stderr


def stalled(port: int, kind: int, token: str) -> socket.socket:
    """A connection stuck part-way through a request, five ways."""
    sock = socket.create_connection(("127.0.0.1", port))
    partial = [
        b"",  # connected, silent
        b"GET /heal",  # half a request line
        b"GET /health HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        b"POST /tsfm/forecast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "
        + token.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"y\": [",  # half a body
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHo",  # one answered, the next stuck
    ][kind % 5]  # fmt: skip
    sock.sendall(partial)
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the server has closed the connection (whatever it sent before)."""
    while select.select([sock], [], [], 0)[0]:
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
    return False


def test_stalled_connections_are_closed_and_the_connection_limit_holds(tmp_path: Path) -> None:
    """64 connections stalled mid-request fill the connection limit (a new request gets uvicorn's 503); the read
    deadlines close every one of them, after which requests are served again."""
    token = secrets.token_urlsafe(32)
    env = env_for(tmp_path, f"alice:{token}\n") | {
        "MCA_SERVE_HEADER_TIMEOUT_S": "2",
        "MCA_SERVE_BODY_TIMEOUT_S": "2",
        "MCA_SERVE_MAX_CONNECTIONS": "64",
    }
    with running_serve(env) as (_, base):
        port = int(base.rsplit(":", 1)[1])
        sockets = [stalled(port, i, token) for i in range(64)]
        try:
            full = httpx.get(f"{base}/health")
            open_ones = sockets
            for _ in range(300):  # poll for up to ~30 s: never a timing assertion, only "eventually closed"
                open_ones = [s for s in open_ones if not closed_by_peer(s)]
                if not open_ones:
                    break
                time.sleep(0.1)
            after = httpx.get(f"{base}/health")
        finally:
            for sock in sockets:
                sock.close()
    assert full.status_code == 503
    assert len(open_ones) == 0
    assert after.status_code == 200
