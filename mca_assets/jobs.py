"""The daily job over the whole graph and its schedule (the latest completed UTC day, every night)."""

from __future__ import annotations

import dagster as dg

DAILY_GROUPS = (
    "ingest",
    "normalize",
    "registry",
    "subgraph",
    "history",
    "snapshots",
    "labels",
    "cutoff",
    "features",
    "calibration",
    "trust",
    "alerts",
    "postmortem",
    "publish",
)

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.groups(*DAILY_GROUPS),
    description="Every daily asset for one UTC day (or a range, as one run per backfill).",
)

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job,
    hour_of_day=1,
    minute_of_hour=15,
    description="01:15 UTC: materialize yesterday's partition of the whole daily graph.",
)
