"""Question texts: clear ones name a dated deadline with a time zone, a source and one condition; ambiguous ones show
their kinds; ambiguous markets end VOID or UNRESOLVED several times more often."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import numpy as np
import pytest

from mca_sandbox.render import catalog
from mca_sandbox.texts import KIND_NAMES
from mca_sandbox.world import LIVE, UNRESOLVED, VOID_5050, VOID_ZERO_ZERO, World, WorldConfig

ZONE = re.compile(r"\b(ET|UTC|PT)\b")
DATE = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, "
                  r"\d{4}\b|\b\d{4}-\d{2}-\d{2}\b")  # fmt: skip
VAGUE = ("major", "significant", "likely", "widely", "soon", "big", "best", "hottest", "dominate", "strong",
         "celebrated", "top", "breakthrough", "remembered", "considered", "warm to", "recognised", "wide margin",
         "lead the market")  # fmt: skip


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(seed=21, markets=4000, start=date(2026, 6, 1), end=date(2026, 10, 31)))


def texts_of(world: World, m: int) -> tuple[str, str, str]:
    return catalog(world).texts.market(m)


def test_about_the_configured_share_of_markets_is_ambiguous(world):
    events = world.event_ambiguity
    assert abs((events > 0).mean() - 0.15) < 0.03
    kinds = Counter(k for m in range(world.n_markets) for k in world.clarity(m)["kinds"])
    assert set(kinds) == set(KIND_NAMES)
    assert World(WorldConfig(seed=21, markets=300, ambiguous_share=0.0)).event_ambiguity.max() == 0


def test_clear_texts_name_a_dated_deadline_with_a_zone_a_source_and_one_condition(world):
    clear = [m for m in range(world.n_markets) if world.clarity(m)["clear"]]
    questions = set()
    for m in clear[:600]:
        question, description, source = texts_of(world, m)
        questions.add(re.sub(r"\d", "#", question))
        assert DATE.search(question), question
        assert ZONE.search(question), question
        assert source.startswith("https://"), question
        assert "published by" in description or " from " in description, description
        assert " and " not in question.split(" by ")[0].replace("Health Care", "")
        assert question.startswith("Will ")
        assert question.endswith("?")
    assert len(questions) > 300  # varied texts, not one template


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_each_ambiguity_kind_shows_in_the_text(world, kind):
    marked = [m for m in range(world.n_markets) if kind in world.clarity(m)["kinds"]]
    assert len(marked) >= 20
    for m in marked[:100]:
        question, description, source = texts_of(world, m)
        if kind == "no_date":
            assert not DATE.search(question), question
            assert " by " not in question.split("?")[0][-40:], question
        elif kind == "no_timezone":
            assert DATE.search(question), question
            assert not ZONE.search(question), question
        elif kind == "relative_date":
            assert not DATE.search(question)
            assert re.search(r"next week|this month|end of the|soon|coming days", question), question
        elif kind == "no_source":
            assert source == "", description
            assert "published by" not in description, description
        elif kind == "vague_wording":
            assert any(word in question for word in VAGUE), question
        else:
            assert " and " in question or " or " in question, question


def test_ambiguous_markets_end_void_or_unresolved_several_times_more_often():
    w = World(WorldConfig(seed=4, markets=30_000, start=date(2026, 1, 1), end=date(2026, 10, 31)))
    closed = w.market_label != LIVE
    ambiguous = w.event_ambiguity[w.market_event] > 0
    bad = np.isin(w.market_label, [VOID_5050, VOID_ZERO_ZERO, UNRESOLVED])
    rate_ambiguous = bad[closed & ambiguous].mean()
    rate_clear = bad[closed & ~ambiguous].mean()
    assert (closed & ambiguous).sum() > 2000
    assert rate_ambiguous > 3.5 * rate_clear
    assert 0.05 < rate_clear < 0.13
