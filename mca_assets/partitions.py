"""The one daily partitioning every daily asset shares, so no two assets can disagree on time zone or start."""

from __future__ import annotations

import dagster as dg

from mca_resources.settings import get_settings

#: First partition: ``MCA_PARTITIONS_START`` (YYYY-MM-DD, default in `mca_resources.settings`) for deeper history.
PARTITIONS_START = get_settings().partitions_start

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=0)
