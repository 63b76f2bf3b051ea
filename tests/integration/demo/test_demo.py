"""`mca demo` as a new user runs it: a quiet backfill, every service up, and the docs' examples work against it."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docexamples import REPO, Example, examples

READY = "Ctrl-C stops the demo."


@dataclass
class Demo:
    lines: list[str]
    data_dir: Path

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("demo")
    cmd = [sys.executable, "-m", "mca_resources.cli", "demo", "--sandbox-port", "0", "--ui-port", str(_free_port()),
           "--service-port", str(_free_port()), "--markets", "300", "--days", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
                            env={**os.environ, "MCA_DATA_DIR": str(data_dir)})  # fmt: skip
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout] + [lines.put(None)],
                     daemon=True).start()  # fmt: skip
    seen: list[str] = []
    deadline = time.monotonic() + 420
    try:
        while READY not in seen:
            line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            assert line is not None, "the demo exited before it was ready:\n" + "\n".join(seen)
            seen.append(line)
        yield Demo(seen, data_dir)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_backfill_prints_one_clean_line_per_day_and_the_urls(demo: Demo) -> None:
    day_lines = [line for line in demo.lines if line.startswith("[")]
    assert [line[:5] for line in day_lines] == ["[1/2]", "[2/2]"]
    for line in day_lines:
        assert ": ok in" in line, line
        assert " markets, " in line, line
        assert "checks " in line, line
        assert "fresh" not in line, line  # a backfill of past days is not judged stale
    assert len(demo.lines) < 100  # the bound: under 100 lines before the URLs
    assert "DEBUG" not in demo.output
    assert "BetaWarning" not in demo.output
    assert "forecaster: 200 via tollama" in demo.output, demo.output
    assert "not answering" not in demo.output, demo.output
    assert "Dagster UI: http://127.0.0.1:" in demo.output
    assert "dashboard:  http://127.0.0.1:" in demo.output
    log = demo.data_dir / "logs" / "backfill.log"
    assert f"(run logs: {log})" in demo.output
    assert "STEP_SUCCESS" in log.read_text() or "Finished execution of step" in log.read_text()
    assert (demo.data_dir / "demo.env").stat().st_mode & 0o077 == 0


def test_the_daemon_log_has_no_beta_warnings(demo: Demo) -> None:
    daemon = (demo.data_dir / "logs" / "dagster-daemon.log").read_text()
    assert "BetaWarning" not in daemon
    assert "PreviewWarning" not in daemon


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.name)
def test_every_sh_example_in_the_docs_runs_against_the_demo(demo: Demo, example: Example) -> None:
    script = f"set -euo pipefail\nsource {demo.data_dir / 'demo.env'}\n{example.code}\n"
    out = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})  # fmt: skip
    assert out.returncode == 0, (
        f"{example.name} failed:\n{example.code}\n--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}"
    )
