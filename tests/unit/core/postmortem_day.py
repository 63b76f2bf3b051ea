"""A small synthetic cohort day for the postmortem unit tests: frames shaped like the warehouse's tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from mca_core.cutoffs import HORIZONS
from mca_core.postmortem import DayInputs

DT = date(2026, 9, 10)
RESOLVED = datetime(2026, 9, 10, 12, tzinfo=UTC)
UTC_US = pl.Datetime("us", "UTC")


def _path(market_id: str, hours: int, start_p: float, end_p: float) -> pl.DataFrame:
    ts = [RESOLVED - timedelta(hours=h) for h in range(hours, 0, -1)]
    step = (end_p - start_p) / max(1, hours - 1)
    p = [round(start_p + step * i, 4) for i in range(hours)]
    # a late collapse toward the outcome in the last 6 hours
    p[-6:] = [round(end_p * (1 - k / 6) + (1 - end_p) * 0, 4) for k in range(6)] if end_p > 0.5 else p[-6:]
    return pl.DataFrame({"market_id": market_id, "ts": ts, "p": p}, schema_overrides={"ts": UTC_US})


def day(with_trust: bool = True) -> DayInputs:
    """Market w: confidently wrong (0.9 at 1d, outcome NO); v: high volume, no path; n: VOID; r: right."""
    resolutions = pl.DataFrame(
        {
            "dt": [DT] * 4,
            "market_id": ["w", "v", "n", "r"],
            "event_id": ["e1", "e2", "e3", "e1"],
            "resolved_ts": [RESOLVED] * 4,
            "label": ["RESOLVED_FALSE", "RESOLVED_TRUE", "VOID", "RESOLVED_TRUE"],
            "y": [0, 1, None, 1],
            "category": ["politics", "sports", "sports", "politics"],
            "liquidity_bucket": ["HIGH", "HIGH", "LOW", "MID"],
            "volume_usd": [150_000.0, 900_000.0, 5_000.0, 50_000.0],
        },
        schema_overrides={"resolved_ts": UTC_US, "y": pl.Int8},
    )
    path = pl.concat([_path("w", 200, 0.7, 0.9), _path("r", 200, 0.6, 0.2)])
    rows = []
    for market_id, frame in path.partition_by("market_id", as_dict=True).items():
        for horizon, seconds in HORIZONS.items():
            cutoff = RESOLVED - timedelta(seconds=seconds)
            before = frame.filter(pl.col("ts") <= cutoff)
            if before.height:
                last = before.row(-1, named=True)
                y = 0 if market_id[0] == "w" else 1
                rows.append((DT, market_id[0], horizon, cutoff, last["ts"], last["p"],
                             int((cutoff - last["ts"]).total_seconds()), y))  # fmt: skip
    cutoffs = pl.DataFrame(
        rows, schema={"dt": pl.Date, "market_id": pl.String, "horizon": pl.String, "cutoff_ts": UTC_US,
                      "snapshot_ts": UTC_US, "p_yes": pl.Float64, "staleness_seconds": pl.Int64, "y": pl.Int8},
        orient="row",
    )  # fmt: skip
    markets = pl.DataFrame(
        {"market_id": ["w", "v", "n", "r", "s"], "event_id": ["e1", "e2", "e3", "e1", "e1"],
         "question": ["Will W win?", "Will V score?", "Will N?", "Will R win?", "Will S win?"],
         "neg_risk": [True, False, False, True, True], "p_yes": [0.0, 1.0, 0.5, 1.0, 0.0],
         "label": ["RESOLVED_FALSE", "RESOLVED_TRUE", "VOID", "RESOLVED_TRUE", None]}
    )  # fmt: skip
    scoreboard = pl.DataFrame(
        [(DT, "90d", h, st, seg, 40, 30, 0.1 + i / 100, 0.05, 0.2, 0.4, 0.03, 0.9, 0.1, False)
         for i, h in enumerate(HORIZONS)
         for st, seg in (("all", "all"), ("category", "politics"), ("liquidity_bucket", "HIGH"))],
        schema=["dt", "window", "horizon", "segment_type", "segment", "n", "n_events", "brier", "brier_ci_low",
                "brier_ci_high", "log_loss", "ece", "slope", "intercept", "low_confidence"],
        orient="row",
    )  # fmt: skip
    snapshots = pl.DataFrame(
        {"market_id": "w", "ts": [RESOLVED - timedelta(days=d) for d in (8, 4, 2, 1)],
         "volume_usd": [1000.0, 5000.0, 20000.0, 150000.0], "open_interest_usd": [500.0, 900.0, 3000.0, 2000.0]},
        schema_overrides={"ts": UTC_US},
    )  # fmt: skip
    features = pl.DataFrame(
        {"market_id": "w", "ts": [RESOLVED - timedelta(hours=h) for h in (50, 30, 10)],
         "volume_velocity": [0.5, 2.5, 6.0], "oi_change": [0.1, -0.2, -0.05]},
        schema_overrides={"ts": UTC_US},
    )  # fmt: skip
    trust = alerts = None
    if with_trust:
        trust = pl.DataFrame(
            {"dt": [DT - timedelta(days=d) for d in (3, 2, 1)], "market_id": "w", "trust_score": [72.0, 58.5, 55.0],
             "low_confidence": [False, False, True], "liquidity": [0.8, 0.7, 0.7], "stability": [0.9, 0.6, 0.5],
             "clarity": [0.6, 0.6, 0.6], "manipulation": [0.1, 0.2, 0.9], "time_to_expiry": [1.0, 1.0, 1.0],
             "track_record": [0.5, 0.5, 0.5], "clarity_reasons": [["no_time_zone", "vague_word"]] * 3,
             "weakest_component": ["track_record", "track_record", "manipulation"]}  # as mca_core.trust names them
        )  # fmt: skip
        alerts = pl.DataFrame(
            {"alert_id": ["a1", "a2"], "dt": [DT, DT], "market_id": "w",
             "ts": [RESOLVED - timedelta(hours=20), RESOLVED + timedelta(hours=1)], "source": "rule",
             "severity": ["MED", "HIGH"], "reason_codes": [["BAND_BREACH", "VOLUME_SPIKE"], ["BAND_BREACH"]],
             "evidence": "{}", "message": ["price outside band", "after resolution"]},
            schema_overrides={"ts": UTC_US},
        )  # fmt: skip
    return DayInputs(dt=DT, resolutions=resolutions, cutoffs=cutoffs, markets=markets, path=path,
                     snapshots=snapshots, features=features, scoreboard=scoreboard, bands=None, trust=trust,
                     alerts=alerts)  # fmt: skip
