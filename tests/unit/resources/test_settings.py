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


def test_method_thresholds_are_settings_with_documented_defaults() -> None:
    s = settings_from_env(
        {
            "MCA_LIQUIDITY_LOW_USD": "5",
            "MCA_CUTOFF_MAX_STALENESS": "1h=60,4h=60,1d=60,1w=60,1m=60",
            "MCA_DRIFT_PSI": "1",
        }
    )
    assert s.liquidity_edges().low_usd == 5.0
    assert s.max_staleness() == dict.fromkeys(["1h", "4h", "1d", "1w", "1m"], 60)
    assert s.drift_thresholds().psi == 1.0
    assert Settings().max_staleness() == {"1h": 3600, "4h": 7200, "1d": 21600, "1w": 86400, "1m": 259200}
    with pytest.raises(ValueError, match="MCA_CUTOFF_MAX_STALENESS"):
        settings_from_env({"MCA_CUTOFF_MAX_STALENESS": "2h=60"})
    with pytest.raises(ValueError, match="low <= high"):
        settings_from_env({"MCA_LIQUIDITY_LOW_USD": "1e9"})
    with pytest.raises(ValueError, match="MCA_PARTITIONS_START"):
        settings_from_env({"MCA_PARTITIONS_START": "yesterday"})
