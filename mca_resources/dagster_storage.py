"""Where a run keeps its files: the data directory as a Dagster resource (tests point it at a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class StorageResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The data directory (``MCA_DATA_DIR``): raw landing under ``raw/``, reports, serving snapshots."""

    data_dir: str

    @property
    def raw_dir(self) -> Path:
        return Path(self.data_dir) / "raw"

    @property
    def reports_dir(self) -> Path:
        return Path(self.data_dir) / "reports"

    @property
    def serving_dir(self) -> Path:
        return Path(self.data_dir) / "serving"
