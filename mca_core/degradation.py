"""Degradation modes of the forecaster, driven by the recent upstream failure rate, with hysteresis.

``normal`` calls the model with its retry; ``degraded`` calls it once, without retry, and prefers a stale cached
answer; ``baseline_only`` does not call it at all. The mode rises as soon as the failure rate over the last
``window_s`` reaches ``enter_degraded`` / ``enter_baseline_only`` (given ``min_samples`` outcomes) and falls one
level at a time, only once the rate is below the lower exit threshold, so a rate hovering at a threshold does
not flap. Outcomes age out of the window; with fewer than ``min_samples`` left (e.g. nothing is sent while
baseline-only) the mode steps down one level per window, which is how a recovered upstream gets tried again.

Outcomes carry their source (the client identity). With ``min_sources = k`` the failure rate leaves out the
``k - 1`` sources with the most failures in the window, so the mode only moves when failures are shared by at
least ``k`` clients: one client whose own requests fail cannot degrade the others.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter

__all__ = ["DegradationMonitor", "DegradationPolicy", "Mode"]


class Mode(StrEnum):
    NORMAL = "normal"
    DEGRADED = "degraded"
    BASELINE_ONLY = "baseline_only"

    @property
    def level(self) -> int:
        return {"normal": 0, "degraded": 1, "baseline_only": 2}[self.value]


@dataclass(frozen=True)
class DegradationPolicy:
    """Thresholds on the failure rate (the seed's: enter 30 % / 70 %, exit 15 % / 25 %)."""

    window_s: float = 300.0
    min_samples: int = 5
    enter_degraded: float = 0.30
    enter_baseline_only: float = 0.70
    exit_degraded: float = 0.15
    exit_baseline_only: float = 0.25
    max_samples: int = 10_000
    min_sources: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.exit_degraded < self.enter_degraded <= 1.0:
            raise ValueError("need 0 <= exit_degraded < enter_degraded <= 1")
        if not 0.0 <= self.exit_baseline_only < self.enter_baseline_only <= 1.0:
            raise ValueError("need 0 <= exit_baseline_only < enter_baseline_only <= 1")
        if self.window_s <= 0 or self.min_samples < 1 or self.max_samples < self.min_samples:
            raise ValueError("need window_s > 0 and 1 <= min_samples <= max_samples")
        if self.min_sources < 1:
            raise ValueError("need min_sources >= 1")


class DegradationMonitor:
    """Sliding window of upstream outcomes and the current mode (call :meth:`mode` to read it)."""

    def __init__(self, policy: DegradationPolicy | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or DegradationPolicy()
        self._clock = clock
        self._outcomes: deque[tuple[float, bool, str]] = deque(maxlen=self.policy.max_samples)
        self._counts: dict[str, list[int]] = {}  # source -> [outcomes, failures] in the window
        self._failures = 0
        self._mode = Mode.NORMAL
        self._since = clock()

    def record(self, ok: bool, source: str = "") -> Mode:
        """Add one upstream outcome (of a call made for ``source``) and return the mode it leads to."""
        now = self._clock()
        if len(self._outcomes) == self._outcomes.maxlen:
            self._forget(self._outcomes.popleft())
        self._outcomes.append((now, ok, source))
        counts = self._counts.setdefault(source, [0, 0])
        counts[0] += 1
        counts[1] += 0 if ok else 1
        self._failures += 0 if ok else 1
        return self._update(now)

    def failure_rate(self) -> tuple[float, int]:
        """(failure rate, samples) over the current window, leaving out the ``min_sources - 1`` sources with the
        most failures; the rate is 0 with no samples."""
        self._expire(self._clock())
        return self._rate()

    def mode(self) -> Mode:
        return self._update(self._clock())

    def _forget(self, outcome: tuple[float, bool, str]) -> None:
        _, ok, source = outcome
        counts = self._counts[source]
        counts[0] -= 1
        counts[1] -= 0 if ok else 1
        self._failures -= 0 if ok else 1
        if counts[0] == 0:
            del self._counts[source]

    def _expire(self, now: float) -> None:
        cutoff = now - self.policy.window_s
        while self._outcomes and self._outcomes[0][0] < cutoff:
            self._forget(self._outcomes.popleft())

    def _rate(self) -> tuple[float, int]:
        n, failures = len(self._outcomes), self._failures
        if self.policy.min_sources > 1:
            for left_out in heapq.nlargest(self.policy.min_sources - 1, self._counts.values(), key=itemgetter(1)):
                n, failures = n - left_out[0], failures - left_out[1]
        return (failures / n if n else 0.0), n

    def _update(self, now: float) -> Mode:
        self._expire(now)
        if self._failures == 0 and self._mode is Mode.NORMAL:  # nothing can move it: skip the rate
            return self._mode
        p = self.policy
        rate, n = self._rate()
        if n < p.min_samples:
            # too little evidence: step down one level per quiet window
            if self._mode is not Mode.NORMAL and now - self._since >= p.window_s:
                self._set(Mode.DEGRADED if self._mode is Mode.BASELINE_ONLY else Mode.NORMAL, now)
            return self._mode
        if rate >= p.enter_baseline_only:
            self._set(Mode.BASELINE_ONLY, now)
        elif (self._mode is Mode.NORMAL and rate >= p.enter_degraded) or (
            self._mode is Mode.BASELINE_ONLY and rate < p.exit_baseline_only
        ):
            self._set(Mode.DEGRADED, now)
        elif self._mode is Mode.DEGRADED and rate < p.exit_degraded:
            self._set(Mode.NORMAL, now)
        return self._mode

    def _set(self, mode: Mode, now: float) -> None:
        if mode is not self._mode:
            self._mode = mode
            self._since = now
