"""Typed settings read once from ``MCA_*`` environment variables, with working defaults.

Production defaults point at Polymarket's real endpoints; `make demo` and the tests point every URL at the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

GOLDSKY_SUBGRAPHS = "https://api.goldsky.com/api/public/project_cl6mb8i9h0003e201j6li0diw/subgraphs"


@dataclass(frozen=True)
class Settings:
    """Every knob of the platform in one place; the env var of field ``x`` is ``MCA_X``."""

    data_dir: Path = Path("./data")
    gamma_url: str = "https://gamma-api.polymarket.com"
    clob_url: str = "https://clob.polymarket.com"
    ws_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    subgraph_url: str = GOLDSKY_SUBGRAPHS
    tollama_url: str = "http://127.0.0.1:11435"
    api_tokens_file: Path | None = None
    http_timeout_s: float = 10.0
    http_max_retries: int = 6
    http_max_concurrency: int = 8

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving"


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping; unknown ``MCA_*`` names are ignored, bad values raise with the name."""
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = env.get(f"MCA_{f.name.upper()}")
        if raw is None or raw == "":
            continue
        default = getattr(Settings, f.name, None)
        try:
            if f.name.endswith(("_dir", "_file")):
                values[f.name] = Path(raw)
            elif isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw.rstrip("/")
        except ValueError as exc:
            raise ValueError(f"MCA_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}") from exc
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return settings_from_env(os.environ)
