"""The service's view of the published snapshots: one read-only connection to the current one, a cursor per request.

Every request looks at the ``current`` pointer (one ``stat``); when it names a newer snapshot, the reader opens that
one and later requests use it, while requests already running finish on the old one, which is closed (and its
shared lock released, so the publisher may prune it) when the last of them is done. No restart, no failed request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from mca_resources.serving_snapshot import POINTER, current_snapshot, hold
from mca_resources.warehouse import read_frame

log = logging.getLogger("mca.serving")


@dataclass
class Snapshot:
    """One open published snapshot; ``users`` counts the requests reading it."""

    path: Path
    conn: duckdb.DuckDBPyConnection
    published_ts: datetime
    source: str
    tables: dict[str, int]
    _lock: contextlib.ExitStack = field(repr=False)
    users: int = 0
    retired: bool = False

    def close(self) -> None:
        self.conn.close()
        self._lock.close()

    def age_s(self) -> float:
        return (datetime.now(UTC) - self.published_ts).total_seconds()


def open_snapshot(path: Path) -> Snapshot:
    stack = contextlib.ExitStack()
    stack.enter_context(hold(path))  # before opening: the publisher may not prune it now
    try:
        conn = duckdb.connect(str(path), read_only=True)
        published_ts, source = conn.execute("SELECT published_ts, source FROM meta.snapshot").fetchone()  # type: ignore[misc]
        tables = dict(conn.execute("SELECT name, n_rows FROM meta.tables ORDER BY name").fetchall())
    except BaseException:
        stack.close()
        raise
    return Snapshot(path, conn, published_ts.astimezone(UTC), source, tables, stack)


class SnapshotReader:
    """Thread-safe: the read handlers run in Litestar's thread pool."""

    def __init__(self, serving_dir: Path, on_switch: Callable[[], None] | None = None) -> None:
        self.serving_dir = serving_dir
        self._on_switch = on_switch
        self._pointer = serving_dir / POINTER
        self._mutex = threading.Lock()
        self._current: Snapshot | None = None
        self._seen: tuple[int, int] | None = None  # (inode, mtime_ns) of the pointer last followed

    def _pointer_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._pointer)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _refresh(self) -> None:
        """Under the mutex: follow the pointer if it moved."""
        seen = self._pointer_id()
        if seen is None or seen == self._seen:
            return
        path = current_snapshot(self.serving_dir)
        if path is None or (self._current is not None and self._current.path == path):
            self._seen = seen
            return
        try:
            fresh = open_snapshot(path)
        except (FileNotFoundError, duckdb.Error) as exc:  # superseded meanwhile: the next request follows on
            log.warning("snapshot %s not opened: %s", path.name, exc)
            return
        self._seen = seen
        old, self._current = self._current, fresh
        if self._on_switch is not None:
            self._on_switch()
        if old is not None:
            old.retired = True
            if old.users == 0:
                old.close()

    @contextlib.contextmanager
    def use(self) -> Iterator[Snapshot | None]:
        """The current snapshot (None before any is published), kept open until the block ends."""
        with self._mutex:
            self._refresh()
            snap = self._current
            if snap is not None:
                snap.users += 1
        try:
            yield snap
        finally:
            if snap is not None:
                with self._mutex:
                    snap.users -= 1
                    if snap.retired and snap.users == 0:
                        snap.close()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A cursor of the current snapshot for one request (None before any is published)."""
        with self.use() as snap:
            if snap is None:
                yield None
                return
            with snap.conn.cursor() as cur:
                yield cur

    def query(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame | None:
        """A frame from the current snapshot, or None before the first publish (the conformal states' reader)."""
        with self.cursor() as cur:
            return None if cur is None else read_frame(cur, sql, params)

    def close(self) -> None:
        with self._mutex:
            if self._current is not None:
                self._current.retired = True
                if self._current.users == 0:
                    self._current.close()
                self._current = None
                self._seen = None
