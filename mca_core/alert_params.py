"""Thresholds of the rule alerts (``mca_core.alerts``), in one typed config with documented defaults.

Defaults are the seed's (``configs/alerts.yaml`` of the Market-Calibration-Agent) where it has one; the rest are
ours and ``docs/alerts.md`` says why. ``MCA_ALERT_RULES`` overrides any of them (``"name=value,name=value"``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Final

__all__ = ["SEVERITIES", "AlertConfig"]

#: Severities from the most to the least urgent; dampening moves one step right.
SEVERITIES: Final = ("HIGH", "MED", "FYI")


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """What makes a band breach an alert, and how loud.

    - gate 1 (band breach): the price is below ``q10`` or above ``q90`` of the band in force at that moment;
    - gate 2 (structure): ``|oi_change| >= oi_change_min`` (the seed only counted drops; pumps and information
      shocks raise open interest, so both signs confirm) or ``volume_velocity >= volume_velocity_min``;
    - gate 3 (clarity): ``clarity >= min_clarity`` (the seed's ``ambiguity <= 0.35`` with clarity = 1 - ambiguity);
    - trust gate: a market whose trust score is below ``min_trust_score`` raises no rule alert;
    - cooldown: an alert of a (market, reason) fires only after ``cooldown_s`` seconds without that condition.
    """

    oi_change_min: float = 0.15
    volume_velocity_min: float = 2.0
    min_clarity: float = 0.65
    min_trust_score: float = 60.0
    cooldown_s: int = 900
    #: The moment in an alert_id is the breach's time floored to this grid (the intraday refresh interval), so the
    #: intraday and the daily paths name the same move alike even when their timestamps differ by seconds.
    bucket_s: int = 300
    #: Structure signals older than this are not used (``core.features`` is hourly).
    structure_max_age_s: int = 7200

    def __post_init__(self) -> None:
        for name in ("oi_change_min", "volume_velocity_min", "min_trust_score"):
            if getattr(self, name) < 0:
                raise ValueError(f"AlertConfig.{name} must be >= 0")
        if not 0.0 <= self.min_clarity <= 1.0:
            raise ValueError("AlertConfig.min_clarity must be in [0, 1]")
        if self.cooldown_s < 0 or self.bucket_s <= 0 or self.structure_max_age_s <= 0:
            raise ValueError("AlertConfig: cooldown_s >= 0, bucket_s > 0 and structure_max_age_s > 0")

    @classmethod
    def from_overrides(cls, text: str) -> AlertConfig:
        """The defaults with ``"name=value,..."`` applied (the ``MCA_ALERT_RULES`` setting); unknown names raise."""
        types = {f.name: f.type for f in fields(cls)}
        changes: dict[str, float | int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in types:
                raise ValueError(f"MCA_ALERT_RULES: {item!r} is not name=value with name among {sorted(types)}")
            changes[name] = int(value) if types[name] == "int" else float(value)
        return replace(cls(), **changes)  # type: ignore[arg-type]
