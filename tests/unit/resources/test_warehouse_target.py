"""MCA_WAREHOUSE picks the warehouse; a DuckLake commit that loses a race is replayed, not lost or doubled."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mca_resources.settings import settings_from_env
from mca_resources.warehouse import in_transaction
from mca_resources.warehouse_target import WarehouseTarget, connect, parse_target


def test_the_setting_names_a_file_or_a_lake(tmp_path: Path) -> None:
    assert parse_target("", tmp_path) == WarehouseTarget("duckdb", str(tmp_path / "warehouse.duckdb"))
    assert parse_target("duckdb:/x/w.duckdb", tmp_path) == WarehouseTarget("duckdb", "/x/w.duckdb")
    lake = parse_target("ducklake:sqlite:/x/meta.sqlite", tmp_path)
    assert lake == WarehouseTarget("ducklake", "sqlite:/x/meta.sqlite", str(tmp_path / "lake") + "/")
    assert not lake.single_writer
    pg = parse_target("ducklake:postgres:dbname=l host=h password=secret", tmp_path, "s3://b/lake")
    assert pg.data_path == "s3://b/lake/"
    assert "secret" not in pg.describe()
    for bad in ("ducklake:mysql:x", "ducklake:sqlite:", "parquet:/x", "duckdb:"):
        with pytest.raises(ValueError, match="MCA_WAREHOUSE"):
            parse_target(bad, tmp_path)
    settings = settings_from_env({"MCA_DATA_DIR": str(tmp_path), "MCA_WAREHOUSE": "ducklake:sqlite:/m.sqlite"})
    assert settings.warehouse_target().kind == "ducklake"
    with pytest.raises(ValueError, match="MCA_WAREHOUSE"):
        settings_from_env({"MCA_WAREHOUSE": "lake"})


def test_a_lost_commit_race_replays_the_whole_transaction(tmp_path: Path) -> None:
    target = WarehouseTarget("ducklake", f"sqlite:{tmp_path / 'meta.sqlite'}", str(tmp_path / "lake") + "/")
    setup = connect(target)
    setup.execute("CREATE TABLE t (dt INTEGER, k INTEGER)")
    setup.execute("INSERT INTO t VALUES (1, 0)")
    ours, theirs = connect(target), connect(target)
    attempts: list[int] = []

    def body() -> None:
        attempts.append(len(attempts))
        ours.execute("DELETE FROM t WHERE dt = 1")
        ours.execute("INSERT INTO t VALUES (1, 1)")
        if len(attempts) == 1:  # another writer replaces the same day and commits first
            theirs.execute("BEGIN TRANSACTION; DELETE FROM t WHERE dt = 1; INSERT INTO t VALUES (1, 2); COMMIT")

    in_transaction(ours, body)
    assert len(attempts) == 2  # the first commit conflicted and the transaction ran again from its start
    assert setup.execute("SELECT dt, k FROM t").fetchall() == [(1, 1)]  # one row: the replay saw their commit
    with pytest.raises(duckdb.CatalogException):  # any other error is raised at once
        in_transaction(ours, lambda: ours.execute("SELECT * FROM missing"))
