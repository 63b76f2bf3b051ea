"""Alerts raised by the platform itself: a failed asset check (``check``; ``drift`` for the drift detectors'
check), a failed run of a watched job (``run``). Pure: the sensor reads the events, these shape the rows.

A failing check opens an alert named by (check, first failing partition); while it keeps failing, later
evaluations update that alert's ``last_seen_ts``; once it passes the alert is closed, and a later failure opens a
new one (a new partition, a new id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from mca_core.alerts import alert_id

__all__ = ["DRIFT_CHECKS", "check_alert", "run_alert"]

#: (asset, check) pairs whose failures are drift triggers (``calib.drift``'s detectors).
DRIFT_CHECKS = frozenset({("calib/drift", "no_drift")})
_SEVERITY = {"ERROR": "HIGH", "WARN": "MED"}


def check_alert(
    *,
    asset: str,
    check: str,
    partition: str | None,
    severity: str,
    metadata: Mapping[str, object],
    ts: datetime,
    opened: Mapping[str, object] | None,
) -> dict[str, object]:
    """The alert row of a failed check evaluation at ``ts``; ``opened`` is the alert still open for this check
    (its ``alert_id``, ``first_seen_ts``), or None when the previous evaluation passed or there was none."""
    source = "drift" if (asset, check) in DRIFT_CHECKS else "check"
    part = partition or "-"
    if opened is None:
        ident, first_seen = alert_id(source, f"{asset}:{check}", severity, part), ts.isoformat()
    else:
        ident, first_seen = str(opened["alert_id"]), str(opened["first_seen_ts"])
    evidence = {"asset": asset, "check": check, "partition": partition, "check_severity": severity,
                "metadata": dict(metadata)}  # fmt: skip
    return {
        "alert_id": ident,
        "ts": first_seen,
        "market_id": None,
        "source": source,
        "severity": _SEVERITY.get(severity, "MED"),
        "reason": f"{source.upper()}_FAILED:{check}",
        "reason_codes": [f"{source.upper()}_FAILED", check],
        "evidence": json.dumps(evidence, sort_keys=True, default=str),
        "message": f"{severity} check {check} of {asset} failed (partition {part})",
        "first_seen_ts": first_seen,
        "last_seen_ts": ts.isoformat(),
    }


def run_alert(*, job: str, run_id: str, partition: str | None, error: str, ts: datetime) -> dict[str, object]:
    """The alert row of a failed run (one per run id)."""
    evidence = {"job": job, "run_id": run_id, "partition": partition, "error": error[:2000]}
    return {
        "alert_id": alert_id("run", job, run_id, partition or "-"),
        "ts": ts.isoformat(),
        "market_id": None,
        "source": "run",
        "severity": "HIGH",
        "reason": f"RUN_FAILED:{job}",
        "reason_codes": ["RUN_FAILED", job],
        "evidence": json.dumps(evidence, sort_keys=True),
        "message": f"run {run_id[:8]} of {job} failed (partition {partition or '-'}): {error[:200]}",
        "first_seen_ts": ts.isoformat(),
        "last_seen_ts": ts.isoformat(),
    }
