"""Question clarity without a language model: deterministic rules on a market's question and description.

A clear Polymarket market names an explicit deadline (date, time and time zone: "by December 31,
2026, 11:59 PM ET"), a resolution source ("The resolution source for this market will be ...")
and one measurable condition ("This market will resolve to Yes if ..."). Each rule below looks
for one way a text falls short and, when it fires, adds its reason code and multiplies the score
by ``1 - penalty``, so ``clarity = prod(1 - penalty)`` over the rules that fired: in [0, 1], 1 =
nothing found, every rule's effect independent of the others. Rules marked major take the score
to 0.7 or below on their own; the one minor rule (no description) leaves it at 0.85, so
``clarity < AMBIGUOUS_BELOW`` (0.75) holds exactly when at least one major rule fired.

Texts: ``question`` is read whole. Rules that judge wording (vague, subjective, relative time,
compound conditions) read the question and the description's *criteria sentences*: sentences
that contain "resolve", "if", "whether", "determine", "consider", "count", "qualify" or "defined"
(background prose such as "TVL has been rapidly growing" is not a criterion), minus sentences
that define their own terms ("... is defined as ...", "to be considered a launch"). A vague or
subjective word of the question that a definition sentence mentions is taken as defined. Rules
that look for facts (date, time, time zone) read the whole text; a source is a sourcing phrase anywhere, or a
publisher's name inside a description sentence about resolution (a name in the question is the subject, not
the source), once appeals to no one in particular ("credible reporting") are removed. The patterns are in
``mca_core._clarity_rules``.

``RuleClarityScorer`` implements ``ClarityScorer``, the interface an LLM-backed scorer can
implement later; ``scorer_for(name)`` picks one by its configured name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Protocol

import msgspec
import polars as pl

from mca_core import _clarity_rules as rules

__all__ = [
    "AMBIGUOUS_BELOW",
    "CLARITY_COLUMNS",
    "REASONS",
    "RULES_VERSION",
    "SCORER_NAMES",
    "ClarityResult",
    "ClarityRule",
    "ClarityScorer",
    "RuleClarityScorer",
    "clarity_of",
    "rule_clarity",
    "scorer_for",
]

#: Version of the rule set; any change to a pattern or a penalty bumps it.
RULES_VERSION: Final = "clarity-rules-v2"
#: Output columns of every ``ClarityScorer``.
CLARITY_COLUMNS: Final = ("market_id", "clarity", "clarity_reasons")
#: ``clarity`` below this means at least one major reason fired (see the module docstring).
AMBIGUOUS_BELOW: Final = 0.75


class ClarityRule(msgspec.Struct, frozen=True, kw_only=True):
    """One rule: its reason code, the share of clarity it removes, whether it is major, what it checks."""

    code: str
    penalty: float
    major: bool
    checks: str


_RULES: Final = (
    ClarityRule(code="empty_text", penalty=1.0, major=True, checks="question and description both missing or blank"),
    ClarityRule(code="no_question", penalty=0.3, major=True, checks="question missing or blank, description present"),
    ClarityRule(code="no_description", penalty=0.15, major=False, checks="no description: criteria unstated"),
    ClarityRule(code="no_date", penalty=0.3, major=True, checks="no calendar date and no year anywhere"),
    ClarityRule(code="no_time", penalty=0.3, major=True, checks="a calendar date but no time of day"),
    ClarityRule(code="no_time_zone", penalty=0.3, major=True, checks="a time of day but no time zone"),
    ClarityRule(
        code="relative_date",
        penalty=0.3,
        major=True,
        checks="unanchored time ('soon', 'eventually'), or a now-relative date ('next week', 'in 3 days') "
        "with no calendar date in the text",
    ),
    ClarityRule(
        code="no_resolution_source",
        penalty=0.3,
        major=True,
        checks="no named source: no 'resolution source'/'according to'/'official ...'/URL/publisher name, "
        "and no resolution_source field",
    ),
    ClarityRule(
        code="vague_words",
        penalty=0.3,
        major=True,
        checks="vague quantifiers or hedges ('significantly', 'major', 'nearly', 'likely'), or direction words "
        "('surge', 'crash', 'improve') with no number or comparison",
    ),
    ClarityRule(
        code="subjective_words",
        penalty=0.3,
        major=True,
        checks="evaluative words ('successful', 'best', 'popular', 'strong', 'do well')",
    ),
    ClarityRule(
        code="multiple_conditions",
        penalty=0.3,
        major=True,
        checks="'and'/'or' after the question's predicate, 'both'/'either'/'as well as', or a conditional "
        "('if', 'unless') in the question",
    ),
)
#: Every reason code, in output order, with its rule.
REASONS: Final[Mapping[str, ClarityRule]] = {rule.code: rule for rule in _RULES}


class ClarityResult(msgspec.Struct, frozen=True, kw_only=True):
    """Clarity of one market: ``score`` in [0, 1] (1 = clear; None with ``empty_text``) and its reason codes."""

    score: float | None
    reasons: list[str]


class ClarityScorer(Protocol):
    """Scores a frame ``(market_id, question, description[, resolution_source])`` of text columns.

    Returns one row per input row, sorted by ``market_id``: ``market_id`` (String), ``clarity``
    (Float64 in [0, 1], null when there is no text to judge) and ``clarity_reasons``
    (List[String] of codes; a scorer may add its own codes beside those of ``REASONS``). Raises
    ``ValueError`` on a missing column or a repeated ``market_id``.
    """

    @property
    def name(self) -> str:
        """The configuration name of the scorer."""
        ...

    def score(self, texts: pl.DataFrame) -> pl.DataFrame:
        """The clarity frame of ``texts`` (see the class docstring)."""
        ...


def _text(texts: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as stripped text; missing column or null is ``""``."""
    if name not in texts.columns:
        return pl.lit("")
    return pl.col(name).cast(pl.String).fill_null("").str.strip_chars()


def _undefined_hits(frame: pl.DataFrame, pattern: str) -> pl.Series:
    """Whether ``_q`` has a ``pattern`` match that no definition sentence (``_defs``) mentions."""
    hits = (
        frame.select(pl.int_range(pl.len()).alias("_i"), pl.col("_q").str.extract_all(pattern).alias("_hit"), "_defs")
        .explode("_hit")
        .filter(pl.col("_hit").is_not_null() & ~pl.col("_defs").str.contains(pl.col("_hit"), literal=True))
    )
    rows = hits.get_column("_i").unique()
    return pl.zeros(frame.height, dtype=pl.Boolean, eager=True).scatter(rows, True)


def _flags(texts: pl.DataFrame) -> pl.DataFrame:
    """One Boolean column per reason code (and ``market_id``), in input order."""
    sentences = pl.col("_d").str.extract_all(rules.SENTENCE)
    element = pl.element()
    frame = texts.select(
        pl.col("market_id").cast(pl.String),
        _text(texts, "question").alias("_q"),
        _text(texts, "description").alias("_d"),
        _text(texts, "resolution_source").alias("_src"),
    ).with_columns(
        pl.concat_str("_q", "_d", separator="\n").alias("_full"),
        sentences.list.eval(
            element.filter(element.str.contains(rules.CRITERIA_TRIGGER) & ~element.str.contains(rules.DEFINITION))
        )
        .list.join(" ")
        .str.replace_all(rules.NOT_VAGUE, " ")
        .alias("_criteria"),
        sentences.list.eval(element.filter(element.str.contains(rules.DEFINITION))).list.join(" ").alias("_defs"),
        pl.col("_q").str.replace_all(rules.NOT_CONJUNCTION, " ").alias("_q_conj"),
        pl.concat_str("_q", "_d", separator="\n").str.replace_all(rules.NOT_SOURCE, " ").alias("_sourcing"),
        sentences.list.eval(element.filter(element.str.contains(rules.SOURCE_SENTENCE)))
        .list.join(" ")
        .str.replace_all(rules.NOT_SOURCE, " ")
        .alias("_src_sentences"),
    )
    frame = frame.with_columns(pl.col("_q").str.replace_all(rules.NOT_VAGUE, " "))
    criteria, full = pl.col("_criteria"), pl.col("_full")
    judged = pl.concat_str("_q", "_criteria", "_defs", separator="\n")

    def in_criteria(pattern: str) -> pl.Series:
        return frame.select(criteria.str.contains(pattern)).to_series()

    measured = frame.select(judged.str.contains(rules.MEASURE)).to_series()
    frame = frame.with_columns(
        (_undefined_hits(frame, rules.VAGUE) | in_criteria(rules.VAGUE)).alias("_vague"),
        ((_undefined_hits(frame, rules.MOVEMENT) | in_criteria(rules.MOVEMENT)) & ~measured).alias("_movement"),
        (_undefined_hits(frame, rules.SUBJECTIVE) | in_criteria(rules.SUBJECTIVE)).alias("subjective_words"),
    )
    q, d = pl.col("_q").str.len_chars() > 0, pl.col("_d").str.len_chars() > 0
    full_date = full.str.contains(rules.FULL_DATE)
    has_time = full.str.contains(rules.TIME)
    wording = pl.concat_str("_q", "_criteria", separator="\n")
    before_conjunction = pl.col("_q_conj").str.extract(rules.BEFORE_LAST_CONJUNCTION, 1)
    return frame.select(
        "market_id",
        (~q & ~d).alias("empty_text"),
        (~q & d).alias("no_question"),
        (q & ~d).alias("no_description"),
        ~(full_date | full.str.contains(rules.YEAR)).alias("no_date"),
        (full_date & ~has_time).alias("no_time"),
        (has_time & ~full.str.contains(rules.TIME_ZONE)).alias("no_time_zone"),
        (
            wording.str.contains(rules.VAGUE_TIME)
            | (wording.str.contains(rules.RELATIVE_TIME) & ~full.str.contains(rules.FULL_DATE))
        ).alias("relative_date"),
        ~(
            (pl.col("_src").str.len_chars() > 0)
            | pl.col("_sourcing").str.contains(rules.SOURCE_PHRASE)
            | pl.col("_src_sentences").str.contains(rules.SOURCE_NAME)
        ).alias("no_resolution_source"),
        (pl.col("_vague") | pl.col("_movement")).alias("vague_words"),
        "subjective_words",
        (
            pl.col("_q_conj").str.contains(rules.QUESTION_MARKERS)
            | criteria.str.contains(rules.CRITERIA_MARKERS)
            | before_conjunction.str.contains(rules.EVENT_VERB).fill_null(False)
        ).alias("multiple_conditions"),
    )


def rule_clarity(texts: pl.DataFrame) -> pl.DataFrame:
    """The rule-based clarity of every market of ``texts`` (the ``ClarityScorer`` contract).

    ``texts``: ``market_id``, ``question`` and ``description`` (nullable strings), optionally
    ``resolution_source`` (Gamma's ``resolutionSource``; non-blank counts as a named source);
    other columns are ignored. ``clarity = prod(1 - penalty)`` over the fired rules of
    ``REASONS``; ``empty_text`` gives a null clarity (nothing to judge, not "unclear"), alone.
    """
    missing = [name for name in ("market_id", "question", "description") if name not in texts.columns]
    if missing:
        raise ValueError(f"rule_clarity: texts lack column(s) {missing}")
    repeated = texts.filter(pl.col("market_id").is_duplicated())
    if repeated.height:
        raise ValueError(f"rule_clarity: market {repeated.item(0, 'market_id')!r} appears more than once")
    flags = _flags(texts)
    empty = pl.col("empty_text")
    clarity = pl.lit(1.0, dtype=pl.Float64)
    for rule in _RULES[1:]:
        clarity = clarity * pl.when(pl.col(rule.code)).then(1.0 - rule.penalty).otherwise(1.0)
    reasons = pl.concat_list(
        [pl.when(pl.col(rule.code) & (~empty | (rule.code == "empty_text"))).then(pl.lit(rule.code)) for rule in _RULES]
    ).list.drop_nulls()
    return flags.select(
        "market_id",
        pl.when(empty).then(pl.lit(None, dtype=pl.Float64)).otherwise(clarity).alias("clarity"),
        reasons.cast(pl.List(pl.String)).alias("clarity_reasons"),
    ).sort("market_id")


class RuleClarityScorer:
    """The deterministic rule set of this module (configuration name ``"rules"``)."""

    name: Final = "rules"
    version: Final = RULES_VERSION

    def score(self, texts: pl.DataFrame) -> pl.DataFrame:
        """``rule_clarity(texts)``."""
        return rule_clarity(texts)


_SCORERS: Final[dict[str, Callable[[], ClarityScorer]]] = {RuleClarityScorer.name: RuleClarityScorer}
#: Names ``scorer_for`` accepts.
SCORER_NAMES: Final = tuple(_SCORERS)


def scorer_for(name: str) -> ClarityScorer:
    """The clarity scorer configured as ``name``; raises ``ValueError`` naming the known ones."""
    factory = _SCORERS.get(name)
    if factory is None:
        raise ValueError(f"unknown clarity scorer {name!r}; known: {list(SCORER_NAMES)}")
    return factory()


def clarity_of(question: str | None, description: str | None, resolution_source: str | None = None) -> ClarityResult:
    """The rule-based clarity of one market's text (for explanations and tests; frames go to ``rule_clarity``)."""
    frame = pl.DataFrame(
        {
            "market_id": ["_"],
            "question": [question],
            "description": [description],
            "resolution_source": [resolution_source],
        },
        schema={name: pl.String for name in ("market_id", "question", "description", "resolution_source")},
    )
    row = rule_clarity(frame).row(0, named=True)
    return ClarityResult(score=row["clarity"], reasons=list(row["clarity_reasons"]))
