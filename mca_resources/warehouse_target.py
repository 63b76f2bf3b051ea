"""Where the warehouse lives, chosen by configuration alone: one embedded DuckDB file, or a DuckLake.

``MCA_WAREHOUSE`` is ``duckdb:<path>`` (the default, ``<MCA_DATA_DIR>/warehouse.duckdb``), ``ducklake:sqlite:<path>``
(many local processes over one SQLite catalog) or ``ducklake:postgres:<libpq dsn>`` (many machines); a lake keeps
its Parquet files under ``MCA_LAKE_DATA_PATH``. A lake connection is an in-memory DuckDB with the lake attached as
``lake`` and ``USE lake``, so ``core.markets`` names the same table in both, and every statement is unchanged.

The extensions come from the ``duckdb-ext-*`` wheels (pinned with DuckDB 1.4.4) and are never downloaded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import duckdb_ext

LAKE_ALIAS = "lake"
#: The catalog database drivers DuckLake can use here, with the extension each needs.
CATALOG_EXTENSIONS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}
#: A SQLite catalog serialises commits; WAL and a busy timeout turn most lock errors into waits (ducklake#128).
SQLITE_CATALOG_OPTIONS = "META_JOURNAL_MODE 'WAL', META_BUSY_TIMEOUT 10000"


@dataclass(frozen=True)
class WarehouseTarget:
    """A parsed ``MCA_WAREHOUSE``: ``kind`` duckdb (``location`` a file) or ducklake (``location`` a catalog)."""

    kind: Literal["duckdb", "ducklake"]
    location: str
    data_path: str = ""

    @property
    def single_writer(self) -> bool:
        """A DuckDB file admits one writing process; a lake admits many (the pool and backfill policy follow)."""
        return self.kind == "duckdb"

    @property
    def catalog_kind(self) -> str:
        return self.location.partition(":")[0]

    def describe(self) -> str:
        """The target without credentials, for logs and metadata (a DSN may carry a password)."""
        if self.kind == "duckdb":
            return f"duckdb:{self.location}"
        return f"ducklake:{self.catalog_kind} data={self.data_path}"


def parse_target(spec: str, data_dir: Path, lake_data_path: str = "") -> WarehouseTarget:
    """``MCA_WAREHOUSE`` (empty: the default file) and ``MCA_LAKE_DATA_PATH`` (empty: ``<data_dir>/lake/``)."""
    if not spec:
        return WarehouseTarget("duckdb", str(data_dir / "warehouse.duckdb"))
    kind, _, rest = spec.partition(":")
    if kind == "duckdb" and rest:
        return WarehouseTarget("duckdb", rest)
    if kind == "ducklake":
        catalog, sep, location = rest.partition(":")
        if catalog in CATALOG_EXTENSIONS and sep and location:
            data_path = lake_data_path or str(data_dir / "lake")
            return WarehouseTarget("ducklake", rest, data_path.rstrip("/") + "/")
    raise ValueError(
        f"MCA_WAREHOUSE={spec!r}: expected duckdb:<path>, ducklake:sqlite:<path> or ducklake:postgres:<dsn>"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(target: WarehouseTarget, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new connection to the warehouse; the caller closes it. A lake reader never blocks its writers.

    A lake is attached once per process (loading the extensions and reading the catalog costs about a second);
    each call gets its own cursor on that attachment: its own transactions, safe to use from another thread.
    """
    if target.kind == "duckdb":
        return duckdb.connect(target.location, read_only=read_only)
    with _LOCK:
        key = (target, read_only)
        if key not in _ATTACHED:
            _ATTACHED[key] = _attach(target, read_only)
        cursor = _ATTACHED[key].cursor()
    cursor.execute(f"USE {LAKE_ALIAS}")
    return cursor


_LOCK = threading.Lock()
_ATTACHED: dict[tuple[WarehouseTarget, bool], duckdb.DuckDBPyConnection] = {}


def _attach(target: WarehouseTarget, read_only: bool) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(
        config={"extension_directory": duckdb_ext.get_extension_dir(), "autoinstall_known_extensions": False}
    )
    try:
        conn.execute("LOAD ducklake")
        conn.execute(f"LOAD {CATALOG_EXTENSIONS[target.catalog_kind]}")
        options = [f"DATA_PATH {_quote(target.data_path)}"]
        if target.catalog_kind == "sqlite":
            options.append(SQLITE_CATALOG_OPTIONS)
        if read_only:
            options.append("READ_ONLY")
        conn.execute(f"ATTACH {_quote('ducklake:' + target.location)} AS {LAKE_ALIAS} ({', '.join(options)})")
    except BaseException:
        conn.close()
        raise
    return conn
