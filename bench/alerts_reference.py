"""The slow peer of ``mca_core.alerts.evaluate_rules``: pandas ``merge_asof`` for the look-ups, then the seed's gates
row by row (``DataFrame.apply``) and the cooldown in a plain loop, written apart from the Polars code on purpose.

The unit tests compare both on random worlds; ``bench_alerts.py`` times both.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pandas as pd

from mca_core.alert_params import SEVERITIES, AlertConfig


def _utc(series: pd.Series) -> pd.Series:
    out = pd.to_datetime(series)
    return out.dt.tz_localize("UTC") if out.dt.tz is None else out.dt.tz_convert("UTC")


def joined(
    points: pd.DataFrame, bands: pd.DataFrame, structure: pd.DataFrame, trust: pd.DataFrame, config: AlertConfig
) -> pd.DataFrame:
    """Each point with its band, structure and trust as of its moment."""
    pts = points.assign(ts=_utc(points["ts"])).sort_values(["market_id", "ts"], kind="stable")
    pts = pts.drop_duplicates(["market_id", "ts"]).dropna(subset=["p_yes"]).sort_values("ts", kind="stable")
    b = bands.assign(as_of_ts=_utc(bands["as_of_ts"]), ts=_utc(bands["ts"]))
    issues = b[["market_id", "as_of_ts"]].drop_duplicates().sort_values("as_of_ts")
    issues = issues.rename(columns={"as_of_ts": "band_as_of_ts"})
    pts = pd.merge_asof(pts, issues, left_on="ts", right_on="band_as_of_ts", by="market_id", direction="backward")
    steps = b.rename(columns={"as_of_ts": "band_as_of_ts", "ts": "band_ts"}).sort_values("band_ts")
    steps = steps[["market_id", "band_as_of_ts", "band_ts", "q10", "q50", "q90"]]
    with_issue = pts.dropna(subset=["band_as_of_ts"])
    pts = pd.concat(
        [
            pd.merge_asof(
                with_issue, steps, left_on="ts", right_on="band_ts", by=["market_id", "band_as_of_ts"],
                direction="forward",
            ),
            pts[pts["band_as_of_ts"].isna()],
        ]
    ).sort_values("ts", kind="stable")  # fmt: skip
    s = structure.assign(structure_ts=_utc(structure["ts"])).drop(columns="ts").sort_values("structure_ts")
    pts = pd.merge_asof(
        pts, s[["market_id", "structure_ts", "oi_change", "volume_velocity"]], left_on="ts", right_on="structure_ts",
        by="market_id", direction="backward", tolerance=pd.Timedelta(seconds=config.structure_max_age_s),
    )  # fmt: skip
    t = trust.assign(trust_from_ts=_utc(pd.to_datetime(trust["dt"])) + pd.Timedelta(days=1))
    t = t.rename(columns={"dt": "trust_dt"}).sort_values("trust_from_ts")
    cols = ["market_id", "trust_from_ts", "trust_dt", "trust_score", "clarity", "low_confidence"]
    return pd.merge_asof(pts, t[cols], left_on="ts", right_on="trust_from_ts", by="market_id", direction="backward")


def seed_row_gates(row: pd.Series, config: AlertConfig) -> tuple[str, str, list[str], bool] | None:
    """One row: None when it raises nothing, else (severity, reason, reason_codes, dampened)."""
    if pd.isna(row["q10"]) or not (row["p_yes"] < row["q10"] or row["p_yes"] > row["q90"]):
        return None
    trust = row["trust_score"]
    if not pd.isna(trust) and trust < config.min_trust_score:
        return None
    codes = ["BAND_BREACH_UP" if row["p_yes"] > row["q90"] else "BAND_BREACH_DOWN"]
    oi = not pd.isna(row["oi_change"]) and abs(row["oi_change"]) >= config.oi_change_min
    vol = not pd.isna(row["volume_velocity"]) and row["volume_velocity"] >= config.volume_velocity_min
    clear = not pd.isna(row["clarity"]) and row["clarity"] >= config.min_clarity
    codes += [code for code, held in (("OI_CONFIRMATION", oi), ("VOLUME_SPIKE", vol), ("LOW_AMBIGUITY", clear)) if held]
    severity = ("HIGH" if oi and vol else "MED") if (oi or vol) and clear else "FYI"
    low = pd.isna(trust) or pd.isna(row["low_confidence"]) or bool(row["low_confidence"])
    flags = []
    if low and severity != "FYI":
        severity = SEVERITIES[SEVERITIES.index(severity) + 1]
        flags.append("DAMPENED_BY_LOW_CONFIDENCE")
    if pd.isna(trust):
        flags.append("NO_TRUST_SCORE")
    return severity, f"{codes[0]}:{severity}", codes + flags, low


def reference_alerts(
    points: pd.DataFrame,
    bands: pd.DataFrame,
    structure: pd.DataFrame,
    trust: pd.DataFrame,
    config: AlertConfig,
    since: datetime | None = None,
) -> pd.DataFrame:
    """alert_id, ts, market_id, severity, reason, reason_codes, dampened of every alert, by ts."""
    rows = joined(points, bands, structure, trust, config)
    verdicts = rows.apply(lambda r: seed_row_gates(r, config), axis=1)
    last_seen: dict[tuple[str, str], pd.Timestamp] = {}
    out = []
    for (_, row), verdict in zip(rows.iterrows(), verdicts, strict=True):
        if verdict is None:
            continue
        severity, reason, codes, dampened = verdict
        key = (row["market_id"], reason)
        previous = last_seen.get(key)
        last_seen[key] = row["ts"]
        if previous is not None and row["ts"] - previous <= timedelta(seconds=config.cooldown_s):
            continue
        if since is not None and row["ts"] < pd.Timestamp(since):
            continue
        moment = row["ts"].floor(f"{config.bucket_s}s").strftime("%Y-%m-%dT%H:%M:%SZ")
        key_text = f"rule|{row['market_id']}|{reason}|{moment}"
        out.append(
            {
                "alert_id": hashlib.sha256(key_text.encode()).hexdigest()[:24],
                "ts": row["ts"],
                "market_id": row["market_id"],
                "severity": severity,
                "reason": reason,
                "reason_codes": json.dumps(codes),
                "dampened": dampened,
            }
        )
    cols = ["alert_id", "ts", "market_id", "severity", "reason", "reason_codes", "dampened"]
    return pd.DataFrame(out, columns=cols).sort_values(["ts", "market_id", "reason"], kind="stable")
