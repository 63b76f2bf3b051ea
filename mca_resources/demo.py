"""``mca demo`` (what ``make demo`` runs): start the sandbox venue and print the URLs and how to try them.

Later stages (the Dagster graph, the service, the dashboard) join here as they land.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def start_sandbox(
    host: str, port: int, seed: int, markets: int, log_path: Path
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start ``mca sandbox`` as a child process and return it with the URLs from its READY line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "mca_sandbox.cli",
        "--host",
        host,
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--markets",
        str(markets),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log_path.open("w"), text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.startswith("READY "):
            return proc, json.loads(line[len("READY ") :])
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit(f"mca demo: the sandbox did not start; see {log_path}")


def how_to_try(urls: dict[str, str]) -> str:
    gamma, clob, truth = urls["gamma"], urls["clob"], urls["truth"]
    return "\n".join(
        [
            "Try it:",
            f"  curl -s '{gamma}/markets/keyset?limit=2&closed=false' | python3 -m json.tool | head -40",
            f"  curl -s '{gamma}/events/keyset?limit=1' | python3 -m json.tool | head -20",
            f"  curl -s '{truth}/world'",
            f"  curl -s '{urls['tollama']}/v1/health'",
            f"  # CLOB: take a token id from clobTokenIds above, then  curl -s '{clob}/book?token_id=<id>'",
            f"  # WebSocket: connect to {urls['ws']} and send "
            '{"assets_ids":["<token id>"],"type":"market","custom_feature_enabled":true}',
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mca demo", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sandbox-port", type=int, default=int(os.environ.get("MCA_SANDBOX_PORT", "8765")))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--markets", type=int, default=2000)
    p.add_argument("--exit-after-ready", action="store_true", help="start, print the URLs, stop (smoke test)")
    args = p.parse_args(argv)
    data_dir = Path(os.environ.get("MCA_DATA_DIR", "./data"))
    proc, urls = start_sandbox(args.host, args.sandbox_port, args.seed, args.markets, data_dir / "logs" / "sandbox.log")
    print("mca demo is up:")
    for name, url in urls.items():
        print(f"  {name:<9} {url}")
    print(how_to_try(urls), flush=True)
    try:
        if not args.exit_after_ready:
            print("Ctrl-C stops the demo.", flush=True)
            proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
