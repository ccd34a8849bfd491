"""`RateLimit`: a token bucket on the bot's clock (simulated here, so time is exact)."""

import pytest

from trading_bot.engine.clock import SimulatedClock
from trading_bot.intake.rate_limit import RateLimit


def take_all(limit: RateLimit) -> int:
    taken = 0
    while limit.try_take():
        taken += 1
    return taken


def test_a_full_bucket_allows_the_burst_then_refuses() -> None:
    limit = RateLimit(SimulatedClock(1_000), per_s=10, burst=3)
    assert take_all(limit) == 3
    assert not limit.try_take()


def test_the_burst_defaults_to_one_second_of_the_rate_and_at_least_one() -> None:
    assert take_all(RateLimit(SimulatedClock(), per_s=5)) == 5
    assert take_all(RateLimit(SimulatedClock(), per_s=2.7)) == 2
    assert take_all(RateLimit(SimulatedClock(), per_s=0.2)) == 1


def test_tokens_come_back_at_the_rate() -> None:
    clock = SimulatedClock(0)
    limit = RateLimit(clock, per_s=4, burst=4)
    take_all(limit)
    clock.advance_to(249)
    assert not limit.try_take()  # 0.996 of a token
    clock.advance_to(250)
    assert limit.try_take()
    assert not limit.try_take()
    clock.advance_to(750)
    assert take_all(limit) == 2


def test_a_long_idle_refills_no_more_than_the_burst() -> None:
    clock = SimulatedClock(0)
    limit = RateLimit(clock, per_s=100, burst=5)
    take_all(limit)
    clock.advance_to(3_600_000)
    assert take_all(limit) == 5


def test_wait_ms_says_when_the_next_token_is_due_and_is_never_early() -> None:
    clock = SimulatedClock(0)
    limit = RateLimit(clock, per_s=2, burst=1)
    assert limit.wait_ms() == 0
    assert limit.try_take()
    wait = limit.wait_ms()
    assert 500 <= wait <= 502
    clock.advance_to(wait - 2)
    assert not limit.try_take()
    clock.advance_to(wait)
    assert limit.try_take()


def test_a_slow_rate_waits_seconds() -> None:
    clock = SimulatedClock(0)
    limit = RateLimit(clock, per_s=0.5)
    assert limit.try_take()
    assert 2000 <= limit.wait_ms() <= 2002


def test_waiting_does_not_consume_a_token() -> None:
    clock = SimulatedClock(0)
    limit = RateLimit(clock, per_s=1, burst=1)
    assert limit.wait_ms() == 0
    assert limit.wait_ms() == 0
    assert limit.try_take()


@pytest.mark.parametrize("per_s", [0, -1])
def test_a_rate_that_is_not_positive_is_refused(per_s: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimit(SimulatedClock(), per_s=per_s)
