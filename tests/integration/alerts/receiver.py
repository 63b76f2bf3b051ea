"""A real webhook receiver on 127.0.0.1 for delivery tests: answers 500 for the first ``fail_500`` requests, then
drops the connection (body read, no answer) for the next ``drop``, then accepts; dedupes by ``Idempotency-Key``."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    fail_500: int = 0
    drop: int = 0
    requests: int = 0
    seen_keys: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, dict] = field(default_factory=dict)
    duplicates: Counter[str] = field(default_factory=Counter)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers.get("Idempotency-Key", "")
            with state.lock:
                state.requests += 1
                n = state.requests
                state.seen_keys[key] += 1
            if n <= state.fail_500:
                self._answer(500, b'{"error": "down"}')
                return
            if n <= state.fail_500 + state.drop:
                self.close_connection = True
                self.connection.shutdown(2)  # read, then hang up without a status line
                return
            with state.lock:
                if key in state.accepted:
                    state.duplicates[key] += 1
                else:
                    state.accepted[key] = body
            self._answer(200, b'{"ok": true}')

        def _answer(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def receiver(fail_500: int = 0, drop: int = 0, path: str = "/hooks/T0KEN-SECRET") -> Iterator[Receiver]:
    state = Receiver(fail_500=fail_500, drop=drop)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
