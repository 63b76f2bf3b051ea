"""The dashboard's server-side parts: its files (gzip that inflates to the file, content-hashed names, BokehJS from
the wheel), the postmortem renderer (raw HTML escaped, images as text), the grading config's guard, and the page
and static routes through the real app (gzip only when asked; unknown names 404)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from litestar.testing import TestClient

from mca_resources.settings import Settings
from mca_serving.app import create_app
from mca_serving.dashboard.assets import bokeh_js_dir, load_assets
from mca_serving.dashboard.grades import GradeConfig
from mca_serving.dashboard.markdown import renderer


def test_assets_are_the_files_gzipped_under_content_names() -> None:
    assets = load_assets()
    assert set(assets) == {"dashboard.js", "dashboard.css", "bokeh.min.js", "bokeh-api.min.js"}
    bokeh = (bokeh_js_dir() / "bokeh.min.js").read_bytes()
    assert assets["bokeh.min.js"].body == bokeh
    for asset in assets.values():
        assert gzip.decompress(asset.gzipped) == asset.body
        assert hashlib.sha256(asset.body).hexdigest()[:12] in asset.name
    assert sum(len(a.gzipped) for a in assets.values()) < 600_000  # leaves room for the API answers under 1 MB


def test_markdown_escapes_html_and_turns_images_into_text() -> None:
    html = renderer().render("# Title <script>x()</script>\n\n![probability path](m.svg)\n\n| a |\n|---|\n| 1 |\n")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert "[probability path: in the report file]" in html
    assert "<td>1</td>" in html


def test_grade_config_needs_one_more_letter_than_ascending_bounds() -> None:
    with pytest.raises(ValueError, match="one more letter"):
        GradeConfig(ece_bounds=(0.1, 0.05), letters="ABC")
    with pytest.raises(ValueError, match="one more letter"):
        GradeConfig(ece_bounds=(0.05,), letters="ABC")


def test_page_and_static_routes(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, environment="sandbox", tsfm_models="mock"))
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-cache"
        names = {a.name for a in load_assets().values()}
        linked = {name for name in names if f"/static/{name}" in page.text}
        assert linked == names
        js = next(n for n in names if n.startswith("bokeh.") and n.endswith(".js"))
        zipped = client.get(f"/static/{js}", headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert "immutable" in zipped.headers["cache-control"]
        plain = client.get(f"/static/{js}", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == (bokeh_js_dir() / "bokeh.min.js").read_bytes()
        assert client.get("/static/nothing.js").status_code == 404
        assert client.get("/dashboard/postmortems").status_code == 503  # no snapshot published yet
