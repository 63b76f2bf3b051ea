"""Small helpers for tests that talk to the sandbox's market WebSocket and its truth routes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosed


def subscription(assets: list[str], custom: bool = True, **extra: Any) -> str:
    return json.dumps({"assets_ids": assets, "type": "market", "custom_feature_enabled": custom, **extra})


async def connect(url: str) -> websockets.ClientConnection:
    return await websockets.connect(url, compression=None, max_size=None, max_queue=None)


async def recv(ws: websockets.ClientConnection, seconds: float = 10.0) -> str:
    frame = await asyncio.wait_for(ws.recv(), seconds)
    assert isinstance(frame, str)
    return frame


async def read_until_closed(ws: websockets.ClientConnection) -> tuple[list[str], ConnectionClosed]:
    frames: list[str] = []
    while True:
        try:
            frames.append(await recv(ws))
        except ConnectionClosed as exc:
            return frames, exc


async def http_get(url: str, **params: Any) -> Any:
    """GET without blocking the test's event loop."""
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(url, params=params)


async def get_json(url: str, **params: Any) -> Any:
    return (await http_get(url, **params)).json()


async def connection_truth(base: str, ws: websockets.ClientConnection) -> dict[str, Any]:
    """The sandbox's truth row for this client's connection (matched on the client's address)."""
    host, port = ws.local_address[:2]
    rows = await get_json(f"{base}/_truth/ws/connections")
    [row] = [r for r in rows if r["remote"] == f"{host}:{port}"]
    return row
