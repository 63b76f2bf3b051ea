"""`mca sandbox` as a user runs it: a child process that prints READY with its URLs and answers on them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

MCA = [sys.executable, "-m", "mca_resources.cli"]


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [
            *MCA,
            "sandbox",
            "--port",
            "0",
            "--seed",
            "7",
            "--markets",
            "2000",
            "--start",
            "2026-07-01",
            "--end",
            "2026-10-31",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert line.startswith("READY "), (line, proc.stderr.read() if proc.poll() is not None else "")
        yield json.loads(line[len("READY ") :])
    finally:
        proc.terminate()
        proc.wait(10)


def test_ready_line_lists_every_upstream(sandbox_process: dict[str, str]) -> None:
    assert set(sandbox_process) == {"gamma", "clob", "ws", "subgraph", "tollama", "truth", "faults"}
    assert sandbox_process["ws"].startswith("ws://127.0.0.1:")
    assert sandbox_process["ws"].endswith("/ws/market")


def test_the_process_answers_on_its_urls(sandbox_process: dict[str, str]) -> None:
    faults = httpx.get(sandbox_process["faults"]).json()
    assert faults["rules"] == []
    missing = httpx.get(sandbox_process["gamma"].rsplit("/", 1)[0] + "/no-such-route")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}


def test_mca_without_a_command_prints_usage() -> None:
    out = subprocess.run(MCA, capture_output=True, text=True)
    assert out.returncode == 2
    assert "sandbox" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--markets", "0"], "--markets must be at least 1"),
        (["--start", "2026-10-01", "--end", "2026-09-01"], "--end is before --start"),
        (["--faults", '[{"route": "x", "bogus": 1}]'], "invalid --faults"),
        (["--start", "yesterday"], "expected a date"),
        (["--clock", "sundial"], "invalid choice"),
        (["--ambiguous-share", "1.5"], "expected a share in [0, 1]"),
        (["--shock-rate", "-1"], "expected a number >= 0"),
        (["--manipulation-rate", "often"], "expected a number"),
    ],
)
def test_bad_arguments_exit_with_a_clear_message(args: list[str], message: str) -> None:
    out = subprocess.run([*MCA, "sandbox", "--port", "0", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert message in out.stderr


def test_a_live_clock_and_the_episode_rates_come_from_the_command_line() -> None:
    args = ["--port", "0", "--markets", "300", "--start", "2026-07-01", "--end", "2026-10-31", "--clock", "live",
            "--as-of", "2026-09-15T00:00:00Z", "--speed", "3600", "--refresh", "0.1", "--manipulation-rate", "2",
            "--shock-rate", "0", "--ambiguous-share", "0.5"]  # fmt: skip
    proc = subprocess.Popen([*MCA, "sandbox", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        urls = json.loads(proc.stdout.readline()[len("READY ") :])
        info = httpx.get(f"{urls['truth']}/world").json()
        assert info["clock"] == "live"
        assert info["clock_origin_ts"] == 1_789_430_400
        assert info["speed"] == 3600.0
        assert info["rates"]["manipulation_rate"] == 2.0
        assert info["rates"]["ambiguous_share"] == 0.5
        assert info["episodes"]["information_shock"] == 0
        assert info["clarity"]["ambiguous"]["markets"] > 60
        first = info["as_of_ts"]
        for _ in range(200):
            if httpx.get(f"{urls['truth']}/world").json()["as_of_ts"] > first:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the live clock did not move")
    finally:
        proc.terminate()
        proc.wait(10)


def test_unknown_command_is_refused() -> None:
    out = subprocess.run([*MCA, "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "unknown command 'frobnicate'" in out.stderr
