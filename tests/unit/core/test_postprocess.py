"""Post-processing: any finite input becomes a band in [0, 1] with monotone quantiles; each step does its job."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mca_core.conformal import ConformalState, GroupCalibration
from mca_core.postprocess import postprocess

Q3 = [0.1, 0.5, 0.9]


def state(q_hat: float, alpha: float = 0.2) -> ConformalState:
    pooled = GroupCalibration(q_hat=q_hat, n=500, source="pooled")
    low = GroupCalibration(q_hat=1.0, n=300, source="group")
    return ConformalState(alpha=alpha, method="mondrian", fitted_at=datetime(2026, 7, 1, tzinfo=UTC), min_group=50,
                          pooled=pooled, groups={"LOW": low})  # fmt: skip


quantile_sets = st.lists(st.floats(0.01, 0.99), min_size=1, max_size=7, unique=True).map(sorted)


@settings(max_examples=200, deadline=None)
@given(
    quantiles=st.one_of(quantile_sets, st.just(Q3)),
    horizon=st.integers(1, 12),
    data=st.data(),
    transform=st.sampled_from(["none", "logit"]),
    min_width=st.floats(0.0, 0.3),
    extra=st.floats(0.0, 0.7),
    q_hat=st.one_of(st.none(), st.floats(-2.0, 5.0)),
)
def test_any_finite_input_gives_a_monotone_band_inside_unit_interval(
    quantiles, horizon, data, transform, min_width, extra, q_hat
) -> None:
    raw = data.draw(arrays(np.float64, (len(quantiles), horizon), elements=st.floats(-50, 50)))
    conformal = None if q_hat is None else state(q_hat)  # applies to Q3 (alpha 0.2), skipped for other bands
    band = postprocess(raw, quantiles, transform=transform, min_width=min_width, max_width=min(1.0, min_width + extra),
                       conformal=conformal)  # fmt: skip
    assert band.values.shape == (len(quantiles), horizon)
    assert np.all(np.isfinite(band.values))
    assert np.all((band.values >= 0.0) & (band.values <= 1.0))
    assert np.all(np.diff(band.values, axis=0) >= 0.0)
    assert band.conformal_applied == (conformal is not None and quantiles == Q3)


def test_crossing_is_fixed_by_sorting_and_counted() -> None:
    raw = np.array([[0.6, 0.3, 0.2], [0.5, 0.5, 0.5], [0.4, 0.7, 0.8]])  # step 0 crosses
    band = postprocess(raw, Q3)
    assert band.crossing_steps == 1
    assert band.values[:, 0].tolist() == [0.4, 0.5, 0.6]
    assert band.values[:, 1:].tolist() == raw[:, 1:].tolist()
    assert "crossing" in band.warnings[0]


def test_inverse_logit_and_clip() -> None:
    raw = np.array([[-1.0], [0.0], [1.0]])
    band = postprocess(raw, Q3, transform="logit")
    assert band.values[:, 0] == pytest.approx([1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1))])
    clipped = postprocess(np.array([[-0.2], [0.5], [1.3]]), Q3)
    assert clipped.values[:, 0].tolist() == [0.0, 0.5, 1.0]


def test_width_is_clamped_around_the_median() -> None:
    raw = np.array([[0.49, 0.1, 0.5], [0.5, 0.5, 0.5], [0.51, 0.9, 0.5]])  # widths 0.02, 0.8, 0
    band = postprocess(raw, Q3, min_width=0.1, max_width=0.4)
    widths = band.values[2] - band.values[0]
    assert widths == pytest.approx([0.1, 0.4, 0.1])
    assert band.values[1].tolist() == [0.5, 0.5, 0.5]


def test_conformal_scales_the_band_and_uses_the_group() -> None:
    raw = np.array([[0.4], [0.5], [0.6]])
    pooled = postprocess(raw, Q3, conformal=state(0.5))
    assert pooled.conformal_applied
    assert pooled.values[:, 0] == pytest.approx([0.35, 0.5, 0.65])
    low = postprocess(raw, Q3, conformal=state(0.5), group="LOW")
    assert low.values[:, 0] == pytest.approx([0.3, 0.5, 0.7])


def test_conformal_state_for_another_band_is_not_applied() -> None:
    raw = np.array([[0.4], [0.5], [0.6]])
    band = postprocess(raw, [0.05, 0.5, 0.95], conformal=state(0.5))
    assert not band.conformal_applied
    assert band.values[:, 0].tolist() == [0.4, 0.5, 0.6]
    assert "not applied" in band.warnings[0]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(np.array([[np.nan], [0.5], [0.6]]), "finite"), (np.array([[0.5, 0.6]]), "shape")],
)
def test_bad_input_raises(raw, message) -> None:
    with pytest.raises(ValueError, match=message):
        postprocess(raw, Q3)
