"""The code location loads: in-process and through Dagster's own validator on workspace.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

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


@pytest.mark.parametrize("config", ["dagster.yaml", "deploy/dagster.yaml"])
def test_instance_configs_turn_off_telemetry_and_the_first_visit_modal(config: str) -> None:
    import yaml

    settings = yaml.safe_load((REPO / config).read_text())
    assert settings["nux"] == {"enabled": False}
    assert settings["telemetry"] == {"enabled": False}


def test_the_local_instance_has_no_first_visit_modal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert instance.nux_enabled is False


def test_loading_the_code_location_caps_blas_threads() -> None:
    """OpenBLAS would start a thread per core; a run shares the machine, so the code location caps it (default 1)."""
    code = (
        "import mca_assets.definitions, threadpoolctl;"
        "print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[1]"
