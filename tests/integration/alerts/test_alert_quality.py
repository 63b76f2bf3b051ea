"""HIGH+MED rule alerts of a real daily partition against the sandbox's ground-truth episodes: floors far below
the goals (precision and recall 0.7, docs/alerts.md) so noise never fails CI, and the scores recounted by hand."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from bench.alert_quality_world import TOLERANCE_S, measure
from mca_assets.definitions import build_definitions
from tests.conftest import start_sandbox
from tests.integration.assets.conftest import settings_for
from tests.unit.core.test_alert_quality_scoring import slow_quality

DAY = date(2026, 10, 20)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    box = start_sandbox(markets=600, seed=5, manipulation_rate=4.0)
    settings = settings_for(box, tmp_path_factory.mktemp("data"))
    try:
        with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as instance:
            yield measure(build_definitions(settings), instance, str(settings.warehouse_path), box.base, DAY)
    finally:
        box.stop()


def test_alerts_find_the_price_episodes_above_a_floor(run):
    quality = run.price_episodes
    assert run.inputs["bands"] > 0
    assert run.inputs["trust_rows"] > 0
    assert quality.episodes >= 5
    assert quality.alerts >= 5
    assert quality.precision is not None
    assert quality.precision >= 0.2
    assert quality.recall is not None
    assert quality.recall >= 0.2
    assert quality.median_delay_s is not None
    assert 0 <= quality.median_delay_s <= 6 * 3600


def test_the_scores_are_those_of_the_definition(run):
    alerts = list(run.alerts.select("market_id", "ts").iter_rows())
    episodes = list(run.episodes.select("episode_id", "market_id", "start_ts", "end_ts").iter_rows())
    right, found, median = slow_quality(alerts, episodes, TOLERANCE_S)
    assert (run.all_episodes.alerts_right, run.all_episodes.episodes_found) == (right, found)
    assert run.all_episodes.median_delay_s == median
    assert set(run.by_kind) <= {"pump_and_revert", "wash", "information_shock"}
    assert sum(q.episodes_found for q in run.by_kind.values()) == found
