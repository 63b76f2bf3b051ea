"""Where a run keeps its data: the data directory as a Dagster resource, the warehouse resource, pool and connections.

Every Dagster writer of the warehouse (the daily assets and the realtime job of `mca_sensors`) uses these, so the
single-writer pool, the backfill policy that follows from it and the schema-on-connect rule have one home.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from mca_resources.settings import get_settings
from mca_resources.warehouse import ensure_schema
from mca_resources.warehouse_target import WarehouseTarget, connect

#: The pool of every asset or op that writes a single-file warehouse (limit 1 in dagster.yaml): one writer at a time.
WAREHOUSE_POOL = "warehouse"

#: The pool the writers use in this deployment: the single-writer pool for a DuckDB file, none for a DuckLake (many
#: writers commit concurrently, conflicts replay: `mca_resources.warehouse.in_transaction`). Read once at import,
#: like every setting: the code server and each run worker load the code location with the deployment's env.
WRITER_POOL: str | None = WAREHOUSE_POOL if get_settings().warehouse_target().single_writer else None

#: A DuckDB file: a UI backfill or ``--partition-range`` is one run (each day its own transaction); a DuckLake: one
#: run per day, so the run queue's ``dagster/backfill`` limit decides how many days are written at once.
BACKFILL_POLICY = (
    dg.BackfillPolicy.single_run() if WRITER_POOL is not None else dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
)


class StorageResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The data directory (``MCA_DATA_DIR``): raw landing under ``raw/``, serving snapshots under ``serving/``."""

    data_dir: str

    @property
    def raw_dir(self) -> Path:
        return Path(self.data_dir) / "raw"

    @property
    def serving_dir(self) -> Path:
        return Path(self.data_dir) / "serving"


class WarehouseResource(DuckDBResource):  # type: ignore[misc]
    """The warehouse by configuration: ``database`` is the DuckDB file, or with ``lake_data_path`` set, the DuckLake
    catalog (``sqlite:<path>`` or ``postgres:<dsn>``) whose data files live under ``lake_data_path``."""

    lake_data_path: str = ""

    @classmethod
    def from_target(cls, target: WarehouseTarget) -> WarehouseResource:
        return cls(database=target.location, lake_data_path=target.data_path)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.lake_data_path:
            with super().get_connection() as conn:  # the file: dagster-duckdb's wait-for-the-lock backoff
                yield conn
            return
        conn = connect(target_of(self))
        try:
            yield conn
        finally:
            conn.close()


def target_of(warehouse: DuckDBResource) -> WarehouseTarget:
    """The target a warehouse resource points at (a plain ``DuckDBResource`` is a file)."""
    lake = getattr(warehouse, "lake_data_path", "")
    return WarehouseTarget("ducklake" if lake else "duckdb", warehouse.database, lake)


@contextmanager
def warehouse_connection(warehouse: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection with the schema in place; never hold it across network I/O."""
    target = target_of(warehouse)
    with warehouse.get_connection() as conn:
        if target not in _LAKE_SCHEMA_READY:
            ensure_schema(conn)
            if not target.single_writer:  # a lake outlives the process; a test's file may be deleted under it
                _LAKE_SCHEMA_READY.add(target)
        yield conn


#: The lakes whose schema this process has already ensured (each statement of it is a catalog round trip).
_LAKE_SCHEMA_READY: set[WarehouseTarget] = set()
