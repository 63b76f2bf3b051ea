"""The asset graph's shape (keys, deps, groups, partitions, checks, jobs) against a checked-in snapshot.

An accidental rename, a lost dependency or a stage moved to another group fails here. After an intended change,
regenerate with ``MCA_UPDATE_SNAPSHOT=1 pytest tests/integration/assets/test_graph_snapshot.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from mca_assets.definitions import defs

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")


def graph_shape(definitions: dg.Definitions) -> dict[str, object]:
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitions": type(partitions).__name__ if partitions else None,
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in definitions.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in definitions.schedules or []),
    }


def test_asset_graph_matches_the_snapshot() -> None:
    shape = graph_shape(defs)
    if os.environ.get("MCA_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(shape, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: run with MCA_UPDATE_SNAPSHOT=1 once and commit it"
    assert shape == json.loads(SNAPSHOT.read_text())


def test_every_daily_asset_shares_one_utc_partitioning() -> None:
    from mca_assets.partitions import daily_partitions

    graph = defs.resolve_asset_graph()
    # the intraday refresh (core/live_paths, serving/forecast_bands) and the intraday alert evaluation after it run
    # every 5 minutes on the present, not per day
    intraday = {("core", "live_paths"), ("serving", "forecast_bands"), ("alerts", "alerts_intraday"),
                ("serving", "snapshot_intraday")}  # fmt: skip
    partitioned = [graph.get(k).partitions_def for k in graph.get_all_asset_keys() if tuple(k.path) not in intraday]
    assert partitioned
    assert all(p is daily_partitions for p in partitioned)
    assert all(graph.get(dg.AssetKey(list(k))).partitions_def is None for k in intraday)
    assert daily_partitions.timezone == "UTC"
