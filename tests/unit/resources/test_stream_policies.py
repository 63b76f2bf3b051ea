"""MarketStream's pure parts: the reconnect backoff schedule, the dedupe window, the bounded event buffer and
its two overflow policies, and the config checks."""

from __future__ import annotations

import asyncio
import random

import pytest

from mca_resources.errors import StreamError
from mca_resources.stream import BufferClosed, DedupeWindow, EventBuffer, StreamConfig, backoff_delay

# ------------------------------------------------------------------------------------------------ backoff


def test_backoff_doubles_per_attempt_within_equal_jitter_bounds() -> None:
    rng = random.Random(1)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0)]:
        delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(500)]
        assert min(delays) >= cap / 2
        assert max(delays) <= cap
        # jittered: the draws spread over the interval instead of repeating one value
        assert max(delays) - min(delays) > cap / 4


def test_backoff_is_capped_by_max_even_for_huge_attempt_numbers() -> None:
    rng = random.Random(2)
    delays = [backoff_delay(attempt, 0.5, 30.0, rng) for attempt in (7, 20, 100, 10_000)]
    assert all(15.0 <= d <= 30.0 for d in delays)


def test_backoff_extremes_of_the_draw_hit_the_interval_ends() -> None:
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    assert backoff_delay(3, 0.5, 30.0, Fixed(0.0)) == 1.0
    assert backoff_delay(3, 0.5, 30.0, Fixed(0.999999)) == pytest.approx(2.0, abs=1e-5)


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    a = [backoff_delay(n, 0.2, 5.0, random.Random(9)) for n in range(1, 8)]
    b = [backoff_delay(n, 0.2, 5.0, random.Random(9)) for n in range(1, 8)]
    assert a == b


def test_backoff_attempts_are_one_based() -> None:
    with pytest.raises(ValueError, match="1-based"):
        backoff_delay(0, 0.5, 30.0)


# ------------------------------------------------------------------------------------------------- dedupe


def test_dedupe_window_reports_a_repeat_only_while_the_key_is_in_the_window() -> None:
    window = DedupeWindow(3)
    assert [window.seen(k) for k in ("a", "b", "a", "c")] == [False, False, True, False]
    assert len(window) == 3
    assert window.seen("d") is False  # evicts "a", the oldest
    assert "a" not in window
    assert window.seen("a") is False  # forgotten, so new again (and now evicts "b")
    assert "b" not in window
    assert {k for k in ("a", "b", "c", "d") if k in window} == {"a", "c", "d"}


def test_dedupe_window_is_first_in_first_out_a_hit_does_not_refresh() -> None:
    window = DedupeWindow(2)
    window.seen("a")
    window.seen("b")
    assert window.seen("a") is True  # hit, but "a" stays the oldest
    window.seen("c")  # evicts "a"
    assert "a" not in window
    assert "b" in window


def test_dedupe_window_size_stays_bounded_under_many_keys() -> None:
    window = DedupeWindow(1000)
    for i in range(10_000):
        window.seen(str(i))
    assert len(window) == 1000
    assert "8999" not in window
    assert "9000" in window
    assert "9999" in window


def test_dedupe_window_rejects_a_non_positive_size() -> None:
    with pytest.raises(ValueError, match="window size"):
        DedupeWindow(0)


# ------------------------------------------------------------------------------------------------- buffer


async def test_block_policy_makes_the_producer_wait_until_the_consumer_takes_an_item() -> None:
    buffer: EventBuffer[int] = EventBuffer(2, "block")
    assert await buffer.put(1)
    assert await buffer.put(2)
    third = asyncio.create_task(buffer.put(3))
    await asyncio.sleep(0.02)
    assert not third.done()  # full: the producer waits (and so stops reading its socket)
    assert await buffer.get() == 1
    assert await asyncio.wait_for(third, 1.0) is True
    assert [await buffer.get(), await buffer.get()] == [2, 3]
    assert buffer.dropped == 0


async def test_drop_oldest_policy_never_waits_and_counts_what_it_evicts() -> None:
    buffer: EventBuffer[int] = EventBuffer(3, "drop_oldest")
    for i in range(10):
        assert await asyncio.wait_for(buffer.put(i), 0.5)
    assert buffer.dropped == 7
    assert len(buffer) == 3
    assert [await buffer.get() for _ in range(3)] == [7, 8, 9]


async def test_get_waits_for_an_item() -> None:
    buffer: EventBuffer[str] = EventBuffer(5)
    getter = asyncio.create_task(buffer.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    await buffer.put("x")
    assert await asyncio.wait_for(getter, 1.0) == "x"


async def test_close_drains_queued_items_first_then_ends() -> None:
    buffer: EventBuffer[int] = EventBuffer(5)
    await buffer.put(1)
    await buffer.put(2)
    buffer.close()
    assert await buffer.get() == 1
    assert await buffer.get() == 2
    with pytest.raises(BufferClosed):
        await buffer.get()
    assert await buffer.put(3) is False  # discarded after close


async def test_close_with_an_error_raises_it_after_the_queued_items() -> None:
    buffer: EventBuffer[int] = EventBuffer(5)
    await buffer.put(1)
    error = StreamError("gave up")
    buffer.close(error)
    buffer.close(StreamError("a later error does not replace the first"))
    assert await buffer.get() == 1
    for _ in range(2):  # and keeps raising it
        with pytest.raises(StreamError, match="gave up"):
            await buffer.get()


async def test_close_wakes_a_waiting_consumer_and_a_blocked_producer() -> None:
    buffer: EventBuffer[int] = EventBuffer(1, "block")
    await buffer.put(1)
    producer = asyncio.create_task(buffer.put(2))
    consumer_buffer: EventBuffer[int] = EventBuffer(1)
    consumer = asyncio.create_task(consumer_buffer.get())
    await asyncio.sleep(0.01)
    buffer.close()
    consumer_buffer.close()
    assert await asyncio.wait_for(producer, 1.0) is False
    with pytest.raises(BufferClosed):
        await asyncio.wait_for(consumer, 1.0)


async def test_get_nowait_on_empty_raises_queue_empty() -> None:
    buffer: EventBuffer[int] = EventBuffer(1)
    with pytest.raises(asyncio.QueueEmpty):
        buffer.get_nowait()


def test_buffer_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        EventBuffer(0)
    with pytest.raises(ValueError, match="overflow"):
        EventBuffer(1, "drop_newest")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- config


def test_config_defaults_follow_the_protocol() -> None:
    cfg = StreamConfig(url="ws://x/ws/market")
    assert cfg.ping_interval_s == 10.0
    assert cfg.idle_timeout == 30.0
    assert cfg.overflow == "block"
    assert cfg.queue_size == 10_000
    assert cfg.dedupe_window == 100_000
    assert cfg.custom_feature_enabled is True
    assert cfg.max_reconnects is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"overflow": "drop_newest"}, "overflow"),
        ({"ping_interval_s": 0}, "ping_interval_s"),
        ({"ping_interval_s": 5, "idle_timeout_s": 5}, "idle_timeout_s"),
        ({"backoff_initial_s": 60}, "backoff_initial_s"),
        ({"max_reconnects": -1}, "max_reconnects"),
        ({"queue_size": 0}, "queue_size"),
    ],
)
def test_config_refuses_values_that_cannot_work(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StreamConfig(url="ws://x", **kwargs)  # type: ignore[arg-type]
