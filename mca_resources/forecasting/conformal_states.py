"""The conformal adjustment the forecaster applies: the latest published `ConformalState` per band method.

The states are read through whatever query function the caller has (the service reads its published snapshot, a
batch asset its open warehouse connection), re-read at most every ``refresh_s``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence

import polars as pl

from mca_core.conformal import ConformalState

log = logging.getLogger("mca.forecasting")

#: The latest published state of every band method.
LATEST_STATES_SQL = """
SELECT method, state_json FROM calib.conformal_state
QUALIFY row_number() OVER (PARTITION BY method ORDER BY dt DESC, segment) = 1
"""

#: Runs a query and returns its frame, or None when there is nothing to read yet.
Query = Callable[[str, Sequence[object] | None], pl.DataFrame | None]


class ConformalStates:
    """The latest published `ConformalState` per band method, re-read at most every ``refresh_s``."""

    def __init__(self, query: Query | None, refresh_s: float, *, clock: Callable[[], float] = time.monotonic):
        self.query = query
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
        """Blocking read. Keeps the previous states when nothing can be read now."""
        self._loaded_at = self._clock()
        frame = self.query(LATEST_STATES_SQL, None) if self.query is not None else None
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
