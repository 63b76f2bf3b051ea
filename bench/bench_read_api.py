"""The read API (issue 17): ``/scoreboard`` and ``/markets/{id}`` on one uvicorn worker against a hello-world
Litestar GET in the same run.

A sandbox world goes through the real daily graph (one day, which publishes a serving snapshot); the service then
runs as ``mca serve`` does, pinned to CPU 0, with a raw-asyncio keep-alive load generator pinned to CPU 1 (the
forecast bench's). The per-address read rate limit is lifted for the run: it would measure the limit, not the
service. Goals: at least 0.5 of the hello-world ceiling, p99 under 50 ms at 32 connections.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).parent))
from bench_forecast_service import PY, REPO, free_port, pinned, run_load, wait_port

DAY = date(2026, 10, 30)


class Hello(msgspec.Struct):
    greeting: str
    n: int


def hello_get_app():  # type: ignore[no-untyped-def]
    from litestar import Litestar, get

    @get("/hello")
    async def hello() -> Hello:
        return Hello(greeting="hello", n=1)

    return Litestar([hello], openapi_config=None)


def serve(kind: str, port: int) -> None:
    import uvicorn

    if kind == "hello":
        uvicorn.run(hello_get_app(), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                    log_level="warning", access_log=False)  # fmt: skip
        return
    from mca_resources.settings import get_settings
    from mca_serving.app import create_app
    from mca_serving.server import server_config

    settings = get_settings()
    config = server_config(create_app(settings), settings, "127.0.0.1", port, log_level="warning")
    config.loop = "uvloop"
    uvicorn.Server(config).run()


def get_bytes(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def build_snapshot(data_dir: Path) -> str:
    """The daily graph for DAY on a 2,000-market sandbox; returns a market id of the snapshot."""
    import dagster as dg
    import duckdb

    from mca_assets.definitions import build_definitions
    from mca_resources.settings import Settings

    sandbox = subprocess.Popen([PY, "-m", "mca_sandbox.cli", "--port", "0", "--markets", "2000", "--start",
                                "2026-06-01", "--end", "2026-10-31"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert sandbox.stdout is not None
        urls = json.loads(sandbox.stdout.readline().removeprefix("READY "))
        settings = Settings(data_dir=data_dir, gamma_url=urls["gamma"], clob_url=urls["clob"], ws_url=urls["ws"],
                            subgraph_url=urls["subgraph"], tollama_url=urls["tollama"])  # fmt: skip
        with dg.instance_for_test() as instance:
            result = (
                build_definitions(settings)
                .resolve_job_def("daily_job")
                .execute_in_process(partition_key=DAY.isoformat(), instance=instance, raise_on_error=False)
            )
        assert result.success
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
            row = conn.execute("SELECT market_id FROM core.markets WHERE dt = ? ORDER BY volume_usd DESC LIMIT 1",
                               [DAY]).fetchone()  # fmt: skip
        assert row is not None
        return str(row[0])
    finally:
        sandbox.terminate()
        sandbox.wait(10)


def start(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(pinned(0, [PY, __file__, "--serve", kind, str(port)]), env=env, cwd=REPO)
    wait_port(port)
    return proc, port


def main(seconds: float = 5.0) -> None:
    data_dir = Path(tempfile.mkdtemp())
    market_id = build_snapshot(data_dir)
    env = {**os.environ, "MCA_DATA_DIR": str(data_dir), "MCA_READ_RATE_PER_MIN": "100000000",
           "MCA_READ_RATE_BURST": "1000000"}  # fmt: skip
    cases = {"hello": ("hello", "/hello"), "scoreboard": ("service", "/scoreboard?window=30d&horizon=1d"),
             "market": ("service", f"/markets/{market_id}")}  # fmt: skip
    results: dict[tuple[str, int], dict] = {}
    for name, (kind, path) in cases.items():
        proc, port = start(kind, env)
        try:
            for conns in (8, 32):
                best = max((run_load(port, get_bytes(path), conns, seconds) for _ in range(3)), key=lambda r: r["rps"])
                results[(name, conns)] = best
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"{'case':<11} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'x ceiling':>9}  codes")
    for (name, conns), r in results.items():
        ceiling = results[("hello", conns)]["rps"]
        print(f"{name:<11} {conns:>5} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
              f"{r['rps'] / ceiling:>9.2f}  {r['codes']}")  # fmt: skip
    print("goals: >= 0.5 of the hello-world ceiling; p99 < 50 ms at 32 connections")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
