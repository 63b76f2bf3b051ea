"""``mca demo`` (what ``make demo`` runs): the platform on the sandbox, end to end.

1. starts ``mca sandbox`` (a seeded world ending today) and points every ``MCA_*`` upstream at it;
2. backfills the last ``--days`` daily partitions of the graph into ``$MCA_DATA_DIR`` (a progress line per day),
   recorded in the Dagster instance at ``$MCA_DATA_DIR/dagster_home``;
3. starts the Dagster UI and daemon (the realtime capture sensor runs, with short windows), and ``mca serve`` (the
   HTTP service with the forecaster on the sandbox's tollama, a random bearer token in
   ``$MCA_DATA_DIR/demo_tokens.txt``), and prints every URL. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

REPO_FILES = Path(__file__).resolve().parents[1]


def start_sandbox(
    host: str, port: int, seed: int, markets: int, log_path: Path
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start ``mca sandbox`` as a child process and return it with the URLs from its READY line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "mca_sandbox.cli", "--host", host, "--port", str(port), "--seed", str(seed),
           "--markets", str(markets)]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"mca demo: the sandbox did not start; see {log_path}")
    return proc, json.loads(line[len("READY ") :])


def upstream_env(urls: dict[str, str], data_dir: Path) -> dict[str, str]:
    return {
        "MCA_GAMMA_URL": urls["gamma"],
        "MCA_CLOB_URL": urls["clob"],
        "MCA_WS_URL": urls["ws"],
        "MCA_SUBGRAPH_URL": urls["subgraph"],
        "MCA_TOLLAMA_URL": urls["tollama"],
        "MCA_TSFM_MODELS": "sandbox-quantile,mock",  # the models the sandbox's tollama serves
        "MCA_DATA_DIR": str(data_dir.resolve()),
        "DAGSTER_HOME": str((data_dir / "dagster_home").resolve()),
    }


#: The realtime sensor runs in the demo (short windows, so bars show up in rt.bars_1m within a minute); any of
#: these already set in the environment wins.
REALTIME_DEMO_ENV = {
    "MCA_RT_SENSOR_ENABLED": "1",
    "MCA_RT_WINDOW_S": "45",
    "MCA_RT_OVERLAP_S": "30",  # a run takes 10-25 s to launch on a busy laptop: hand over early enough
    "MCA_RT_SENSOR_INTERVAL_S": "5",
    "MCA_RT_TOP_N": "5",
}


def backfill(days: list[date]) -> None:
    """Materialize the daily job for each day, in this process, recorded in the instance (visible in the UI)."""
    import dagster as dg

    from mca_assets.definitions import build_definitions
    from mca_resources.settings import settings_from_env

    defs = build_definitions(settings_from_env(os.environ))
    job = defs.resolve_job_def("daily_job")
    instance = dg.DagsterInstance.get()
    for i, day in enumerate(days, 1):
        began = time.monotonic()
        sys.stdout.write(f"\r[{i}/{len(days)}] materializing {day} ...")
        sys.stdout.flush()
        result = job.execute_in_process(partition_key=day.isoformat(), instance=instance, raise_on_error=False)
        status = "ok" if result.success else "FAILED (see the run in the UI)"
        sys.stdout.write(f"\r[{i}/{len(days)}] {day}: {status} in {time.monotonic() - began:.0f} s\n")
        sys.stdout.flush()


def wait_http(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        time.sleep(0.5)
    return False


def demo_token(data_dir: Path) -> str:
    """A random bearer token for the demo's forecaster, written to a 0600 token file that MCA_API_TOKENS_FILE names
    (kept across restarts, so a token a user copied keeps working)."""
    path = data_dir / "demo_tokens.txt"
    if not path.exists():
        path.write_text(f"demo:{secrets.token_urlsafe(32)}\n")
        path.chmod(0o600)
    os.environ.setdefault("MCA_API_TOKENS_FILE", str(path))
    return path.read_text().strip().split(":", 1)[1]


DEMO_REQUEST = {
    "market_id": "demo",
    "freq": "1h",
    "horizon_steps": 6,
    "quantiles": [0.1, 0.5, 0.9],
    "y": [round(0.45 + 0.01 * ((i * 7) % 5) + 0.002 * i, 3) for i in range(48)],
}


def try_forecast(service: str, token: str) -> str:
    """One forecast through the running service, summarised for the console (the demo's own smoke check)."""
    try:
        r = httpx.post(f"{service}/tsfm/forecast", json=DEMO_REQUEST, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return f"forecaster: no answer ({exc})"
    if r.status_code != 200:
        return f"forecaster: HTTP {r.status_code} {r.text[:200]}"
    meta = r.json()["meta"]
    return f"forecaster: 200 via {meta['runtime']} ({meta['model_name']}), fallback_reason={meta['fallback_reason']}"


def how_to_try(urls: dict[str, str], service: str, token: str) -> str:
    gamma, truth = urls["gamma"], urls["truth"]
    body = json.dumps(DEMO_REQUEST, separators=(",", ":"))
    return "\n".join(
        [
            "Try it:",
            f"  curl -s {service}/health",
            f"  curl -s -X POST {service}/tsfm/forecast -H 'Authorization: Bearer {token}' "
            f"-H 'Content-Type: application/json' -d '{body}'",
            f"  curl -s '{gamma}/markets/keyset?limit=2&closed=false' | python3 -m json.tool | head -40",
            f"  curl -s '{truth}/world'",
            f"  curl -s '{urls['tollama']}/v1/health'",
            f"  MCA_GAMMA_URL={gamma} .venv/bin/mca fetch gamma-markets --closed true --max-pages 1 | head -3",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mca demo", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sandbox-port", type=int, default=int(os.environ.get("MCA_SANDBOX_PORT", "8765")))
    p.add_argument("--ui-port", type=int, default=int(os.environ.get("MCA_UI_PORT", "3000")))
    p.add_argument("--service-port", type=int, default=int(os.environ.get("MCA_SERVICE_PORT", "8000")))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--markets", type=int, default=2000)
    p.add_argument("--days", type=int, default=14, help="daily partitions to backfill, ending yesterday")
    p.add_argument("--exit-after-ready", action="store_true", help="stop once everything is up (smoke test)")
    args = p.parse_args(argv)
    data_dir = Path(os.environ.get("MCA_DATA_DIR", "./data"))
    logs = data_dir / "logs"
    procs: list[subprocess.Popen[str]] = []
    try:
        sandbox, urls = start_sandbox(args.host, args.sandbox_port, args.seed, args.markets, logs / "sandbox.log")
        procs.append(sandbox)
        print("sandbox venue:")
        for name, url in urls.items():
            print(f"  {name:<9} {url}")
        env = upstream_env(urls, data_dir)
        os.environ.update(env)
        os.environ.update({name: os.environ.get(name, value) for name, value in REALTIME_DEMO_ENV.items()})
        home = Path(env["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_FILES / "dagster.yaml", home / "dagster.yaml")
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        days = [yesterday - timedelta(days=i) for i in range(args.days - 1, -1, -1)]
        if days:
            print(f"backfilling {len(days)} daily partitions {days[0]} .. {days[-1]} into {data_dir}")
            backfill(days)
        bin_dir = Path(sys.executable).parent
        workspace = str(REPO_FILES / "workspace.yaml")
        with (logs / "dagster-webserver.log").open("w") as log:
            procs.append(subprocess.Popen(
                [str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", args.host, "-p", str(args.ui_port)],
                stdout=log, stderr=subprocess.STDOUT, text=True, cwd=REPO_FILES,
            ))  # fmt: skip
        with (logs / "dagster-daemon.log").open("w") as log:
            procs.append(subprocess.Popen(
                [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
                stdout=log, stderr=subprocess.STDOUT, text=True, cwd=REPO_FILES,
            ))  # fmt: skip
        token = demo_token(data_dir)
        service = f"http://{args.host}:{args.service_port}"
        with (logs / "service.log").open("w") as log:
            procs.append(subprocess.Popen(
                [str(bin_dir / "mca"), "serve", "--host", args.host, "--port", str(args.service_port)],
                stdout=log, stderr=subprocess.STDOUT, text=True, cwd=REPO_FILES,
            ))  # fmt: skip
        ui = f"http://{args.host}:{args.ui_port}"
        up = wait_http(f"{ui}/server_info", 120)
        print(f"Dagster UI: {ui}" + ("" if up else f" (not answering yet; see {logs}/dagster-webserver.log)"))
        up = wait_http(f"{service}/health", 60)
        print(f"service:    {service}  (OpenAPI {service}/schema/openapi.json, metrics {service}/metrics)"
              + ("" if up else f" (not answering yet; see {logs}/service.log)"))  # fmt: skip
        print(try_forecast(service, token))
        window, top = os.environ["MCA_RT_WINDOW_S"], os.environ["MCA_RT_TOP_N"]
        print(f"realtime: realtime_capture_sensor captures {window} s windows of the top {top} markets into rt.bars_1m")
        print(how_to_try(urls, service, token), flush=True)
        if not args.exit_after_ready:
            print("Ctrl-C stops the demo.", flush=True)
            procs[0].wait()
    except KeyboardInterrupt:
        pass
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
