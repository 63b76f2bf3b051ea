"""Helpers of the service tests: request bodies, an in-process client, reading a Prometheus sample."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from litestar import Litestar
from litestar.testing import AsyncTestClient


def token_file(path: Path, text: str) -> Path:
    """A token file as an operator keeps it: mode 0600 (the service refuses one that others can read)."""
    path.touch(mode=0o600)
    path.write_text(text)
    return path


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def series(n: int = 64, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return (1.0 / (1.0 + np.exp(-np.cumsum(rng.normal(0.0, 0.05, n))))).round(6).tolist()


def body(**kw: Any) -> dict[str, Any]:
    return {"market_id": "m1", "y": series(), "horizon_steps": 6, "transform": {"space": "none"}} | kw


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as client:
        yield client


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger, at DEBUG, from a handler on the root logger. Enter it after the app has
    started: Litestar's logging set-up replaces the root logger's handlers (pytest's caplog among them)."""
    root, handler = logging.getLogger(), _Records()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def log_text(records: list[logging.LogRecord]) -> str:
    return "\n".join(r.getMessage() for r in records)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        sample, _, raw_labels = key.partition("{")
        got = ",".join(sorted(raw_labels.rstrip("}").split(","))) if raw_labels else ""
        if sample == name and got == want:
            return float(value)
    return 0.0
