"""The static files of the page (ours and BokehJS from the installed bokeh wheel), read and gzipped once.

Each file is served under a name carrying a hash of its content, so browsers may cache it for good; the page
itself is never cached and names the current files.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import bokeh

OWN_DIR = Path(__file__).parent / "static"
OWN_FILES = ("dashboard.js", "dashboard.css")
BOKEH_FILES = ("bokeh.min.js", "bokeh-api.min.js")  # the core and the plotting API the page calls
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    name: str  # the hashed file name in the URL
    media_type: str
    body: bytes
    gzipped: bytes


def _asset(path: Path) -> Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:12]
    stem, _, suffix = path.name.partition(".")
    return Asset(f"{stem}.{digest}.{suffix}", MEDIA_TYPES[path.suffix], body, gzip.compress(body, 9, mtime=0))


def bokeh_js_dir() -> Path:
    return Path(bokeh.__file__).parent / "server" / "static" / "js"


@cache
def load_assets() -> dict[str, Asset]:
    """Logical name (``dashboard.js``, ``bokeh.min.js``) -> its asset; raises when the bokeh wheel lacks a file.

    Read once per process, on the first request that needs them.
    """
    paths = [OWN_DIR / f for f in OWN_FILES] + [bokeh_js_dir() / f for f in BOKEH_FILES]
    return {path.name: _asset(path) for path in paths}
