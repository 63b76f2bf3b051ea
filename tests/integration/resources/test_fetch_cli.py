"""`mca fetch` as a user runs it against the sandbox: JSON lines out, progress and counts on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mca_sandbox.world import LIVE, RESOLVED_TRUE


def fetch(sandbox, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MCA_GAMMA_URL": sandbox.urls["gamma"],
        "MCA_CLOB_URL": sandbox.urls["clob"],
        "MCA_SUBGRAPH_URL": sandbox.urls["subgraph"],
        "MCA_WS_URL": sandbox.urls["ws"],
    }
    return subprocess.run(
        [sys.executable, "-m", "mca_resources.cli", "fetch", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_gamma_markets_prints_normalised_records(sandbox) -> None:
    out = fetch(sandbox, "gamma-markets", "--closed", "false", "--max-pages", "1")
    assert out.returncode == 0, out.stderr
    records = lines(out.stdout)
    assert 0 < len(records) <= 100
    assert all(r["closed"] is False for r in records)
    assert all(isinstance(r["yes_token_id"], str) for r in records)
    assert "records" in out.stderr
    assert "pages" in out.stderr


def test_prices_and_book(sandbox) -> None:
    m = int(np.flatnonzero(sandbox.world.market_label == RESOLVED_TRUE)[0])
    e = int(sandbox.world.market_event[m])
    yes, _ = sandbox.world.token_ids(m)
    start = int(sandbox.world.event_created[e])
    end = int(sandbox.world.event_resolved[e])
    from datetime import UTC, datetime

    iso = lambda t: datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
    out = fetch(sandbox, "prices", "--token", yes, "--start", iso(start), "--end", iso(end), "--fidelity", "60")
    assert out.returncode == 0, out.stderr
    points = lines(out.stdout)
    assert len(points) >= (end - start) // 3600 - 2
    assert all(0 <= p["p"] <= 1 for p in points)
    live = int(np.flatnonzero(sandbox.world.market_label == LIVE)[0])
    out = fetch(sandbox, "book", "--token", sandbox.world.token_ids(live)[0])
    assert out.returncode == 0, out.stderr
    (book,) = lines(out.stdout)
    assert book["asset_id"] == sandbox.world.token_ids(live)[0]


def test_subgraph_and_stream(sandbox) -> None:
    w = sandbox.world
    live = int(np.flatnonzero(w.market_label == LIVE)[0])
    yes, no = w.token_ids(live)
    out = fetch(sandbox, "subgraph", "--market", f"{w.condition_id(live)}:{yes}:{no}")
    assert out.returncode == 0, out.stderr
    (row,) = lines(out.stdout)
    assert row["condition_id"] == w.condition_id(live)
    assert row["trade_count"] > 0
    out = fetch(sandbox, "stream", "--asset", yes, "--seconds", "2")
    assert out.returncode == 0, out.stderr
    events = lines(out.stdout)
    assert events[0]["event_type"] == "book"
    assert len(events) > 3


def test_upstream_failure_is_a_clear_error_not_a_traceback(sandbox) -> None:
    env_url = "http://127.0.0.1:9/gamma"
    out = subprocess.run(
        [sys.executable, "-m", "mca_resources.cli", "fetch", "gamma-markets", "--max-pages", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "MCA_GAMMA_URL": env_url, "MCA_HTTP_MAX_RETRIES": "1"},
        timeout=60,
    )
    assert out.returncode == 1
    assert "mca fetch:" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args",
    [["prices", "--token", "1", "--start", "never", "--end", "2026-01-01"], ["gamma-markets", "--closed", "maybe"]],
)
def test_bad_arguments_are_refused(sandbox, args: list[str]) -> None:
    out = fetch(sandbox, *args)
    assert out.returncode == 2
    assert "expected" in out.stderr


@pytest.mark.parametrize("where", ["after", "before"])
def test_out_is_accepted_after_the_subcommand_and_before_it(sandbox, tmp_path, where: str) -> None:
    """DESIGN.md §9 spells `mca fetch gamma-markets ... --out FILE`; the older spelling keeps working."""
    target = tmp_path / "markets.jsonl"
    query = ("gamma-markets", "--closed", "false", "--max-pages", "1")
    args = (*query, "--out", str(target)) if where == "after" else ("--out", str(target), *query)
    out = fetch(sandbox, *args)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    records = lines(target.read_text())
    assert 0 < len(records) <= 100
    to_stdout = fetch(sandbox, *query, "--out", "-")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert lines(to_stdout.stdout) == records
