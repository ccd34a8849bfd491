import asyncio

from trading_bot.engine.clock import LiveClock, SimulatedClock


def test_simulated_clock_fires_timers_in_time_order_with_the_clock_at_each_timer() -> None:
    clock = SimulatedClock(1_000)
    seen: list[tuple[str, int]] = []
    clock.schedule_at(3_000, lambda: seen.append(("c", clock.now_ms())))
    clock.schedule_at(2_000, lambda: seen.append(("a", clock.now_ms())))
    clock.schedule_at(2_000, lambda: seen.append(("b", clock.now_ms())))
    clock.advance_to(5_000)
    assert seen == [("a", 2_000), ("b", 2_000), ("c", 3_000)]
    assert clock.now_ms() == 5_000


def test_exclusive_advance_leaves_timers_at_the_target_for_later() -> None:
    clock = SimulatedClock(0)
    fired: list[int] = []
    clock.schedule_at(100, lambda: fired.append(100))
    clock.advance_to(100, inclusive=False)
    assert fired == []
    assert clock.now_ms() == 100
    clock.advance_to(100)
    assert fired == [100]


def test_cancelled_timers_never_fire_and_time_never_goes_back() -> None:
    clock = SimulatedClock(500)
    fired: list[str] = []
    timer = clock.schedule_at(600, lambda: fired.append("x"))
    timer.cancel()
    assert clock.next_timer_ms() is None
    clock.advance_to(1_000)
    clock.advance_to(10)
    assert fired == []
    assert clock.now_ms() == 1_000


def test_timers_scheduled_by_timers_run_in_the_same_advance() -> None:
    clock = SimulatedClock(0)
    fired: list[int] = []
    clock.schedule_at(10, lambda: clock.schedule_after(5, lambda: fired.append(clock.now_ms())))
    clock.advance_to(100)
    assert fired == [15]


def test_past_timer_fires_at_now_not_in_the_past() -> None:
    clock = SimulatedClock(1_000)
    fired: list[int] = []
    clock.schedule_at(10, lambda: fired.append(clock.now_ms()))
    clock.advance_to(1_000)
    assert fired == [1_000]


async def test_live_clock_runs_timers_on_the_event_loop() -> None:
    clock = LiveClock()
    done = asyncio.Event()
    start = clock.now_ms()
    clock.schedule_after(20, done.set)
    cancelled = clock.schedule_after(10, lambda: (_ for _ in ()).throw(AssertionError("fired")))
    cancelled.cancel()
    await asyncio.wait_for(done.wait(), timeout=2)
    assert clock.now_ms() - start >= 15
