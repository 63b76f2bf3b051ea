"""Degradation modes: thresholds, hysteresis (no flapping at a threshold) and step-wise recovery."""

from __future__ import annotations

import pytest

from mca_core.degradation import DegradationMonitor, DegradationPolicy, Mode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(monitor: DegradationMonitor, outcomes: str, source: str = "") -> Mode:
    mode = monitor.mode()
    for c in outcomes:
        mode = monitor.record(c == "o", source)
    return mode


def test_enters_degraded_then_baseline_only_as_failures_grow() -> None:
    monitor = DegradationMonitor(DegradationPolicy(min_samples=10), clock=Clock())
    assert feed(monitor, "oooooooxxx") is Mode.DEGRADED  # 30 %
    assert feed(monitor, "xxxxxxxxxxxxxxxx") is Mode.BASELINE_ONLY  # 19/26 = 73 %
    assert monitor.failure_rate() == (pytest.approx(19 / 26), 26)


def test_too_few_samples_never_degrade() -> None:
    monitor = DegradationMonitor(DegradationPolicy(min_samples=5), clock=Clock())
    assert feed(monitor, "xxxx") is Mode.NORMAL
    assert feed(monitor, "x") is Mode.BASELINE_ONLY


def test_hysteresis_holds_degraded_between_exit_and_enter_thresholds() -> None:
    clock = Clock()
    monitor = DegradationMonitor(DegradationPolicy(window_s=1000, min_samples=10), clock=clock)
    assert feed(monitor, "xxx" + "o" * 7) is Mode.DEGRADED  # 30 %
    assert feed(monitor, "o" * 5) is Mode.DEGRADED  # 20 %: below enter, above exit (15 %)
    assert feed(monitor, "o" * 6) is Mode.NORMAL  # 3/21 = 14 %


def test_recovery_from_baseline_only_is_one_level_at_a_time() -> None:
    clock = Clock()
    monitor = DegradationMonitor(DegradationPolicy(window_s=10, min_samples=4), clock=clock)
    assert feed(monitor, "xxxx") is Mode.BASELINE_ONLY
    clock.now = 5.0
    assert monitor.mode() is Mode.BASELINE_ONLY
    clock.now = 10.5  # the failures aged out and nothing was sent: one step down
    assert monitor.mode() is Mode.DEGRADED
    clock.now = 15.0
    assert monitor.mode() is Mode.DEGRADED
    clock.now = 20.6
    assert monitor.mode() is Mode.NORMAL


def test_baseline_only_exits_when_rate_falls_below_its_exit_threshold() -> None:
    clock = Clock()
    monitor = DegradationMonitor(DegradationPolicy(window_s=1000, min_samples=4), clock=clock)
    assert feed(monitor, "xxxx") is Mode.BASELINE_ONLY
    assert feed(monitor, "o" * 8) is Mode.BASELINE_ONLY  # 33 %: still above 25 %
    assert feed(monitor, "o" * 5) is Mode.DEGRADED  # 4/17 = 23.5 %


def test_policy_rejects_thresholds_without_a_hysteresis_band() -> None:
    with pytest.raises(ValueError, match="exit_degraded"):
        DegradationPolicy(enter_degraded=0.2, exit_degraded=0.2)


def test_one_sources_failures_do_not_move_a_mode_that_needs_two_sources() -> None:
    monitor = DegradationMonitor(DegradationPolicy(min_samples=5, min_sources=2), clock=Clock())
    assert feed(monitor, "x" * 40, "alice") is Mode.NORMAL
    assert feed(monitor, "ooooo", "bob") is Mode.NORMAL
    assert monitor.failure_rate() == (0.0, 5)  # alice, the worst source, is left out
    assert feed(monitor, "xxxxx", "carol") is Mode.DEGRADED  # bob and carol: 50 %


def test_left_out_counts_follow_the_window() -> None:
    clock = Clock()
    monitor = DegradationMonitor(DegradationPolicy(window_s=10, min_samples=2, min_sources=2), clock=clock)
    feed(monitor, "xxx", "alice")
    feed(monitor, "xx", "bob")
    assert monitor.failure_rate() == (1.0, 2)
    clock.now += 11
    feed(monitor, "oo", "bob")
    assert monitor.failure_rate() == (0.0, 0)  # bob is now the only source, and the worst one
    feed(monitor, "xo", "carol")
    assert monitor.failure_rate() == (0.0, 2)
