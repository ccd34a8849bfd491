import asyncio
import weakref

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


async def test_live_timers_due_together_run_in_the_order_set_and_one_failing_stops_none() -> None:
    clock = LiveClock()
    loop = asyncio.get_running_loop()
    errors: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context["exception"]))
    ran: list[str] = []
    at = clock.now_ms() + 20

    def fail() -> None:
        ran.append("failing")
        raise ValueError("a broken timer")

    for name in ("first", "second"):
        clock.schedule_at(at, lambda name=name: ran.append(name))
    clock.schedule_at(at, fail)
    clock.schedule_at(at, lambda: ran.append("last"))
    clock.schedule_at(at, lambda: ran.append("cancelled")).cancel()
    done = asyncio.Event()
    clock.schedule_at(at + 5, done.set)
    await asyncio.wait_for(done.wait(), timeout=2)
    assert ran == ["first", "second", "failing", "last"]
    assert [str(error) for error in errors] == ["a broken timer"]


async def test_a_cancelled_live_timer_lets_go_of_what_its_callback_holds() -> None:
    class Order:
        def time_out(self) -> None:
            raise AssertionError("cancelled")

    order = Order()
    held = weakref.ref(order)
    timer = LiveClock().schedule_after(60_000, order.time_out)
    del order
    timer.cancel()
    assert held() is None  # not kept for the minute until the timer was due


def test_timers_left_after_a_catch_up_are_handed_over_and_cancelling_still_works() -> None:
    past, later = SimulatedClock(0), SimulatedClock(100)
    fired: list[tuple[str, int]] = []
    past.schedule_at(50, lambda: fired.append(("missed", past.now_ms())))
    past.schedule_at(150, lambda: fired.append(("kept", later.now_ms())))
    dropped = past.schedule_at(160, lambda: fired.append(("dropped", later.now_ms())))
    past.advance_to(100, inclusive=False)
    past.hand_over(later)
    dropped.cancel()  # the handle given out before the hand-over still cancels
    later.advance_to(200)
    assert fired == [("missed", 50), ("kept", 150)]
    assert past.next_timer_ms() is None
