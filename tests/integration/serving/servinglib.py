"""Helpers of the service tests: request bodies, an in-process client, reading a Prometheus sample."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from litestar import Litestar
from litestar.testing import AsyncTestClient


def series(n: int = 64, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return (1.0 / (1.0 + np.exp(-np.cumsum(rng.normal(0.0, 0.05, n))))).round(6).tolist()


def body(**kw: Any) -> dict[str, Any]:
    return {"market_id": "m1", "y": series(), "horizon_steps": 6, "transform": {"space": "none"}} | kw


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as client:
        yield client


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
