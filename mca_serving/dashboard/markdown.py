"""Postmortem markdown as HTML for the page: CommonMark with tables, raw HTML escaped (the text is data).

The report's chart is a file beside the markdown, not served here: an image becomes its alt text, so the page
never asks for a file that is not there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token


def _image_as_text(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    alt = "".join(child.content for child in tokens[idx].children or [])
    return f'<span class="chart-note">[{escapeHtml(alt)}: in the report file]</span>'


def renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("image", _image_as_text)
    return md
