"""Imports point down (DESIGN.md §2): every import statement of every package, checked against its allowed set.

The parser reads each module's source (imports inside functions included), so a forbidden import fails here before
it can form a cycle or drag a framework into a process that must not load it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = ("mca_core", "mca_resources", "mca_assets", "mca_sensors", "mca_serving", "mca_sandbox")

#: package -> packages of ours it may import (itself always)
ALLOWED: dict[str, set[str]] = {
    "mca_core": set(),
    "mca_resources": {"mca_core"},
    "mca_assets": {"mca_core", "mca_resources"},
    "mca_sensors": {"mca_core", "mca_resources"},
    "mca_serving": {"mca_core", "mca_resources"},
    "mca_sandbox": set(),
}
#: the one module allowed to reach sideways: the code location gathers the sensors' jobs and sensors
EXCEPTIONS = {"mca_assets/definitions.py": {"mca_sensors"}}
#: third-party frameworks a package must never load (pure logic has no I/O; the service has no dagster)
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "mca_core": {"dagster", "dagster_duckdb", "litestar", "duckdb", "httpx", "websockets", "aiohttp"},
    "mca_serving": {"dagster", "dagster_duckdb"},
    "mca_sandbox": {"dagster", "litestar", "duckdb"},
}
#: modules of mca_resources that are Dagster resources; the clients and the forecaster import no dagster
DAGSTER_MODULES = {"mca_resources/dagster_resources.py", "mca_resources/dagster_storage.py"}


def imported_roots(path: Path, root: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (relative imports count as its own package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add(path.relative_to(root).parts[0] if node.level else (node.module or "").split(".")[0])
    return roots


def violations(package: str, root: Path = REPO) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        roots = imported_roots(path, root)
        allowed = ALLOWED[package] | {package} | EXCEPTIONS.get(rel, set())
        found += [f"{rel} imports {name}" for name in sorted(roots & set(OURS) - allowed)]
        found += [f"{rel} imports {name}" for name in sorted(roots & FORBIDDEN_THIRD_PARTY.get(package, set()))]
        if package == "mca_resources" and rel not in DAGSTER_MODULES and rel != "mca_resources/cli.py":
            found += [f"{rel} imports {name}" for name in sorted(roots & {"dagster", "dagster_duckdb"})]
    return found


@pytest.mark.parametrize("package", OURS)
def test_every_import_points_down(package: str) -> None:
    assert violations(package) == []


def test_the_rule_fails_on_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: an upward import and a framework import in pure logic are both reported."""
    (tmp_path / "mca_core").mkdir()
    (tmp_path / "mca_core" / "bad.py").write_text("import dagster\n\ndef f():\n    from mca_assets import common\n")
    found = violations("mca_core", tmp_path)
    assert found == ["mca_core/bad.py imports mca_assets", "mca_core/bad.py imports dagster"]


def test_loading_the_code_location_loads_no_litestar() -> None:
    code = "import sys, mca_assets.definitions; print(sorted(m for m in sys.modules if m.split('.')[0] in "
    code += "('litestar', 'mca_serving', 'mca_sandbox')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
