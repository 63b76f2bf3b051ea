"""A circuit breaker for one upstream: closed, open, and half-open with a single probe.

Why hand-written: the async libraries either let every concurrent request through while half-open or read the
wall clock; this one admits exactly one probe and takes an injectable monotonic clock, so tests drive time.

``allow()`` asks before a call; the caller then reports ``record_success()`` or ``record_failure()``. A result
that arrives for a call admitted before the breaker opened is ignored while open (it says nothing new).
``consecutive`` failures while closed open the breaker; after ``reset_timeout_s`` the next ``allow()`` becomes
the single half-open probe: its success closes the breaker, its failure opens it again for another timeout.

A breaker shared by many clients can require the failures to come from ``min_sources`` distinct sources (client
identities): no source then counts for more than ``ceil(failure_threshold / min_sources)`` of the consecutive
failures that open it, so one client whose own requests fail (a slow model asked for too much) cannot send
everybody else to the fallback. `IdentityBreakers` pairs such a shared breaker with one breaker per identity:
the failing identity is cut off on its own, the others only when the failures are corroborated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker", "IdentityBreakers"]


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
    """Opens after ``failure_threshold`` consecutive failures from at least ``min_sources`` distinct sources;
    one probe after ``reset_timeout_s``."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        *,
        min_sources: int = 1,
        clock: Callable[[], float] = time.monotonic,
        on_transition: Listener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_timeout_s < 0:
            raise ValueError(f"reset_timeout_s must be >= 0, got {reset_timeout_s}")
        if min_sources < 1:
            raise ValueError(f"min_sources must be >= 1, got {min_sources}")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.min_sources = min_sources
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._per_source_cap = -(-failure_threshold // min_sources)  # ceil
        self._failures = 0  # consecutive, each source counted at most _per_source_cap times
        self._by_source: dict[str, int] = {}
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

    def would_allow(self) -> bool:
        """What `allow` would answer now, without taking the half-open probe."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at < self.reset_timeout_s:
            return False
        return not self._probe_in_flight

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
            self._move(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED:
            self._failures = 0
            self._by_source.clear()

    def record_failure(self, source: str = "") -> None:
        """One failed call, by ``source`` (the client it was made for)."""
        if self._state is BreakerState.HALF_OPEN:
            self._probe_in_flight = False
            self._open()
        elif self._state is BreakerState.CLOSED:
            counted = self._by_source.get(source, 0)
            if counted < self._per_source_cap:
                self._by_source[source] = counted + 1
                self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._by_source.clear()
        self._move(BreakerState.OPEN)

    def _move(self, to: BreakerState) -> None:
        before, self._state = self._state, to
        if before is not to and self._on_transition is not None:
            self._on_transition(before, to)


class IdentityBreakers:
    """The breakers of one scope (an upstream and a model): a shared one that needs failures from
    ``min_identities`` identities to open, and one per identity, opened by that identity's own failures.

    A call goes upstream only when both the shared breaker and the caller's own admit it. An identity whose
    requests keep failing is cut off alone; the shared breaker opens for everybody only when other identities
    corroborate the failures (the upstream failing for all). ``on_transition`` hears the shared breaker's moves,
    ``on_identity_open`` each time an identity's own breaker opens.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        *,
        min_identities: int = 2,
        clock: Callable[[], float] = time.monotonic,
        on_transition: Listener | None = None,
        on_identity_open: Callable[[], None] | None = None,
    ) -> None:
        self.shared = CircuitBreaker(
            failure_threshold, reset_timeout_s, min_sources=min_identities, clock=clock, on_transition=on_transition
        )
        self._clock = clock
        self._on_identity_open = on_identity_open
        self._own: dict[str, CircuitBreaker] = {}

    def _identity_moved(self, _: BreakerState, to: BreakerState) -> None:
        if to is BreakerState.OPEN and self._on_identity_open is not None:
            self._on_identity_open()

    def _breaker_of(self, identity: str) -> CircuitBreaker:
        breaker = self._own.get(identity)
        if breaker is None:
            breaker = self._own[identity] = CircuitBreaker(
                self.shared.failure_threshold,
                self.shared.reset_timeout_s,
                clock=self._clock,
                on_transition=self._identity_moved,
            )
        return breaker

    def allow(self, identity: str) -> bool:
        """May a call for ``identity`` go upstream now? A probe is taken only when both breakers admit the call."""
        own = self._breaker_of(identity)
        if own.state is BreakerState.CLOSED and self.shared.state is BreakerState.CLOSED:
            return True
        if not (own.would_allow() and self.shared.would_allow()):
            return False
        own.allow()
        self.shared.allow()
        return True

    def record_success(self, identity: str) -> None:
        self._breaker_of(identity).record_success()
        self.shared.record_success()

    def record_failure(self, identity: str) -> None:
        self._breaker_of(identity).record_failure()
        self.shared.record_failure(identity)

    def state_for(self, identity: str) -> BreakerState:
        """The state that decides ``identity``'s calls: the worse of its own breaker and the shared one."""
        own = self._own.get(identity)
        if own is None or own.state.gauge <= self.shared.state.gauge:
            return self.shared.state
        return own.state
