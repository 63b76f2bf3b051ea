"""Publishing and following snapshots: readers move on without a restart, in-flight reads keep their file, a
half-failed publish changes nothing, and 20 clients hammering a real server while the serving_snapshot asset is
materialized again and again never see an error or a half-published snapshot."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
import uvicorn
from dagster_duckdb import DuckDBResource

from mca_assets.publish.assets import serving_snapshot
from mca_resources.dagster_storage import StorageResource
from mca_resources.serving_snapshot import current_snapshot, publish_snapshot
from mca_serving.server import server_config
from mca_serving.snapshot_reader import SnapshotReader


def snapshots(serving_dir: Path) -> set[str]:
    return {p.name for p in serving_dir.glob("snapshot-*.duckdb")}


def test_readers_follow_new_snapshots_and_keep_the_one_they_read(world, tmp_path) -> None:
    serving = tmp_path / "serving"
    with duckdb.connect(str(world.warehouse)) as conn:
        first = publish_snapshot(conn, serving, source="first")
        reader = SnapshotReader(serving)
        with reader.use() as held:
            assert held is not None
            assert held.source == "first"
            fourth = [publish_snapshot(conn, serving, source=s, keep=0) for s in ("second", "third", "fourth")][-1]
            assert first.path.exists()  # a reader holds it: not pruned
            with reader.cursor() as cur:  # a new request reads the newest
                assert cur is not None
                assert cur.execute("SELECT source FROM meta.snapshot").fetchone() == ("fourth",)
            assert held.conn.execute("SELECT source FROM meta.snapshot").fetchone() == ("first",)  # in flight
        publish_snapshot(conn, serving, source="fifth", keep=0)
    assert not first.path.exists()  # released, then pruned
    # "second" and "third" were never opened; "fourth" stays while the reader holds it as its current one
    assert snapshots(serving) == {current_snapshot(serving).name, fourth.path.name}
    reader.close()


def test_a_publish_that_fails_half_way_changes_nothing(world, tmp_path) -> None:
    serving = tmp_path / "serving"
    broken = tmp_path / "broken.duckdb"
    shutil.copy(world.warehouse, broken)
    with duckdb.connect(str(world.warehouse)) as conn:
        good = publish_snapshot(conn, serving, source="good")
    with duckdb.connect(str(broken)) as conn:
        conn.execute("DROP TABLE calib.scoreboard")  # the 4th table: three are already copied when it fails
        with pytest.raises(LookupError, match=r"calib\.scoreboard"):
            publish_snapshot(conn, serving, source="broken")
    assert current_snapshot(serving) == good.path
    assert sorted(p.name for p in serving.iterdir()) == sorted(["current", good.path.name])  # no partial file


def test_twenty_clients_while_the_asset_publishes_again_and_again(world, app_factory, tmp_path) -> None:
    data_dir = tmp_path / "data"
    with duckdb.connect(str(world.warehouse)) as conn:
        expected = publish_snapshot(conn, data_dir / "serving", source="seed").rows
    app = app_factory(data_dir=data_dir, read_rate_per_min=1e9, read_rate_burst=1_000_000)
    server = uvicorn.Server(server_config(app, world.settings, "127.0.0.1", 0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    market_id = httpx.get(f"{base}/markets", params={"limit": 1}).json()["items"][0]["market_id"]
    n_scores = len(httpx.get(f"{base}/scoreboard", params={"window": "all"}).json())
    stop, problems, seen, calls = threading.Event(), [], set(), [0]

    def client() -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while not stop.is_set():
                ready = http.get("/ready")
                scores = http.get("/scoreboard", params={"window": "all"})
                page = http.get(f"/markets/{market_id}")
                calls[0] += 3
                if {r.status_code for r in (ready, scores, page)} != {200}:
                    problems.append([(r.url.path, r.status_code, r.text[:200]) for r in (ready, scores, page)])
                    continue
                snapshot = ready.json()["snapshot"]
                seen.add(snapshot["name"])
                if snapshot["tables"] != expected or len(scores.json()) != n_scores:
                    problems.append(("half-published", snapshot))
                if page.json()["registry"]["market_id"] != market_id:
                    problems.append(("wrong market", page.text[:200]))

    clients = [threading.Thread(target=client) for _ in range(20)]
    for t in clients:
        t.start()
    resources = {"warehouse": DuckDBResource(database=str(world.warehouse)),
                 "storage": StorageResource(data_dir=str(data_dir))}  # fmt: skip
    published = []
    try:
        for _ in range(5):
            result = dg.materialize([serving_snapshot], resources=resources, partition_key=world.dt.isoformat())
            assert result.success
            published.append(current_snapshot(data_dir / "serving").name)
            time.sleep(0.3)
    finally:
        stop.set()
        for t in clients:
            t.join()
        server.should_exit = True
        thread.join()
    assert problems == []
    assert calls[0] > 100
    assert set(published) <= seen | set(published)
    assert len(seen & set(published)) >= 2  # the clients moved across snapshots while they hammered
    assert len(snapshots(data_dir / "serving")) <= 3  # current, one kept, and at most one still held
