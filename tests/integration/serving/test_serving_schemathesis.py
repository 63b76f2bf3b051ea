"""schemathesis over every operation of the OpenAPI, in every phase: no 5xx, responses match the schema, data the
schema calls valid is accepted, invalid data rejected.

The app reads the snapshot the real daily graph published for the session's short world (the ``world`` fixture:
the read endpoints answer with data, not 503) and a tollama that is down (the forecaster answers from the
baseline). The rules a JSON schema cannot state (quantiles ascending with at most
four decimals, integers written without a fraction, at least one observed ``y``, covariate lengths, a served
model name, ``model.name`` equal to ``model.model_name`` when both are given) are documented in the schema's
descriptions; positive cases are brought in line with them before the call, so "schema-valid request rejected"
still checks every other field.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from mca_resources.settings import Settings
from mca_serving.app import create_app
from tests.integration.serving.servinglib import token_file

TOKEN = secrets.token_urlsafe(32)
MODELS = ("sandbox-quantile", "mock")
_DIR = Path(tempfile.mkdtemp(prefix="mca-schemathesis-"))
SETTINGS = Settings(
    data_dir=_DIR / "data",
    tollama_url="http://127.0.0.1:9/tollama",  # down: the fuzzer exercises validation and the fallback path
    api_tokens_file=token_file(_DIR / "tokens", f"fuzzer:{TOKEN}\n"),
    environment="sandbox",
    tsfm_models=",".join(MODELS),
    tsfm_rate_per_min=1e9,
    tsfm_rate_burst=1_000_000,
    read_rate_per_min=1e9,
    read_rate_burst=1_000_000,
)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP)


@pytest.fixture(autouse=True, scope="module")
def published(world) -> None:  # type: ignore[no-untyped-def]
    """The graph's snapshot, published into the fuzzed app's data directory before the first call."""
    world.publish(SETTINGS.serving_dir)


def cross_field_valid(body: dict[str, Any]) -> None:
    """Apply the documented cross-field rules to a schema-valid forecast body. JSON Schema calls ``12.0`` an
    integer; the strict decoder, as documented, wants integers written as integers."""
    if isinstance(body.get("horizon_steps"), float):
        body["horizon_steps"] = int(body["horizon_steps"])
    if "quantiles" in body:
        levels = sorted({min(max(round(q, 4), 0.0001), 0.9999) for q in body["quantiles"]})
        body["quantiles"] = levels
    y = body.get("y")
    if isinstance(y, list) and all(v is None for v in y):
        y[-1] = 0.5
    for name, length in (("x_past", len(y or [])), ("x_future", int(body.get("horizon_steps", 12)))):
        for key in body.get(name) or {}:
            body[name][key] = [0.0] * length
    model = body.get("model")
    if isinstance(model, dict):
        for field in ("name", "model_name"):
            if model.get(field) is not None:
                model[field] = MODELS[len(model[field]) % len(MODELS)]
        if model.get("name") is not None and model.get("model_name") is not None:
            model["model_name"] = model["name"]
        if model.get("version") is not None and model.get("model_version") is not None:
            model["model_version"] = model["version"]


def query_cross_field_valid(query: dict[str, Any]) -> None:
    """The documented query rules a schema cannot state: one segment filter at a time (``tag`` and ``category``
    equal when both are given), ``segment`` only with ``segment_type``, ``cursor`` only as the service returned it."""
    query.pop("cursor", None)
    if "tag" in query and "category" in query:
        query["tag"] = query["category"]
    dimensions = [names for names in (("category", "tag"), ("liquidity_bucket",), ("segment_type", "segment"))
                  if any(n in query for n in names)]  # fmt: skip
    for names in dimensions[1:]:
        for name in names:
            query.pop(name, None)
    if "segment" in query and "segment_type" not in query:
        del query["segment"]


def call(case) -> None:  # type: ignore[no-untyped-def]
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict):
        cross_field_valid(case.body)
    if positive and isinstance(case.query, dict):
        query_cross_field_valid(case.query)
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})


@schema.parametrize()
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case) -> None:  # type: ignore[no-untyped-def]
    """The examples, coverage and fuzzing phases, operation by operation."""
    call(case)


class StatefulRun(schema.as_state_machine()):  # type: ignore[misc]
    """The stateful phase: sequences of calls across operations."""

    def before_call(self, case) -> None:  # type: ignore[no-untyped-def]
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        if positive and isinstance(case.body, dict):
            cross_field_valid(case.body)
        if positive and isinstance(case.query, dict):
            query_cross_field_valid(case.query)

    def get_call_kwargs(self, case) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {"headers": {"Authorization": f"Bearer {TOKEN}"}}


TestStateful = StatefulRun.TestCase
TestStateful.settings = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
