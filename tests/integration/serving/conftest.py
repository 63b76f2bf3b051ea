"""The service under test: a real app (in-process client or uvicorn on loopback) against the sandbox's tollama."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from mca_resources.settings import Settings
from mca_serving.app import create_app
from tests.conftest import RunningSandbox, start_sandbox
from tests.integration.serving.servinglib import token_file

MODELS = "sandbox-quantile,sandbox-crossing,sandbox-missing,sandbox-nan,sandbox-slow,mock"


@pytest.fixture(scope="module")
def tollama_box() -> Iterator[RunningSandbox]:
    """A small sandbox per module (its fault plan is changed by the tests)."""
    box = start_sandbox(markets=20)
    yield box
    box.stop()


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def bob_token() -> str:
    """A second identity's token, for what one client's requests must not do to another's."""
    return secrets.token_urlsafe(32)


@pytest.fixture
def settings(tmp_path: Path, token: str, bob_token: str, tollama_box: RunningSandbox) -> Settings:
    tokens = token_file(tmp_path / "tokens", f"# identity:token\nalice:{token}\nbob:{bob_token}\n")
    tollama_box.faults.set_rules([])
    return Settings(
        data_dir=tmp_path / "data",
        tollama_url=tollama_box.urls["tollama"],
        api_tokens_file=tokens,
        environment="sandbox",
        tsfm_models=MODELS,
        tsfm_timeout_s=0.5,
        tsfm_rate_per_min=60_000.0,
        tsfm_rate_burst=1000,
    )


@pytest.fixture
def app_factory(settings: Settings) -> Callable[..., Litestar]:
    def factory(**overrides: Any) -> Litestar:
        return create_app(replace(settings, **overrides))

    return factory
