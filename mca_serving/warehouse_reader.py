"""Read-only queries of the warehouse for the service, where "no database or table yet" is an answer, not an error.

Each query opens its own read-only DuckDB connection and closes it (a Dagster run may be writing; a shared
connection used from two threads raises). A file that does not exist, a missing table or a writer's lock all
give None: the service must start and answer before the first snapshot is published.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import polars as pl

from mca_core.conformal import ConformalState
from mca_resources.warehouse import read_frame

log = logging.getLogger("mca.serving")

#: The latest published state of every band method.
LATEST_STATES_SQL = """
SELECT method, state_json FROM calib.conformal_state
QUALIFY row_number() OVER (PARTITION BY method ORDER BY dt DESC, segment) = 1
"""


class WarehouseReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame | None:
        """The result frame, or None when there is no warehouse, no such table, or it cannot be opened now."""
        if not self.path.is_file():
            return None
        try:
            conn = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            log.warning("warehouse %s not readable now: %s", self.path, exc)
            return None
        try:
            return read_frame(conn, sql, params)
        except duckdb.CatalogException:
            return None
        finally:
            conn.close()


class ConformalStates:
    """The latest published `ConformalState` per band method, re-read at most every ``refresh_s``."""

    def __init__(
        self, reader: WarehouseReader | None, refresh_s: float, *, clock: Callable[[], float] = time.monotonic
    ):
        self.reader = reader
        self.refresh_s = refresh_s
        self._clock = clock
        self._loaded_at: float | None = None
        self.states: dict[str, ConformalState] = {}

    @classmethod
    def fixed(cls, states: dict[str, ConformalState]) -> ConformalStates:
        """States read by the caller (a batch job holding the warehouse connection); never re-read."""
        out = cls(None, math.inf)
        out._loaded_at = out._clock()
        out.states = states
        return out

    async def refresh_if_due(self) -> None:
        """Re-read the states when ``refresh_s`` has passed (DuckDB in a worker thread; one reader at a time)."""
        if self._loaded_at is not None and self._clock() - self._loaded_at < self.refresh_s:
            return
        self._loaded_at = self._clock()  # before awaiting, so concurrent requests do not all re-read
        await asyncio.to_thread(self.refresh)

    def refresh(self) -> None:
        """Blocking read. Keeps the previous states when the warehouse cannot be read now."""
        self._loaded_at = self._clock()
        frame = self.reader.query(LATEST_STATES_SQL) if self.reader is not None else None
        if frame is not None:
            self.states = states_from_frame(frame)


def states_from_frame(frame: pl.DataFrame) -> dict[str, ConformalState]:
    """Method -> state from the rows of `LATEST_STATES_SQL`; an unreadable state is skipped with a warning."""
    states = {}
    for method, payload in frame.iter_rows():
        try:
            states[method] = ConformalState.from_json(payload)
        except ValueError as exc:  # msgspec errors are ValueErrors
            log.warning("conformal state of %s is not readable: %s", method, exc)
    return states
