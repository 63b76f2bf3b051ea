"""The one daily partitioning every daily asset shares, so no two assets can disagree on time zone or start."""

from __future__ import annotations

import os

import dagster as dg

#: First partition; override with MCA_PARTITIONS_START (YYYY-MM-DD) for deeper history.
PARTITIONS_START = os.environ.get("MCA_PARTITIONS_START", "2025-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=0)
