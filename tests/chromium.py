"""Headless Chromium for tests and benches: found (or installed) here, started here, driven over the DevTools protocol.

Nothing assumes a browser is already there: ``chromium`` is looked up on ``PATH``; when it is missing and we are root
on a Debian system, Debian's ``chromium`` package is installed with apt-get (under a lock, as `tests.pgserver` does
for PostgreSQL). The browser runs with a fresh profile, listens for DevTools on a free loopback port, and is killed
when the context ends. `Page` speaks the protocol over `websockets` (flattened sessions on the browser socket) and
records every console error, uncaught exception and failed request of the page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

BINARIES = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT_S = 30.0
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "mca-chromium-install.lock"


class ChromiumUnavailable(RuntimeError):
    """No usable Chromium, with what was tried."""


def find_chromium() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


def ensure_chromium() -> str:
    """The browser's path, installing Debian's package when it is missing and we may."""
    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ChromiumUnavailable("chromium is not on PATH and apt-get is not usable (not root, or not Debian)")
    with _INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not find_chromium():
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0 and cmd[1] == "install":
                    raise ChromiumUnavailable(f"apt-get install chromium failed: {done.stderr[-2000:]}")
    found = find_chromium()
    if not found:
        raise ChromiumUnavailable("chromium installed but not found on PATH")
    return found


@contextlib.contextmanager
def running_chromium(width: int = 1400, height: int = 1000) -> Iterator[str]:
    """Start headless Chromium; yield its browser DevTools WebSocket URL."""
    binary = ensure_chromium()
    profile = tempfile.mkdtemp(prefix="mca-chromium-")
    args = [
        binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
        "--disable-component-update", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = _devtools_url(proc)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:  # Chromium prints the URL once it listens; stop reading at it
        seen.append(line)
        if match := re.search(r"DevTools listening on (ws://\S+)", line):
            # keep draining: a full stderr pipe would stall the browser
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return match.group(1)
        if len(seen) > 500:
            break
    raise ChromiumUnavailable("chromium exited before DevTools listened:\n" + "".join(seen[-30:]))


@dataclass
class Page:
    """One tab on a flattened DevTools session; ``problems`` collects what a clean page must not have."""

    ws: Any
    session: str
    problems: list[str] = field(default_factory=list)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _waiting: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _events: dict[str, list[asyncio.Future[dict[str, Any]]]] = field(default_factory=dict)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        await self.ws.send(json.dumps({"id": ident, "method": method, "params": params, "sessionId": self.session}))
        return await asyncio.wait_for(future, START_TIMEOUT_S)

    def next_event(self, method: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._events.setdefault(method, []).append(future)
        return future

    def dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            future = self._waiting.pop(message["id"], None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RuntimeError(f"DevTools error: {message['error']}"))
                else:
                    future.set_result(message.get("result", {}))
            return
        method, params = message.get("method", ""), message.get("params", {})
        self._record(method, params)
        for future in self._events.pop(method, []):
            if not future.done():
                future.set_result(params)

    def _record(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.problems.append("console." + params["type"] + ": " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params["args"]))  # fmt: skip
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.problems.append("exception: " + details.get("exception", {}).get("description", details["text"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.problems.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        elif method == "Network.responseReceived":
            response = params["response"]
            self.requests[params["requestId"]] = {"url": response["url"], "status": response["status"]}
            if response["status"] >= 400:
                self.problems.append(f"HTTP {response['status']}: {response['url']}")
        elif method == "Network.loadingFinished" and params["requestId"] in self.requests:
            self.requests[params["requestId"]]["encoded_bytes"] = params["encodedDataLength"]
        elif method == "Network.loadingFailed":
            self.problems.append(f"request failed: {params.get('errorText')}")

    async def goto(self, url: str) -> None:
        loaded = self.next_event("Page.loadEventFired")
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(loaded, START_TIMEOUT_S)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 30.0) -> Any:
        """Poll a page expression until it is truthy; its value (a timeout names the expression)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if loop.time() > deadline:
                raise TimeoutError(f"page never satisfied: {expression}")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@contextlib.asynccontextmanager
async def open_page(devtools_url: str, cache: bool = True) -> AsyncIterator[Page]:
    """A new tab with Page, Runtime, Log and Network events on (the cache off when ``cache`` is false)."""
    async with websockets.connect(devtools_url, max_size=64 * 1024 * 1024) as ws:
        browser_ids = itertools.count(1_000_000)

        async def browser(method: str, **params: Any) -> dict[str, Any]:
            ident = next(browser_ids)
            await ws.send(json.dumps({"id": ident, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == ident:
                    return message["result"]

        target = (await browser("Target.createTarget", url="about:blank"))["targetId"]
        session = (await browser("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        page = Page(ws, session)

        async def pump() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("sessionId") == session:
                    page.dispatch(message)

        reader = asyncio.create_task(pump())
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                await page.send(f"{domain}.enable")
            await page.send("Network.setCacheDisabled", cacheDisabled=not cache)
            yield page
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
