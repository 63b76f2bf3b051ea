"""Read-only queries of the warehouse for the service, where "no database or table yet" is an answer, not an error.

Each query opens its own read-only connection and closes it (a Dagster run may be writing; a shared connection used
from two threads raises). A file that does not exist, a missing table or a writer's lock all give None: the service
must start and answer before the first snapshot is published. On a DuckLake a reader sees the last committed
snapshot and never blocks a writer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from mca_resources.warehouse import read_frame
from mca_resources.warehouse_target import WarehouseTarget, connect

log = logging.getLogger("mca.serving")


class WarehouseReader:
    def __init__(self, target: WarehouseTarget) -> None:
        self.target = target

    def query(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame | None:
        """The result frame, or None when there is no warehouse, no such table, or it cannot be opened now."""
        if self.target.kind == "duckdb" and not Path(self.target.location).is_file():
            return None
        try:
            conn = connect(self.target, read_only=True)
        except duckdb.Error as exc:
            log.warning("warehouse %s not readable now: %s", self.target.describe(), exc)
            return None
        try:
            return read_frame(conn, sql, params)
        except duckdb.CatalogException:
            return None
        finally:
            conn.close()
