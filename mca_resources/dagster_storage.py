"""Where a run keeps its data: the data directory as a Dagster resource, the warehouse pool and connections.

Every Dagster writer of the warehouse (the daily assets and the realtime job of `mca_sensors`) uses these, so the
single-writer pool and the schema-on-connect rule have one home.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from mca_resources.warehouse import ensure_schema

#: Every asset or op that writes the warehouse runs in this pool (limit 1 in dagster.yaml): one writer at a time.
WAREHOUSE_POOL = "warehouse"


class StorageResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The data directory (``MCA_DATA_DIR``): raw landing under ``raw/``, serving snapshots under ``serving/``."""

    data_dir: str

    @property
    def raw_dir(self) -> Path:
        return Path(self.data_dir) / "raw"

    @property
    def serving_dir(self) -> Path:
        return Path(self.data_dir) / "serving"


@contextmanager
def warehouse_connection(warehouse: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection with the schema in place; never hold it across network I/O."""
    with warehouse.get_connection() as conn:
        ensure_schema(conn)
        yield conn
