"""Settings come from MCA_* variables with working production defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mca_resources.settings import Settings, settings_from_env


def test_defaults_point_at_the_real_polymarket() -> None:
    s = settings_from_env({})
    assert s.gamma_url == "https://gamma-api.polymarket.com"
    assert s.clob_url == "https://clob.polymarket.com"
    assert s.ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    assert s.warehouse_path == Path("data/warehouse.duckdb")


def test_env_overrides_are_typed() -> None:
    s = settings_from_env(
        {"MCA_GAMMA_URL": "http://127.0.0.1:9/gamma/", "MCA_HTTP_TIMEOUT_S": "2.5", "MCA_DATA_DIR": "/tmp/x"}
    )
    assert s == Settings(gamma_url="http://127.0.0.1:9/gamma", http_timeout_s=2.5, data_dir=Path("/tmp/x"))


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="MCA_HTTP_MAX_RETRIES"):
        settings_from_env({"MCA_HTTP_MAX_RETRIES": "many"})
