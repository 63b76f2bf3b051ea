"""Checks of ``reports.postmortems``: unique keys, and every row's files on disk holding the row's markdown."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import keys_unique
from mca_assets.common import warehouse_connection
from mca_assets.postmortem.assets import POSTMORTEMS_KEY
from mca_resources.dagster_storage import StorageResource


@dg.asset_check(
    asset=POSTMORTEMS_KEY,
    name="report_files_match_rows",
    description="every row's markdown file (and image, when it has one) exists and holds the row's text",
)
def report_files_match_rows(warehouse: DuckDBResource, storage: StorageResource) -> dg.AssetCheckResult:
    with warehouse_connection(warehouse) as conn:
        rows = conn.execute(
            "SELECT path, markdown, image_path FROM reports.postmortems ORDER BY dt, market_id"
        ).fetchall()
    root = Path(storage.data_dir)
    bad = []
    for path, markdown, image in rows:
        md = root / path
        if not md.is_file() or md.read_text() != markdown or (image is not None and not (root / image).is_file()):
            bad.append(path)
    return dg.AssetCheckResult(passed=not bad, metadata={"reports": len(rows), "mismatched": len(bad),
                                                         "sample": dg.MetadataValue.json(bad[:5])})  # fmt: skip


checks = [
    keys_unique(POSTMORTEMS_KEY, "reports.postmortems", ("dt", "market_id")),
    report_files_match_rows,
]
