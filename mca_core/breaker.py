"""A circuit breaker for one upstream: closed, open, and half-open with a single probe.

Why hand-written: the async libraries either let every concurrent request through while half-open or read the
wall clock; this one admits exactly one probe and takes an injectable monotonic clock, so tests drive time.

``allow()`` asks before a call; the caller then reports ``record_success()`` or ``record_failure()``. A result
that arrives for a call admitted before the breaker opened is ignored while open (it says nothing new).
``consecutive`` failures while closed open the breaker; after ``reset_timeout_s`` the next ``allow()`` becomes
the single half-open probe: its success closes the breaker, its failure opens it again for another timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def gauge(self) -> int:
        """0 closed, 1 half-open, 2 open: the ``tsfm_circuit_state`` convention."""
        return {"closed": 0, "half_open": 1, "open": 2}[self.value]


Listener = Callable[[BreakerState, BreakerState], None]


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; one probe after ``reset_timeout_s``."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: Listener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_timeout_s < 0:
            raise ValueError(f"reset_timeout_s must be >= 0, got {reset_timeout_s}")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        return self._state

    def retry_in(self) -> float:
        """Seconds until an open breaker admits its probe (0 when not open)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go upstream now? While half-open only the single probe is admitted."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.reset_timeout_s:
                return False
            self._move(BreakerState.HALF_OPEN)
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._probe_in_flight = False
            self._failures = 0
            self._move(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED:
            self._failures = 0

    def record_failure(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._probe_in_flight = False
            self._open()
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._move(BreakerState.OPEN)

    def _move(self, to: BreakerState) -> None:
        before, self._state = self._state, to
        if before is not to and self._on_transition is not None:
            self._on_transition(before, to)
