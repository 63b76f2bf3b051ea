"""The letter grade of a scoreboard row, as the dashboard shows it: the thresholds live here, the page applies them.

A grade says how far forecasts are from calibrated (debiased ECE, else ECE), one letter lower when the Brier score
is no better than always saying the base rate (``brier >= uncertainty``), marked ``?`` when the row is low-confidence.
"""

from __future__ import annotations

import msgspec


class GradeConfig(msgspec.Struct, frozen=True):
    """Upper ECE bound of each letter but the last (A <= 0.02 < B <= 0.05 < C <= 0.10 < D <= 0.20 < F)."""

    ece_bounds: tuple[float, ...] = (0.02, 0.05, 0.10, 0.20)
    letters: str = "ABCDF"
    no_skill_penalty: int = 1  # letters lost when the Brier score does not beat the base rate

    def __post_init__(self) -> None:
        if len(self.letters) != len(self.ece_bounds) + 1 or list(self.ece_bounds) != sorted(self.ece_bounds):
            raise ValueError("grades need one more letter than ascending ECE bounds")


class DashboardConfig(msgspec.Struct, frozen=True):
    """What the page needs besides the API: the grading rule and how often the alert feed polls."""

    grades: GradeConfig = GradeConfig()
    alerts_poll_ms: int = 5000
    alerts_page: int = 100  # alerts the feed keeps (newest first)
