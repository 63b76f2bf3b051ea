"""schemathesis against the OpenAPI of the forecast endpoint: no 5xx, responses match the schema, valid data accepted.

The rules a JSON schema cannot state (quantiles in ascending order, at least one observed ``y``, covariate lengths,
a served model name) are documented in the schema's descriptions; positive cases are brought in line with them
before the call, so "schema-valid request rejected" still checks every other field.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from mca_resources.settings import Settings
from mca_serving.app import create_app

TOKEN = secrets.token_urlsafe(32)
MODELS = ("sandbox-quantile", "mock")
_DIR = Path(tempfile.mkdtemp(prefix="mca-schemathesis-"))
(_DIR / "tokens").write_text(f"fuzzer:{TOKEN}\n")
APP = create_app(
    Settings(
        data_dir=_DIR / "data",
        tollama_url="http://127.0.0.1:9/tollama",  # down: the fuzzer exercises validation and the fallback path
        api_tokens_file=_DIR / "tokens",
        environment="sandbox",
        tsfm_models=",".join(MODELS),
        tsfm_rate_per_min=1e9,
        tsfm_rate_burst=1_000_000,
    )
)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP).include(path="/tsfm/forecast")


def cross_field_valid(body: dict[str, Any]) -> None:
    """Apply the documented cross-field rules to a schema-valid body."""
    if "quantiles" in body:
        body["quantiles"] = sorted(body["quantiles"])
    y = body.get("y")
    if isinstance(y, list) and all(v is None for v in y):
        y[-1] = 0.5
    for name, length in (("x_past", len(y or [])), ("x_future", int(body.get("horizon_steps", 12)))):
        for key in body.get(name) or {}:
            body[name][key] = [0.0] * length
    model = body.get("model")
    if isinstance(model, dict) and model.get("name") is not None:
        model["name"] = MODELS[len(model["name"]) % len(MODELS)]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_forecast_endpoint_conforms(case) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive and isinstance(case.body, dict):
        cross_field_valid(case.body)
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
