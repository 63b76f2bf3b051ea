"""Trust against the sandbox's truth (issue 14, "Must show"): floors well below the goals, so that a statistical
wobble never fails CI; ``bench/bench_trust.py`` prints the figures on a larger world (docs/trust.md)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from mca_resources.trust_config import DEFAULT_TRUST_CONFIG
from tests import trustworld as tw
from tests.conftest import start_sandbox

DAYS = [date(2026, 8, 1) + timedelta(days=i) for i in range(92)]


@pytest.fixture(scope="module")
def scored() -> tuple[tw.WorldInputs, pl.DataFrame]:
    sandbox = start_sandbox(markets=300, seed=7)
    try:
        world = tw.read_world(sandbox.base)
    finally:
        sandbox.stop()
    return world, tw.score_days(world, DAYS, DEFAULT_TRUST_CONFIG)


def test_low_trust_finds_the_market_days_with_a_manipulation_episode(scored) -> None:  # type: ignore[no-untyped-def]
    world, scores = scored
    auc, positives, negatives = tw.manipulation_auc(world, scores, n_boot=200)
    assert positives >= 30
    assert negatives >= 1000
    assert auc.value >= 0.70  # goal 0.85 (docs/trust.md)
    assert auc.low > 0.5


def test_clarity_rules_find_the_ambiguous_questions(scored) -> None:  # type: ignore[no-untyped-def]
    precision, recall = tw.clarity_precision_recall(scored[0])
    assert precision.value >= 0.6  # goal 0.85 each
    assert recall.value >= 0.6


def test_brier_at_1d_falls_from_the_lowest_to_the_highest_trust_quintile(scored) -> None:  # type: ignore[no-untyped-def]
    world, scores = scored
    quintiles = tw.brier_by_quintile(world, scores)
    assert sum(n for n, _ in quintiles) >= 50
    briers = np.array([b.value for _, b in quintiles])
    assert briers[0] > briers[-1]
    assert briers[:2].mean() > briers[-2:].mean()
    assert np.corrcoef(np.arange(5), briers)[0, 1] < 0


def test_the_scores_of_a_day_do_not_depend_on_the_other_days_scored(scored) -> None:  # type: ignore[no-untyped-def]
    world, scores = scored
    day = DAYS[40]
    alone = tw.score_days(world, [day], DEFAULT_TRUST_CONFIG)
    assert alone.equals(scores.filter(pl.col("dt") == day))
