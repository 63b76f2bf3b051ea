"""Raw landing: every page as received, as JSON lines under ``<raw>/<dataset>/dt=YYYY-MM-DD/part-<run>.jsonl.gz``.

A partition's directory ``dt=YYYY-MM-DD`` is a symlink to a version directory written aside
(``.versions/dt=YYYY-MM-DD.<run>``); committing a re-run swaps the symlink with one ``rename``, so readers see the
old files or the new ones, never a mix, and a run that fails half-way leaves the previous version in place.
Each line is ``{"source", "url", "params", "request", "status", "received_at", "request_id", "body"}`` with
``request`` the JSON body sent (null for a GET) and ``body`` the exact response text.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from mca_resources.http import RawPage


def partition_dir(raw_root: Path, dataset: str, dt: date) -> Path:
    return raw_root / dataset / f"dt={dt.isoformat()}"


class RawLanding:
    """Write one dataset's partition aside, then publish it atomically (use as a context manager)."""

    def __init__(self, raw_root: Path, dataset: str, dt: date, run_id: str) -> None:
        self.raw_root = raw_root
        self.dataset = dataset
        self.dt = dt
        self.run_id = run_id
        self.version_dir = raw_root / dataset / ".versions" / f"dt={dt.isoformat()}.{run_id}"
        self.pages = 0
        self.bytes = 0
        self._file: IO[bytes] | None = None

    def __enter__(self) -> RawLanding:
        if self.version_dir.exists():
            shutil.rmtree(self.version_dir)
        self.version_dir.mkdir(parents=True)
        self._file = gzip.open(self.version_dir / f"part-{self.run_id}.jsonl.gz", "wb", compresslevel=3)
        return self

    def write(self, page: RawPage) -> None:
        """The raw-page hook: append one response as received."""
        assert self._file is not None, "RawLanding.write outside its context"
        line = json.dumps(
            {
                "source": page.source,
                "url": page.url,
                "params": page.params,
                "request": page.request,
                "status": page.status,
                "received_at": page.received_at,
                "request_id": page.request_id,
                "body": page.body.decode("utf-8", "replace"),
            },
            separators=(",", ":"),
        )
        self._file.write(line.encode() + b"\n")
        self.pages += 1
        self.bytes += len(page.body)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if exc_type is not None:
            shutil.rmtree(self.version_dir, ignore_errors=True)
            return
        self._publish()

    def _publish(self) -> None:
        link = partition_dir(self.raw_root, self.dataset, self.dt)
        previous = link.resolve() if link.is_symlink() else None
        tmp = link.with_name(f".{link.name}.{self.run_id}.link")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.version_dir.relative_to(link.parent))
        os.replace(tmp, link)
        if previous is not None and previous != self.version_dir.resolve():
            shutil.rmtree(previous, ignore_errors=True)


def read_pages(raw_root: Path, dataset: str, dt: date, source: str | None = None) -> Iterator[dict[str, Any]]:
    """Every landed page of a partition (optionally of one source) in the order received; none if not landed."""
    directory = partition_dir(raw_root, dataset, dt)
    if not directory.exists():
        return
    for path in sorted(directory.glob("part-*.jsonl.gz")):
        with gzip.open(path, "rb") as handle:
            for line in handle:
                page = json.loads(line)
                if source is None or page["source"] == source:
                    yield page
