"""``mca_core.trust``: bounds, monotonicity, missing inputs, no look-ahead, and agreement with a slow reference."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import msgspec
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_core.trust import COMPONENTS, TRUST_COLUMNS, segment_records, trust_scores
from mca_core.trust_params import LOW_CONFIDENCE_REASONS
from mca_resources.trust_config import DEFAULT_TRUST_CONFIG, load_trust_config
from tests.trust_reference import Point, reference_trust

AS_OF = datetime(2026, 10, 2, tzinfo=UTC)
CONFIG = DEFAULT_TRUST_CONFIG
MARKET_COLUMNS = ("market_id", "category", "liquidity_bucket", "volume_24h", "liquidity_usd", "spread", "end_ts")


def _world(seed: int, markets: int = 12) -> tuple[list[dict], dict[str, list[Point]], dict, dict]:
    """Random markets with paths that contain flat stretches, pumps, volume bursts and gaps in volume/OI."""
    rng = random.Random(seed)
    rows, paths, clarity, records = [], {}, {}, {}
    for k in range(markets):
        market_id = f"m{k:03d}"
        rows.append(
            {
                "market_id": market_id,
                "category": rng.choice(["politics", "sports"]),
                "liquidity_bucket": rng.choice(["LOW", "MID", "HIGH"]),
                "volume_24h": rng.choice([None, 0.0, rng.uniform(0, 2e6)]),
                "liquidity_usd": rng.choice([None, rng.uniform(0, 2e5)]),
                "spread": rng.choice([None, rng.uniform(0, 0.2)]),
                "end_ts": rng.choice([None, AS_OF + timedelta(hours=rng.uniform(-5, 200))]),
            }
        )
        n = rng.choice([0, 2, 5, 6, 24, 30])
        p, volume, oi = rng.uniform(0.02, 0.98), rng.uniform(0, 1e4), rng.uniform(0, 5e3)
        with_volume, with_oi = rng.random() < 0.8, rng.random() < 0.8
        jump_rate, noise = rng.choice([0.0, 0.02, 0.1]), rng.choice([0.002, 0.01, 0.03])
        points = []
        for i in range(n):
            if rng.random() < jump_rate:
                p = min(max(p + rng.choice([-1, 1]) * rng.uniform(0.03, 0.15), 0.0), 1.0)
            elif rng.random() < 0.7:
                p = min(max(p + rng.gauss(0, noise), 0.0), 1.0)
            volume += rng.choice([0.0, rng.uniform(0, 200), rng.uniform(0, 5000)])
            oi = max(oi + rng.gauss(0, 300), 0.0)
            ts = AS_OF - timedelta(hours=n - 1 - i) - timedelta(hours=30 if rng.random() < 0.05 else 0)
            points.append(Point(ts, round(p, 3), volume if with_volume else None, oi if with_oi else None))
        paths[market_id] = list({pt.ts: pt for pt in points}.values())
        clarity[market_id] = rng.choice([None, rng.random(), 1.0])
    for category in ("politics",):
        for bucket in ("LOW", "MID"):
            records[(category, bucket)] = (rng.randint(0, 200), rng.uniform(0, 0.4))
    return rows, paths, clarity, records


def _frames(rows: list[dict], paths: dict, clarity: dict, records: dict) -> tuple[pl.DataFrame, ...]:
    markets = pl.DataFrame(
        rows, schema={c: (pl.Datetime("us", "UTC") if c == "end_ts" else None) for c in MARKET_COLUMNS}
    )
    markets = markets.with_columns(pl.col(c).cast(pl.Float64) for c in ("volume_24h", "liquidity_usd", "spread"))
    hourly = pl.DataFrame(
        [(m, pt.ts, pt.p, pt.volume, pt.oi) for m, pts in paths.items() for pt in pts],
        schema={
            "market_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "p_yes": pl.Float64,
            "volume_usd": pl.Float64,
            "open_interest_usd": pl.Float64,
        },
        orient="row",
    )
    clarity_frame = pl.DataFrame(
        {"market_id": list(clarity), "clarity": list(clarity.values()), "clarity_reasons": [[] for _ in clarity]},
        schema={"market_id": pl.String, "clarity": pl.Float64, "clarity_reasons": pl.List(pl.String)},
    )
    record = pl.DataFrame(
        [(c, b, n, brier) for (c, b), (n, brier) in records.items()],
        schema={"category": pl.String, "liquidity_bucket": pl.String, "n": pl.Int64, "brier": pl.Float64},
        orient="row",
    )
    return markets, hourly, clarity_frame, record


def _score(rows: list[dict], paths: dict, clarity: dict, records: dict, config=CONFIG) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return trust_scores(*_frames(rows, paths, clarity, records), AS_OF, config)


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_score_equals_the_slow_reference(seed: int) -> None:
    rows, paths, clarity, records = _world(seed)
    scored = {r["market_id"]: r for r in _score(rows, paths, clarity, records).iter_rows(named=True)}
    assert list(scored) == sorted(r["market_id"] for r in rows)
    for row in rows:
        expected = reference_trust(
            row,
            paths[row["market_id"]],
            clarity[row["market_id"]],
            records.get((row["category"], row["liquidity_bucket"])),
            AS_OF,
            CONFIG,
        )
        got = scored[row["market_id"]]
        for name, value in expected.items():
            if isinstance(value, float):
                assert got[name] == pytest.approx(value, abs=1e-9), (row["market_id"], name)
            else:
                assert got[name] == value, (row["market_id"], name)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_score_and_components_are_bounded(seed: int) -> None:
    scored = _score(*_world(seed, markets=6))
    assert scored.columns == list(TRUST_COLUMNS)
    assert scored["trust_score"].is_between(0.0, 100.0).all()
    for name in COMPONENTS:
        assert scored[name].is_between(0.0, 1.0).all(), name
        assert scored[name].null_count() == 0


def _pairs(seed: int) -> tuple[list[dict], dict, dict, dict]:
    return _world(seed, markets=6)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(1.0, 1e7), st.floats(1.0, 1e6), st.floats(0.0, 0.2))
def test_more_liquidity_never_lowers_the_score(
    seed: int, extra_volume: float, extra_depth: float, tighter: float
) -> None:
    rows, paths, clarity, records = _pairs(seed)
    richer = [
        dict(
            r,
            volume_24h=(r["volume_24h"] or 0.0) + extra_volume,
            liquidity_usd=(r["liquidity_usd"] or 0.0) + extra_depth,
            spread=max((r["spread"] if r["spread"] is not None else 0.2) - tighter, 0.0),
        )
        for r in rows
        if r["volume_24h"] is not None and r["liquidity_usd"] is not None and r["spread"] is not None
    ]
    kept = {r["market_id"] for r in richer}
    base = _score([r for r in rows if r["market_id"] in kept], paths, clarity, records)
    more = _score(richer, paths, clarity, records)
    assert (more["liquidity"] >= base["liquidity"] - 1e-12).all()
    assert (more["trust_score"] >= base["trust_score"] - 1e-9).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_a_clearer_question_never_lowers_the_score(seed: int, gain: float) -> None:
    rows, paths, clarity, records = _pairs(seed)
    known = {m: c for m, c in clarity.items() if c is not None}
    clearer = {m: min(c + gain, 1.0) for m, c in known.items()}
    kept = [r for r in rows if r["market_id"] in known]
    base, more = _score(kept, paths, known, records), _score(kept, paths, clearer, records)
    assert (more["trust_score"] >= base["trust_score"] - 1e-9).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.4))
def test_a_better_segment_record_never_lowers_the_score(seed: int, improvement: float) -> None:
    rows, paths, clarity, records = _pairs(seed)
    better = {key: (n, max(brier - improvement, 0.0)) for key, (n, brier) in records.items()}
    base, more = _score(rows, paths, clarity, records), _score(rows, paths, clarity, better)
    assert (more["track_record"] >= base["track_record"] - 1e-12).all()
    assert (more["trust_score"] >= base["trust_score"] - 1e-9).all()


def test_missing_inputs_give_reasons_and_neutral_components_never_silent() -> None:
    rows = [{c: None for c in MARKET_COLUMNS} | {"market_id": "bare", "category": "x", "liquidity_bucket": "LOW"}]
    scored = _score(rows, {"bare": []}, {"bare": None}, {}).row(0, named=True)
    assert scored["low_confidence"] is True
    assert scored["low_confidence_reasons"] == [
        "no_path",
        "no_volume",
        "no_liquidity",
        "no_spread",
        "no_end_date",
        "no_text",
        "no_segment_record",
    ]
    for name in ("stability", "clarity", "manipulation", "time_to_expiry", "track_record"):
        assert scored[name] == CONFIG.neutral
    assert set(scored["low_confidence_reasons"]) <= set(LOW_CONFIDENCE_REASONS)


def test_a_thin_segment_record_is_listed_but_not_low_confidence_by_default() -> None:
    rows, _paths, _clarity, _ = _world(3, markets=1)
    row = dict(rows[0], volume_24h=1e4, liquidity_usd=1e3, spread=0.02, end_ts=AS_OF + timedelta(days=9))
    full = {row["market_id"]: [Point(AS_OF - timedelta(hours=i), 0.5, 100.0 * (30 - i), 50.0) for i in range(24)]}
    records = {(row["category"], row["liquidity_bucket"]): (3, 0.1)}
    scored = _score([row], full, {row["market_id"]: 1.0}, records).row(0, named=True)
    assert scored["low_confidence_reasons"] == ["few_segment_forecasts"]
    assert scored["low_confidence"] is False
    # shrunk toward neutral by 3 / (3 + 50)
    assert scored["track_record"] == pytest.approx(0.5 + 3 / 53 * (1 - 0.1 / 0.25 - 0.5))


def test_points_after_as_of_are_ignored() -> None:
    rows, paths, clarity, records = _world(5)
    later = {
        m: pts + [Point(AS_OF + timedelta(hours=k + 1), 1.0 if k % 2 else 0.0, 9e9, 9e9) for k in range(6)]
        for m, pts in paths.items()
    }
    assert _score(rows, later, clarity, records).equals(_score(rows, paths, clarity, records))


def test_a_pump_that_reverts_is_suspect_and_a_flat_path_is_not() -> None:
    end = AS_OF + timedelta(days=10)
    rows = [
        {
            "market_id": m,
            "category": "x",
            "liquidity_bucket": "MID",
            "volume_24h": 5e4,
            "liquidity_usd": 1e4,
            "spread": 0.01,
            "end_ts": end,
        }
        for m in ("flat", "pump")
    ]
    flat = [Point(AS_OF - timedelta(hours=23 - i), 0.40, 1000.0 * i, 800.0) for i in range(24)]
    shape = [0.0] * 10 + [0.04, 0.08, 0.12, 0.08, 0.04] + [0.0] * 9
    burst = [0.0] * 10 + [4000.0] * 5 + [0.0] * 9
    volume, pump = 0.0, []
    for i in range(24):
        volume += 1000.0 + burst[i]
        pump.append(Point(AS_OF - timedelta(hours=23 - i), 0.40 + shape[i], volume, 800.0 + 10 * burst[i] / 40))
    scored = {
        r["market_id"]: r
        for r in _score(rows, {"flat": flat, "pump": pump}, {"flat": 1.0, "pump": 1.0}, {}).iter_rows(named=True)
    }
    assert scored["flat"]["manipulation"] == 0.0
    assert scored["flat"]["manipulation_signal"] is None
    assert scored["pump"]["manipulation"] > 0.8
    assert scored["pump"]["trust_score"] < scored["flat"]["trust_score"] - 20


def test_bad_inputs_are_refused_with_the_market() -> None:
    rows, paths, clarity, records = _world(1, markets=3)
    markets, hourly, clarity_frame, record = _frames(rows, paths, clarity, records)
    with pytest.raises(ValueError, match="appears twice in markets"):
        trust_scores(pl.concat([markets, markets.head(1)]), hourly, clarity_frame, record, AS_OF, CONFIG)
    bad = hourly.head(1).with_columns(pl.lit(1.5).alias("p_yes"), pl.lit(AS_OF).alias("ts"))
    with pytest.raises(ValueError, match=r"p_yes in \[0, 1\]"):
        trust_scores(markets, bad, clarity_frame, record, AS_OF, CONFIG)
    with pytest.raises(ValueError, match="timezone-aware"):
        trust_scores(markets, hourly, clarity_frame, record, AS_OF.replace(tzinfo=None), CONFIG)


def test_segment_records_brier_by_category_and_bucket() -> None:
    resolved = pl.DataFrame(
        {
            "category": ["a", "a", "b"],
            "liquidity_bucket": ["LOW", "LOW", "LOW"],
            "p_yes": [0.9, 0.2, 0.5],
            "y": [1, 1, 0],
        }
    )
    got = segment_records(resolved).rows()
    assert got == [("a", "LOW", 2, pytest.approx((0.01 + 0.64) / 2)), ("b", "LOW", 1, pytest.approx(0.25))]


def test_config_file_overrides_defaults_and_is_validated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    override = tmp_path / "trust.toml"
    override.write_text('formula_version = "trust-v1-test"\n[weights]\nliquidity = 0.35\nstability = 0.05\n')
    config = load_trust_config(override)
    assert config.formula_version == "trust-v1-test"
    assert config.weights.liquidity == 0.35
    assert config.weights.clarity == CONFIG.weights.clarity
    assert config.manipulation == CONFIG.manipulation
    assert load_trust_config(None) is DEFAULT_TRUST_CONFIG
    broken = tmp_path / "broken.json"
    broken.write_text(msgspec.json.encode({"weights": {"liquidity": 0.9}}).decode())
    with pytest.raises(ValueError, match="must sum to 1"):
        load_trust_config(broken)
    typo = tmp_path / "typo.json"
    typo.write_text('{"wieghts": {}}')
    with pytest.raises(ValueError, match="wieghts"):
        load_trust_config(typo)
