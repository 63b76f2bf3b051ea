"""A backfill of 30 days: serial on the embedded single file vs DuckLake with 2 runs at a time, on 2 cores.

Both go through Dagster for real: an instance on PostgreSQL (deploy/dagster.yaml), a gRPC code server, one
run-worker process per run (tests/backfill_driver.py iterates the daemons). The single file backfills as one run
(single-run policy, one writer); the lake as one run per day, 2 at a time (the ``dagster/backfill`` limit), its
catalog in the same PostgreSQL. Each mode runs in its own child process so that peak RSS (the largest process of
its tree: code server, run workers) is its own. Also printed: the measured per-day cost of a run and the projected
wall time at 16 pods: the day-local runs of 16 days at once, bounded below by the API pacing floor (requests of the
backfill / the published limits, shared by every pod behind one address), then, after that barrier, the runs of
the assets that read other days, 16 at once (docs/decisions.md). Peak RSS is of the child's reaped descendants.

    python bench/bench_backfill.py [--days 30] [--markets 150] [--pods 16] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: Published limits (reference/polymarket.md §1.4), requests per second, by raw dataset landed.
LIMITS_PER_S = {"gamma_markets": 30.0, "gamma_events": 50.0, "price_history": 100.0, "subgraph": 100.0}


def requests_landed(data_dir: Path) -> dict[str, int]:
    """Pages fetched per dataset: one raw line per page received (mca_resources.landing)."""
    counts: dict[str, int] = {}
    for dataset in LIMITS_PER_S:
        total = 0
        for part in (data_dir / "raw" / dataset).rglob("part-*.jsonl.gz"):
            with gzip.open(part, "rt") as f:
                total += sum(1 for _ in f)
        counts[dataset] = total
    return counts


def child(mode: str, days_csv: str, env_json: str) -> None:
    """One mode, in this process: prints one JSON line of figures."""
    days = days_csv.split(",")
    os.environ.update(json.loads(env_json))
    import dagster as dg

    from mca_assets.definitions import build_definitions
    from mca_resources.settings import Settings
    from tests.backfill_driver import code_location, overlap_peak, run_backfill

    selection = sorted(build_definitions(Settings()).resolve_job_def("daily_job").asset_layer.selected_asset_keys)
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance, code_location(instance) as ws:
        outcome = run_backfill(ws, selection, days, f"bench-{mode}", deadline_s=6 * 3600)
    assert not outcome.failed, outcome.failed
    spans = [(r.start_time or 0.0, r.end_time or 0.0) for r in outcome.runs]
    launch = [(r.start_time or 0.0) - r.create_timestamp.timestamp() for r in outcome.runs]
    ranges = [r.dagster_run.tags.get("dagster/asset_partition_range_start") for r in outcome.runs]
    first_of_day = {}
    for i, day in enumerate(ranges):
        first_of_day.setdefault(day, i)
    local = [spans[i][1] - spans[i][0] for i in first_of_day.values()]
    windowed = [spans[i][1] - spans[i][0] for i in range(len(spans)) if i not in first_of_day.values()]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("RESULT " + json.dumps({
        "mode": mode, "wall_s": outcome.wall_s, "runs": len(spans), "overlap": overlap_peak(spans),
        "peak_rss_mb": peak_mb, "local_run_s": local, "windowed_run_s": windowed,
        "launch_s": sum(launch) / len(launch),
        "requests": requests_landed(Path(os.environ["MCA_DATA_DIR"])),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--markets", type=int, default=150)
    parser.add_argument("--pods", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures and goals")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from tests.conftest import start_sandbox
    from tests.integration.assets.conftest import busiest_day
    from tests.pgserver import fresh_database, running_postgres

    sandbox = start_sandbox(markets=args.markets, seed=11)
    last = busiest_day(sandbox)
    days = [(last - timedelta(days=args.days - 1 - i)).isoformat() for i in range(args.days)]
    results = {}
    root = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    try:
        with running_postgres(db="bench") as server:
            for mode in ("serial", "ducklake"):
                with fresh_database(server, f"runs_{mode}") as pg, fresh_database(server, f"lake_{mode}") as cat:
                    home = root / mode / "home"
                    home.mkdir(parents=True)
                    shutil.copyfile(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
                    env = {
                        "DAGSTER_HOME": str(home), "MCA_DATA_DIR": str(root / mode / "data"),
                        "DAGSTER_PG_HOST": pg.host, "DAGSTER_PG_PORT": str(pg.port), "DAGSTER_PG_USER": pg.user,
                        "DAGSTER_PG_PASSWORD": pg.password, "DAGSTER_PG_DB": pg.db,
                        "MCA_GAMMA_URL": sandbox.urls["gamma"], "MCA_CLOB_URL": sandbox.urls["clob"],
                        "MCA_WS_URL": sandbox.urls["ws"], "MCA_SUBGRAPH_URL": sandbox.urls["subgraph"],
                        "MCA_TOLLAMA_URL": sandbox.urls["tollama"],
                    }  # fmt: skip
                    if mode == "ducklake":
                        dsn = f"dbname={cat.db} host={cat.host} port={cat.port} user={cat.user} password={cat.password}"
                        env |= {"MCA_WAREHOUSE": f"ducklake:postgres:{dsn}", "MCA_LAKE_DATA_PATH": str(root / "lake")}
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", mode, ",".join(days), json.dumps(env)],
                        capture_output=True, text=True, env={**os.environ, **env}, cwd=REPO,
                    )  # fmt: skip
                    if out.returncode != 0:
                        raise SystemExit(f"{mode} failed:\n{out.stderr[-4000:]}")
                    results[mode] = json.loads(next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))[7:])
    finally:
        sandbox.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(args, days, results)


def report(args: argparse.Namespace, days: list[str], results: dict[str, dict]) -> None:
    serial, lake = results["serial"], results["ducklake"]
    requests = lake["requests"]
    floor_s = sum(requests[k] / LIMITS_PER_S[k] for k in LIMITS_PER_S)
    local = sum(lake["local_run_s"]) / len(lake["local_run_s"])
    windowed = sum(lake["windowed_run_s"]) / max(1, len(lake["windowed_run_s"]))
    # 16 pods: the day-local runs in waves of `pods`, never faster than the shared API pacing floor, then the
    # windowed runs (after the barrier) in waves too; pod start-up is not measured here and comes on top
    waves = math.ceil(args.days / args.pods)
    projected = max(waves * local, floor_s) + waves * windowed
    figures = {
        "days": args.days, "markets": args.markets,
        "serial_wall_s": serial["wall_s"], "serial_peak_rss_mb": serial["peak_rss_mb"], "serial_runs": serial["runs"],
        "ducklake_wall_s": lake["wall_s"], "ducklake_peak_rss_mb": lake["peak_rss_mb"], "ducklake_runs": lake["runs"],
        "ducklake_runs_at_once": lake["overlap"], "speedup": serial["wall_s"] / lake["wall_s"],
        "day_local_run_s": local, "windowed_run_s": windowed, "run_launch_s": lake["launch_s"],
        "pacing_floor_s": floor_s, "requests": requests, "pods": args.pods, "projected_wall_at_pods_s": projected,
    }  # fmt: skip
    goals = {"ducklake_runs_at_once": "== 2", "speedup": ">= 1.0", "ducklake_peak_rss_mb": "<= 2048"}
    if args.json:
        print(json.dumps({"bench": "bench_backfill", "figures": figures, "goals": goals}))
        return
    print(f"backfill of {args.days} days ({days[0]} .. {days[-1]}), {args.markets}-market sandbox world, 2 cores")
    print(f"serial, single file : {serial['wall_s']:8.1f} s wall, {serial['runs']} run, peak RSS "
          f"{serial['peak_rss_mb']:.0f} MiB")  # fmt: skip
    print(f"DuckLake, 2 at once : {lake['wall_s']:8.1f} s wall, {lake['runs']} runs ({lake['overlap']} at once), "
          f"peak RSS {lake['peak_rss_mb']:.0f} MiB")  # fmt: skip
    print(f"speedup: {figures['speedup']:.2f}  (goal >= 1.0)")
    print(f"per day: day-local run {local:.1f} s, windowed run {windowed:.1f} s, launch {lake['launch_s']:.1f} s")
    print(f"pacing floor at the published limits: {floor_s:.1f} s for {sum(requests.values()):,} requests {requests}")
    print(f"projected wall at {args.pods} pods: {projected:.1f} s + pod start-up ({waves} waves of day-local and "
          f"windowed runs)")  # fmt: skip


if __name__ == "__main__":
    main()
