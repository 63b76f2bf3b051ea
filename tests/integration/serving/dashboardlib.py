"""What the dashboard's browser test and bench share: the service on a loopback port in a thread, and the page's
grading rule written again in plain Python (the independent reference the page's grades are checked against)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from litestar import Litestar

from mca_resources.settings import Settings
from mca_serving.dashboard.grades import GradeConfig
from mca_serving.server import server_config


@contextlib.contextmanager
def live_server(app: Litestar, settings: Settings) -> Iterator[str]:
    """``app`` under uvicorn (the `mca serve` configuration) on a free 127.0.0.1 port; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings, "127.0.0.1", port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


DEFAULT_GRADES = GradeConfig()


def reference_grade(row: dict[str, Any], config: GradeConfig = DEFAULT_GRADES) -> str:
    """The documented rule, step by step: the first bound the ECE fits under, a letter off for no skill."""
    ece = row["ece_debiased"] if row["ece_debiased"] is not None else row["ece"]
    if ece is None or ece != ece or not row["n"]:
        return "–"
    letters = list(config.letters)
    position = len(letters) - 1
    for i, bound in enumerate(config.ece_bounds):
        if max(ece, 0.0) <= bound:
            position = i
            break
    brier, uncertainty = row["brier"], row["uncertainty"]
    known = brier is not None and uncertainty is not None and brier == brier and uncertainty == uncertainty
    if known and brier >= uncertainty:
        position = min(position + config.no_skill_penalty, len(letters) - 1)
    return letters[position] + ("?" if row["low_confidence"] else "")
