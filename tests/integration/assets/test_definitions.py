"""The code location loads: in-process and through Dagster's own validator on workspace.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[3]


def test_definitions_object_loads() -> None:
    from mca_assets.definitions import defs

    assert isinstance(defs, dg.Definitions)
    assert "warehouse" in (defs.resources or {})


def test_dagster_validates_the_workspace(tmp_path: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "MCA_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    out = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Validation successful for code location mca" in out.stdout + out.stderr
