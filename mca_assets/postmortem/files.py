"""The report files of a cohort day: each written atomically, and the day's directory left holding exactly them.

A file is written beside its final name (``.<name>.tmp-<pid>``) and renamed over it, so a reader or a killed run
never sees half a report: a final name holds either the previous complete file or the new one. Images are
written before the markdown that links them. After writing, the day's other reports (markets no longer
selected) and temporary files left by a killed run are removed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

REPORT_SUFFIXES = (".svg", ".md")  # written in this order
_TMP = ".tmp-"


def _of_day(name: str, dt: date) -> bool:
    """A report file (or a temporary one) of day ``dt``: ``<market_id>_<dt>.md|.svg``."""
    if name.startswith(".") and _TMP in name:
        name = name[1:].split(_TMP, 1)[0]
    stem, suffix = os.path.splitext(name)
    return suffix in REPORT_SUFFIXES and stem.endswith(f"_{dt.isoformat()}")


def write_atomic(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` in one rename."""
    tmp = path.with_name(f".{path.name}{_TMP}{os.getpid()}")
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def publish_day(report_dir: Path, dt: date, files: Mapping[str, bytes]) -> list[str]:
    """Write ``files`` (name -> bytes) for day ``dt``; returns the names removed (reports no longer selected)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    order = sorted(files, key=lambda name: (REPORT_SUFFIXES.index(os.path.splitext(name)[1]), name))
    for name in order:
        write_atomic(report_dir / name, files[name])
    removed = sorted(p.name for p in report_dir.iterdir() if p.name not in files and _of_day(p.name, dt))
    for name in removed:
        (report_dir / name).unlink(missing_ok=True)
    return [name for name in removed if not name.startswith(".")]
