"""Licence guard: production refuses research-only and unknown models; research configurations may use them."""

from __future__ import annotations

import pytest

from mca_core.model_registry import REGISTRY, License, LicenseError, check_models


def test_commercial_models_pass_in_production() -> None:
    specs = check_models(["chronos2", "timesfm-2.5-200m"], production=True)
    assert [s.license for s in specs] == [License.COMMERCIAL_OK] * 2


def test_research_only_model_fails_in_production_but_not_in_research() -> None:
    assert REGISTRY["moirai-2.0-R-small"].license is License.RESEARCH_ONLY
    with pytest.raises(LicenseError, match="research_only"):
        check_models(["chronos2", "moirai-2.0-R-small"], production=True)
    assert check_models(["moirai-2.0-R-small"], production=False)[0].weights_licence == "CC-BY-NC-4.0"


def test_unknown_or_no_model_fails() -> None:
    with pytest.raises(LicenseError, match="not in the model registry"):
        check_models(["gpt-ts"], production=False)
    with pytest.raises(LicenseError, match="no forecasting model"):
        check_models([], production=True)
