"""Rule alerts case by case (each gate, severity, trust gate, dampening, cooldown, as-of reads) and against the
row-wise pandas reference on random worlds."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bench.alerts_reference import reference_alerts
from mca_core.alert_params import AlertConfig
from mca_core.alerts import ALERT_COLUMNS, alert_id, evaluate_rules, hourly_structure

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DAY0 = date(2026, 3, 1)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def band(as_of: datetime | None = None, steps: int = 2, q10: float = 0.4, q90: float = 0.6) -> pl.DataFrame:
    as_of = as_of or minutes(-5)
    return pl.DataFrame(
        {
            "market_id": ["m"] * steps,
            "as_of_ts": [as_of] * steps,
            "ts": [as_of + timedelta(hours=i + 1) for i in range(steps)],
            "q10": [q10] * steps,
            "q50": [(q10 + q90) / 2] * steps,
            "q90": [q90] * steps,
        }
    )


def structure(oi: float | None = 0.2, volume: float | None = 3.0, at: datetime | None = None) -> pl.DataFrame:
    at = at or minutes(-1)
    return pl.DataFrame(
        {"market_id": ["m"], "ts": [at], "oi_change": [oi], "volume_velocity": [volume]},
        schema_overrides={"oi_change": pl.Float64, "volume_velocity": pl.Float64},
    )


def trust(score: float = 80.0, clarity: float | None = 0.9, low: bool = False, dt: date = DAY0) -> pl.DataFrame:
    return pl.DataFrame(
        {"market_id": ["m"], "dt": [dt], "trust_score": [score], "clarity": [clarity], "low_confidence": [low]},
        schema_overrides={"clarity": pl.Float64},
    )


def points(*prices: float, start: float = 0.0, step: float = 5.0) -> pl.DataFrame:
    return pl.DataFrame(
        {"market_id": ["m"] * len(prices), "ts": [minutes(start + i * step) for i in range(len(prices))],
         "p_yes": list(prices)}
    )  # fmt: skip


def run(
    pts: pl.DataFrame | None = None,
    bands: pl.DataFrame | None = None,
    struct: pl.DataFrame | None = None,
    trusts: pl.DataFrame | None = None,
    **config: float,
) -> pl.DataFrame:
    return evaluate_rules(
        points(0.7) if pts is None else pts,
        band() if bands is None else bands,
        structure() if struct is None else struct,
        trust() if trusts is None else trusts,
        AlertConfig(**config),  # type: ignore[arg-type]
    )


def only(alerts: pl.DataFrame) -> dict:
    assert alerts.height == 1, alerts
    return alerts.row(0, named=True)


# gate 1 ----------------------------------------------------------------------------------------------------------


def test_all_gates_and_both_confirmations_is_high() -> None:
    alert = only(run())
    assert alert["severity"] == "HIGH"
    assert alert["reason_codes"] == ["BAND_BREACH_UP", "OI_CONFIRMATION", "VOLUME_SPIKE", "LOW_AMBIGUITY"]
    assert alert["source"] == "rule"
    assert alert["dt"] == T0.date()
    assert alert["ts"] == T0


def test_price_inside_the_band_raises_nothing() -> None:
    assert run(points(0.6, 0.4, 0.5)).is_empty()


def test_breach_below_q10_is_a_down_breach() -> None:
    assert only(run(points(0.3)))["reason_codes"][0] == "BAND_BREACH_DOWN"


def test_a_band_issued_after_the_moment_is_never_used() -> None:
    late = band(as_of=minutes(1))
    assert run(points(0.7), late).is_empty()
    assert only(run(points(0.7, start=2), late))["ts"] == minutes(2)


def test_the_newest_issue_in_force_decides_not_an_older_one() -> None:
    wide = band(as_of=minutes(-5), q10=0.1, q90=0.9)
    narrow = band(as_of=minutes(-60), q10=0.4, q90=0.6)
    assert run(points(0.7), pl.concat([wide, narrow])).is_empty()


def test_a_point_past_the_last_step_of_its_issue_has_no_band() -> None:
    assert run(points(0.7, start=121), band(steps=2)).is_empty()


# gate 2 and 3, severity ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oi", "volume", "severity"),
    [(0.2, 3.0, "HIGH"), (-0.2, 3.0, "HIGH"), (0.2, 0.5, "MED"), (0.0, 3.0, "MED"), (0.1, 1.0, "FYI"),
     (None, None, "FYI")],
)  # fmt: skip
def test_structural_confirmation_sets_the_severity(oi: float | None, volume: float | None, severity: str) -> None:
    assert only(run(struct=structure(oi, volume)))["severity"] == severity


def test_structure_older_than_its_max_age_or_from_after_the_moment_is_not_used() -> None:
    assert only(run(struct=structure(at=minutes(-121))))["severity"] == "FYI"
    assert only(run(struct=structure(at=minutes(-121)), structure_max_age_s=7500))["severity"] == "HIGH"
    assert only(run(struct=structure(at=minutes(1))))["severity"] == "FYI"


@pytest.mark.parametrize(("clarity", "severity"), [(0.65, "HIGH"), (0.64, "FYI"), (None, "FYI")])
def test_clarity_gate(clarity: float | None, severity: str) -> None:
    alert = only(run(trusts=trust(clarity=clarity)))
    assert alert["severity"] == severity
    assert ("LOW_AMBIGUITY" in alert["reason_codes"]) == (severity == "HIGH")


# trust gate and dampening ----------------------------------------------------------------------------------------


def test_trust_below_the_minimum_raises_nothing() -> None:
    assert run(trusts=trust(score=59.9)).is_empty()
    assert only(run(trusts=trust(score=60.0)))["severity"] == "HIGH"
    assert only(run(trusts=trust(score=59.9), min_trust_score=50))["severity"] == "HIGH"


def test_the_trust_of_the_moments_own_day_is_not_yet_in_force() -> None:
    same_day = trust(score=10.0, dt=T0.date())
    assert only(run(trusts=pl.concat([trust(score=80.0), same_day])))["severity"] == "HIGH"
    assert run(trusts=trust(score=10.0, dt=DAY0)).is_empty()


@pytest.mark.parametrize(("oi", "volume", "severity"), [(0.2, 3.0, "MED"), (0.2, 0.0, "FYI"), (0.0, 0.0, "FYI")])
def test_low_confidence_dampens_one_level(oi: float, volume: float, severity: str) -> None:
    alert = only(run(struct=structure(oi, volume), trusts=trust(low=True)))
    assert alert["severity"] == severity
    assert ("DAMPENED_BY_LOW_CONFIDENCE" in alert["reason_codes"]) == (oi > 0)
    assert json.loads(alert["evidence"])["dampened_by_low_confidence"] is True


def test_no_trust_row_fails_the_clarity_gate_and_says_so() -> None:
    alert = only(run(trusts=trust(dt=T0.date())))
    assert alert["severity"] == "FYI"
    assert alert["reason_codes"] == ["BAND_BREACH_UP", "OI_CONFIRMATION", "VOLUME_SPIKE", "NO_TRUST_SCORE"]
    assert json.loads(alert["evidence"])["dampened_by_low_confidence"] is True


# cooldown --------------------------------------------------------------------------------------------------------


def test_a_persistent_breach_is_one_alert() -> None:
    assert run(points(*[0.7] * 12)).height == 1


def test_a_breach_after_more_than_the_cooldown_of_quiet_is_a_new_alert() -> None:
    gap_20 = run(points(0.7, 0.5, 0.5, 0.5, 0.7))  # last breach at 0', next at 20'
    assert gap_20["ts"].to_list() == [minutes(0), minutes(20)]
    assert run(points(0.7, 0.5, 0.5, 0.7)).height == 1  # 15' is not more than the cooldown
    assert run(points(0.7, 0.5, 0.7), cooldown_s=0).height == 2
    assert run(points(*[0.7] * 4), cooldown_s=0).height == 4


def test_cooldown_is_per_reason() -> None:
    pts = points(0.7, 0.7)
    escalation = pl.concat([structure(0.0, 0.0, at=minutes(-1)), structure(0.2, 3.0, at=minutes(4))])
    alerts = run(pts, struct=escalation)
    assert alerts["severity"].to_list() == ["FYI", "HIGH"]
    assert run(points(0.7, 0.3)).height == 2  # up and down are two reasons


def test_points_before_since_only_serve_the_cooldown() -> None:
    pts = points(*[0.7] * 7)  # 0' .. 30'
    cfg = AlertConfig()
    assert evaluate_rules(pts, band(), structure(), trust(), cfg, since=minutes(15)).is_empty()
    tail = pts.filter(pl.col("ts") >= minutes(15))
    assert evaluate_rules(tail, band(), structure(), trust(), cfg, since=minutes(15)).height == 1


# ids, evidence, config -------------------------------------------------------------------------------------------


def test_alert_id_is_deterministic_and_names_the_moment_bucket() -> None:
    first, again = only(run()), only(run())
    assert first["alert_id"] == again["alert_id"] == alert_id("rule", "m", first["reason"], "2026-03-02T10:00:00Z")
    jittered = only(run(points(0.7, start=2.5 / 60)))
    assert jittered["ts"] != first["ts"]
    assert jittered["alert_id"] == first["alert_id"]
    assert only(run(points(0.7, start=5)))["alert_id"] != first["alert_id"]


def test_evidence_has_the_numbers_of_each_gate() -> None:
    evidence = json.loads(only(run())["evidence"])
    assert evidence["band"] == {
        "p_yes": 0.7, "q10": 0.4, "q50": 0.5, "q90": 0.6,
        "band_as_of_ts": "2026-03-02T09:55:00Z", "band_ts": "2026-03-02T10:55:00Z",
    }  # fmt: skip
    assert evidence["structure"]["oi_change"] == 0.2
    assert evidence["structure"]["volume_velocity_min"] == 2.0
    assert evidence["trust"] == {"clarity": 0.9, "min_clarity": 0.65, "trust_score": 80.0, "min_trust_score": 60.0,
                                 "low_confidence": False, "trust_dt": "2026-03-01"}  # fmt: skip
    assert evidence["base_severity"] == "HIGH"
    assert evidence["cooldown_s"] == 900


def test_output_columns_and_empty_input() -> None:
    assert run().columns == list(ALERT_COLUMNS)
    assert run(points(0.5)).columns == list(ALERT_COLUMNS)


def test_config_overrides_and_validation() -> None:
    cfg = AlertConfig.from_overrides("min_trust_score=50, cooldown_s=600")
    assert cfg.min_trust_score == 50.0
    assert cfg.cooldown_s == 600
    assert isinstance(cfg.cooldown_s, int)
    assert AlertConfig.from_overrides("") == AlertConfig()
    with pytest.raises(ValueError, match="name=value"):
        AlertConfig.from_overrides("nope=1")
    with pytest.raises(ValueError, match="min_clarity"):
        AlertConfig(min_clarity=1.5)


# structure signals -----------------------------------------------------------------------------------------------


def test_hourly_structure_against_hand_figures() -> None:
    ts = [T0 + timedelta(hours=h) for h in range(27)]
    volume = [100.0 * h for h in range(26)] + [100.0 * 25 + 500.0]  # 100/h, then 500 in the last hour
    oi = [1000.0] * 26 + [1300.0]
    frame = hourly_structure(pl.DataFrame({"market_id": "m", "ts": ts, "volume_usd": volume, "open_interest_usd": oi}))
    last = frame.row(-1, named=True)
    assert last["volume_velocity"] == pytest.approx(4.0)
    assert last["oi_change"] == pytest.approx(0.3)
    assert frame["volume_velocity"][25] == pytest.approx(0.0)
    assert frame["volume_velocity"][:25].null_count() == 25  # the hour and the 24 h before it are not covered yet


# against the reference -------------------------------------------------------------------------------------------


def random_world(seed: int, markets: int = 30, hours: int = 30) -> tuple[pl.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    n = hours * 12
    ids = [f"m{i}" for i in range(markets)]
    grid = [T0 + timedelta(minutes=5 * k) for k in range(n)]
    p = np.clip(0.5 + np.cumsum(rng.normal(0, 0.02, (markets, n)), axis=1), 0.01, 0.99)
    pts = pl.DataFrame({"market_id": np.repeat(ids, n), "ts": grid * markets, "p_yes": p.ravel()})
    issues = grid[::3]  # a refresh every 15 minutes, six hourly steps each
    rows = []
    for i, market in enumerate(ids):
        for k, as_of in enumerate(issues):
            level = p[i, max(3 * k - 1, 0)]
            width = rng.uniform(0.02, 0.1)
            for step in range(1, 7):
                rows.append((market, as_of, as_of + timedelta(hours=step), level - width, level, level + width))
    bands = pl.DataFrame(rows, schema=["market_id", "as_of_ts", "ts", "q10", "q50", "q90"], orient="row")
    hourly = [T0 + timedelta(minutes=int(m)) for m in range(0, hours * 60, 60)]
    size = markets * len(hourly)
    struct = pl.DataFrame(
        {
            "market_id": np.repeat(ids, len(hourly)),
            "ts": hourly * markets,
            "oi_change": rng.normal(0, 0.15, size),
            "volume_velocity": np.where(rng.random(size) < 0.1, np.nan, rng.exponential(1.5, size)),
        }
    )  # fmt: skip
    days = [DAY0, DAY0 + timedelta(days=1)]
    trusts = pl.DataFrame(
        {
            "market_id": np.repeat(ids, 2),
            "dt": days * markets,
            "trust_score": rng.uniform(40, 100, 2 * markets),
            "clarity": np.where(rng.random(2 * markets) < 0.1, np.nan, rng.uniform(0.4, 1.0, 2 * markets)),
            "low_confidence": rng.random(2 * markets) < 0.3,
        }
    ).with_columns(pl.col("clarity").fill_nan(None))
    return (
        pts,
        bands,
        struct.with_columns(pl.col("volume_velocity").fill_nan(None)),
        trusts.filter(
            pl.col("market_id") != "m0"  # one market without any trust row
        ),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_the_row_wise_reference(seed: int) -> None:
    pts, bands, struct, trusts = random_world(seed)
    since = T0 + timedelta(hours=3)
    ours = evaluate_rules(pts, bands, struct, trusts, since=since)
    ref = reference_alerts(pts.to_pandas(), bands.to_pandas(), struct.to_pandas(), trusts.to_pandas(), AlertConfig(),
                           since=since)  # fmt: skip
    assert ours.height > 20
    assert set(ours["severity"]) == {"HIGH", "MED", "FYI"}
    assert ours["alert_id"].to_list() == ref["alert_id"].tolist()
    assert ours["severity"].to_list() == ref["severity"].tolist()
    assert [json.dumps(c) for c in ours["reason_codes"].to_list()] == ref["reason_codes"].tolist()
