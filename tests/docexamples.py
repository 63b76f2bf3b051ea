"""The runnable examples of the docs: every fenced ```sh block of README.md and docs/*.md.

Convention (README.md, "Examples in the docs"): a ```sh block runs as written against a running demo after
``source $MCA_DATA_DIR/demo.env``; a synopsis or a command that starts a server goes in a ```text block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Example:
    path: str  # relative to the repo
    line: int  # of the opening fence
    code: str

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"


def examples(paths: list[Path] | None = None) -> list[Example]:
    found = []
    for path in paths or [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        lang, start, body = None, 0, []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            fence = _FENCE.match(line)
            if fence and lang is None:
                lang, start, body = fence.group(1), number, []
            elif fence:
                if lang == "sh":
                    found.append(Example(path.relative_to(REPO).as_posix(), start, "\n".join(body)))
                lang = None
            elif lang is not None:
                body.append(line)
    return found
