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
import logging
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx

REPO_FILES = Path(__file__).resolve().parents[1]


def start_sandbox(
    host: str, port: int, seed: int, markets: int, log_path: Path
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start ``mca sandbox`` as a child process and return it with the URLs from its READY line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # a live clock: the venue's present is the wall clock's, so the intraday refresh and the capture see it move;
    # the world runs 30 days past today so the demo keeps live markets
    end = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    cmd = [sys.executable, "-m", "mca_sandbox.cli", "--host", host, "--port", str(port), "--seed", str(seed),
           "--markets", str(markets), "--clock", "live", "--end", end]  # fmt: skip
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


#: The tables whose row counts the progress line shows, with their short names.
PROGRESS_TABLES = {
    "core/markets": "markets",
    "core/resolutions": "resolved",
    "core/price_history": "price points",
    "core/cutoff_snapshots": "cutoffs",
    "calib/scoreboard": "scoreboard rows",
}
#: The console logger of every demo run: warnings and errors only; everything else goes to the log file.
QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def day_summary(result: dg.ExecuteInJobResult) -> str:
    """One line for a day: rows of the main tables and the checks that did not pass (with their severity)."""
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key.to_user_string()
        if key in PROGRESS_TABLES and "rows" in materialization.metadata:
            rows[PROGRESS_TABLES[key]] = int(materialization.metadata["rows"].value)
    counts = ", ".join(f"{n:,} {name}" for name, n in rows.items())
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    checks = f"checks {len(evaluations) - len(failed)}/{len(evaluations)} passed"
    if failed:
        names = ", ".join(f"{e.asset_key.to_user_string()}:{e.check_name} ({e.severity.value})" for e in failed)
        checks += f"; failed: {names}"
    return f"{counts}; {checks}"


def write_run_log(instance: dg.DagsterInstance, run_id: str, log_path: Path) -> None:
    """Every event of the run (what the console no longer shows), appended to ``log_path``."""
    with log_path.open("a") as log:
        for entry in instance.all_logs(run_id):
            moment = datetime.fromtimestamp(entry.timestamp, UTC).isoformat(timespec="milliseconds")
            level = logging.getLevelName(entry.level)
            log.write(f"{moment} {level:<7} {entry.step_key or '-'} {entry.message}\n")


def backfill(days: list[date], log_path: Path) -> bool:
    """Materialize the daily job for each day, in this process, recorded in the instance (visible in the UI).

    One line per day on the console (rows and failed checks); every run's events go to ``log_path``.
    Returns whether every day succeeded.
    """
    from mca_assets.definitions import build_definitions
    from mca_resources.settings import settings_from_env

    defs = build_definitions(settings_from_env(os.environ))
    job = defs.resolve_job_def("daily_job")
    instance = dg.DagsterInstance.get()
    tty = sys.stdout.isatty()
    all_ok = True
    for i, day in enumerate(days, 1):
        began = time.monotonic()
        if tty:
            sys.stdout.write(f"[{i}/{len(days)}] {day} materializing ...")
            sys.stdout.flush()
        result = job.execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False, run_config=QUIET_RUN
        )
        write_run_log(instance, result.run_id, log_path)
        status = "ok" if result.success else f"FAILED (run {result.run_id[:8]}; see {log_path} or the UI)"
        all_ok &= result.success
        line = f"[{i}/{len(days)}] {day}: {status} in {time.monotonic() - began:.0f} s; {day_summary(result)}"
        sys.stdout.write(("\r\033[K" if tty else "") + line + "\n")
        sys.stdout.flush()
    return all_ok


def intraday_refresh(log_path: Path) -> str:
    """One intraday refresh now (the schedule repeats it every 5 minutes): the console line says what it made."""
    from mca_assets.definitions import build_definitions
    from mca_resources.settings import settings_from_env

    defs = build_definitions(settings_from_env(os.environ))
    instance = dg.DagsterInstance.get()
    result = defs.resolve_job_def("intraday_refresh").execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET_RUN
    )
    write_run_log(instance, result.run_id, log_path)
    if not result.success:
        return f"intraday refresh: FAILED (run {result.run_id[:8]}; see {log_path} or the UI)"
    meta = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key is not None
    }
    paths, bands = meta.get("core/live_paths", {}), meta.get("serving/forecast_bands", {})
    with_path = getattr(paths.get("markets_with_path"), "value", 0)
    forecast = getattr(bands.get("markets"), "value", 0)
    return (f"intraday refresh: {with_path} top markets with a recent path, bands for {forecast} "
            "(again every 5 minutes: schedule intraday_refresh_every_5m)")  # fmt: skip


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


def write_demo_env(path: Path, urls: dict[str, str], service: str, ui: str, token: str) -> None:
    """The demo's addresses and token as shell exports (mode 0600): ``source data/demo.env`` makes every ``sh``
    example of the docs run against this demo as written (README.md, "Examples in the docs")."""
    sandbox = urls["gamma"].rsplit("/gamma", 1)[0]
    env = {
        **{name: value for name, value in upstream_env(urls, path.parent).items() if name != "MCA_TSFM_MODELS"},
        "MCA_SANDBOX": sandbox,
        "MCA_TRUTH_URL": urls["truth"],
        "MCA_SERVICE": service,
        "MCA_UI": ui,
        "MCA_TOKEN": token,
    }
    path.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items()))
    path.chmod(0o600)


def how_to_try(env_path: Path) -> str:
    body = json.dumps(DEMO_REQUEST, separators=(",", ":"))
    return "\n".join(
        [
            f"Try it (the docs' sh examples run as written after: source {env_path}):",
            f"  source {env_path}",
            "  curl -s $MCA_SERVICE/health",
            '  curl -s -X POST $MCA_SERVICE/tsfm/forecast -H "Authorization: Bearer $MCA_TOKEN" '
            f"-H 'Content-Type: application/json' -d '{body}'",
            '  curl -s "$MCA_GAMMA_URL/markets/keyset?limit=2&closed=false" | python3 -m json.tool | head -40',
            "  curl -s $MCA_TRUTH_URL/world",
            "  .venv/bin/mca fetch gamma-markets --closed true --max-pages 1 | head -3",
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
            log_path = logs / "backfill.log"
            log_path.unlink(missing_ok=True)
            print(f"backfilling {len(days)} daily partitions {days[0]} .. {days[-1]} into {data_dir} "
                  f"(run logs: {log_path})", flush=True)  # fmt: skip
            backfill(days, log_path)
            print(intraday_refresh(log_path), flush=True)
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
        print("starting the Dagster UI and daemon (they load the code location first: 20-60 s) and the service ...",
              flush=True)  # fmt: skip
        up = wait_http(f"{ui}/server_info", 120)
        print(f"Dagster UI: {ui}" + ("" if up else f" (not answering yet; see {logs}/dagster-webserver.log)"))
        up = wait_http(f"{service}/health", 60)
        print(f"service:    {service}  (OpenAPI {service}/schema/openapi.json, metrics {service}/metrics)"
              + ("" if up else f" (not answering yet; see {logs}/service.log)"))  # fmt: skip
        print(f"dashboard:  {service}/")
        print(try_forecast(service, token))
        window, top = os.environ["MCA_RT_WINDOW_S"], os.environ["MCA_RT_TOP_N"]
        print(f"realtime: realtime_capture_sensor captures {window} s windows of the top {top} markets into rt.bars_1m")
        env_path = data_dir / "demo.env"
        write_demo_env(env_path, urls, service, ui, token)
        print(how_to_try(env_path), flush=True)
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
