"""``mca_core.clarity``: each rule fires on the wording it names, clear questions score 1, the scorer contract."""

from __future__ import annotations

import json

import polars as pl
import pytest

from mca_core.clarity import AMBIGUOUS_BELOW, REASONS, RuleClarityScorer, clarity_of, rule_clarity, scorer_for

CLEAR_Q = "Will Bitcoin close above $100,000 on Coinbase on December 31, 2026 at 11:59 PM ET?"
CLEAR_D = (
    'This market will resolve to "Yes" if the BTC-USD closing price on Coinbase is above $100,000 on December 31, '
    '2026 at 11:59 PM ET. Otherwise, it will resolve to "No". The resolution source for this market is Coinbase.'
)


def test_a_clear_question_scores_one_with_no_reasons() -> None:
    assert clarity_of(CLEAR_Q, CLEAR_D) == clarity_of(CLEAR_Q, CLEAR_D)
    result = clarity_of(CLEAR_Q, CLEAR_D)
    assert result.score == 1.0
    assert result.reasons == []


@pytest.mark.parametrize(
    ("question", "description", "code"),
    [
        ("Will the Fed cut rates?", "Resolves per the Federal Reserve.", "no_date"),
        ("Will X happen by December 31, 2026?", "Resolves per Reuters.", "no_time"),
        ("Will X happen by December 31, 2026 at 5 PM?", "Resolves per Reuters.", "no_time_zone"),
        ("Will the bill pass soon?", "Resolves per the official Senate record, 2026.", "relative_date"),
        ("Will the bill pass next week?", "Resolves per the official Senate record, 2026.", "relative_date"),
        ("Will X sign by June 1, 2026, 5 PM ET?", "This market resolves Yes if X signs.", "no_resolution_source"),
        ("Will ETH rise significantly by June 1, 2026, 5 PM ET?", "Per Coinbase.", "vague_words"),
        ("Will ETH surge by June 1, 2026, 5 PM ET?", "Per Coinbase.", "vague_words"),
        ("Will the launch be successful by June 1, 2026, 5 PM ET?", "Per Reuters.", "subjective_words"),
        ("Will 'Film' be the most celebrated film by June 1, 2026, 5 PM ET?", "Per Reuters.", "subjective_words"),
        ("Will Smith come out on top in Ohio by June 1, 2026, 5 PM ET?", "Per AP.", "vague_words"),
        ("Will Trump win Ohio and Biden win Texas by June 1, 2026, 5 PM ET?", "Per AP.", "multiple_conditions"),
        ("Will the Fed cut rates if inflation falls by June 1, 2026, 5 PM ET?", "Per FOMC.", "multiple_conditions"),
        ("Will the film win by the end of the season?", "Per the official Academy results.", "relative_date"),
        ("Will X happen by June 1, 2026, 5 PM ET?", None, "no_description"),
    ],
)
def test_each_rule_fires_on_its_wording(question: str, description: str | None, code: str) -> None:
    result = clarity_of(question, description)
    assert code in result.reasons
    assert result.score is not None
    assert result.score <= 1.0 - REASONS[code].penalty + 1e-12
    assert (result.score < AMBIGUOUS_BELOW) == any(REASONS[r].major for r in result.reasons)


@pytest.mark.parametrize(
    "question",
    [
        "Will the Lakers beat the Celtics on or before 2026-05-10 20:42 PT?",  # "or" of a deadline
        "Will BTC be between $90k and $100k on June 1, 2026, 5 PM ET?",  # a range
        "Will Solana be the best-performing coin of October by October 31, 2026, 10 PM ET?",  # measured rank
        "Will Trinidad and Tobago qualify by June 1, 2026, 5 PM ET?",  # a name
    ],
)
def test_standard_phrasings_are_not_penalised(question: str) -> None:
    assert clarity_of(question, "Resolves per the official results published by FIFA.").reasons == []


def test_empty_text_has_no_score_and_its_own_reason() -> None:
    assert clarity_of(None, "  ").score is None
    assert clarity_of(None, None).reasons == ["empty_text"]


def test_the_penalties_multiply() -> None:
    result = clarity_of("Will the bill pass soon?", "Everyone knows.")
    expected = 1.0
    for code in result.reasons:
        expected *= 1.0 - REASONS[code].penalty
    assert result.score == pytest.approx(expected)
    assert {"no_date", "relative_date", "no_resolution_source"} <= set(result.reasons)


def test_only_a_missing_description_stays_above_the_ambiguity_line() -> None:
    assert [code for code, rule in REASONS.items() if not rule.major] == ["no_description"]
    assert 1.0 - REASONS["no_description"].penalty >= AMBIGUOUS_BELOW
    assert all(1.0 - rule.penalty < AMBIGUOUS_BELOW for rule in REASONS.values() if rule.major)
    assert clarity_of("Will X happen by June 1, 2026?", None).reasons == [
        "no_description",
        "no_time",
        "no_resolution_source",
    ]


def test_credible_reporting_is_no_named_source_and_a_name_in_the_question_is_the_subject() -> None:
    vague = clarity_of(
        "Will the Senate pass the Border Act by June 1, 2026, 5 PM ET?",
        'This market will resolve to "Yes" if the Senate passes the Border Act by June 1, 2026, 5 PM ET. '
        "The market will be resolved based on a consensus of credible reporting.",
    )
    assert "no_resolution_source" in vague.reasons
    fed = clarity_of("Will the Federal Reserve cut rates on June 17, 2026, 2 PM ET?", "Resolves Yes if rates are cut.")
    assert "no_resolution_source" in fed.reasons


def test_real_polymarket_markets_in_the_fixtures_read_as_clear(fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for path in sorted(fixtures_dir.rglob("*.json")):
        try:
            payload = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        items = (
            payload
            if isinstance(payload, list)
            else payload.get("markets", [payload])
            if isinstance(payload, dict)
            else []
        )
        for item in items:
            if (
                isinstance(item, dict)
                and isinstance(item.get("question"), str)
                and isinstance(item.get("description"), str)
            ):
                rows.append(
                    (
                        str(item.get("id", len(rows))),
                        item["question"],
                        item["description"],
                        item.get("resolutionSource"),
                    )
                )
    texts = pl.DataFrame(
        rows, schema=["market_id", "question", "description", "resolution_source"], orient="row", strict=False
    )
    texts = texts.unique("market_id")
    if texts.height < 5:
        pytest.skip("fewer than 5 fixture markets with texts")
    scored = RuleClarityScorer().score(texts)
    assert (scored["clarity"] >= AMBIGUOUS_BELOW).mean() >= 0.7


def test_the_scorer_contract() -> None:
    texts = pl.DataFrame({"market_id": ["b", "a"], "question": [CLEAR_Q, None], "description": [CLEAR_D, None]})
    scored = scorer_for("rules").score(texts)
    assert scored.columns == ["market_id", "clarity", "clarity_reasons"]
    assert scored["market_id"].to_list() == ["a", "b"]
    with pytest.raises(ValueError, match="unknown clarity scorer"):
        scorer_for("llm")
    with pytest.raises(ValueError, match="more than once"):
        rule_clarity(pl.concat([texts, texts]))
    with pytest.raises(ValueError, match="lack column"):
        rule_clarity(texts.drop("description"))
