"""The one source of time for the pipeline.

Nothing in the core reads the wall clock or sleeps: it asks a `Clock`. A backtest drives a
`SimulatedClock` as fast as the CPU allows; paper and live use `LiveClock`. Timers fire in
time order, ties in the order they were scheduled.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial

from mypy_extensions import mypyc_attr

TimerCallback = Callable[[], None]


class Timer:
    """A scheduled callback; `cancel()` makes it a no-op and lets go of what it holds."""

    __slots__ = ("at_ms", "callback", "cancelled")

    def __init__(self, at_ms: int, callback: TimerCallback) -> None:
        self.at_ms = at_ms
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing


def _nothing() -> None:
    pass


def _call(timer: Timer) -> None:
    timer.callback()  # read when due: a timer cancelled meanwhile calls `_nothing`


@mypyc_attr(allow_interpreted_subclasses=True)  # the paper venue's clock wraps another
class Clock(ABC):
    @abstractmethod
    def now_ms(self) -> int:
        """Current time in epoch milliseconds (UTC)."""

    @abstractmethod
    def schedule_at(self, at_ms: int, callback: TimerCallback) -> Timer:
        """Run `callback` once at `at_ms` (at once, on the next tick, if that is past)."""

    def schedule_after(self, delay_ms: int, callback: TimerCallback) -> Timer:
        return self.schedule_at(self.now_ms() + delay_ms, callback)


class SimulatedClock(Clock):
    """A clock that only moves when told to, firing due timers on the way."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._timers: list[tuple[int, int, Timer]] = []
        self._sequence = itertools.count()

    def now_ms(self) -> int:
        return self._now

    def schedule_at(self, at_ms: int, callback: TimerCallback) -> Timer:
        timer = Timer(at_ms if at_ms > self._now else self._now, callback)
        heapq.heappush(self._timers, (timer.at_ms, next(self._sequence), timer))
        return timer

    def next_timer_ms(self) -> int | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def advance_to(self, target_ms: int, *, inclusive: bool = True) -> None:
        """Move time to `target_ms`, firing timers due before it (and at it when `inclusive`).

        Each timer runs with the clock set to its own time. Time never goes backwards.
        """
        timers = self._timers
        while timers:
            at_ms, _, timer = timers[0]
            if at_ms > target_ms or (at_ms == target_ms and not inclusive):
                break
            heapq.heappop(timers)
            if timer.cancelled:
                continue
            self._now = at_ms
            timer.callback()
        self._now = max(self._now, target_ms)

    def hand_over(self, clock: Clock) -> None:
        """Schedule every timer still pending on `clock` instead (a catch-up on simulated
        time ending on the live clock). The `Timer`s given out stay valid: cancelling one
        makes its call on `clock` a no-op."""
        while self._timers:
            at_ms, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                clock.schedule_at(at_ms, partial(_call, timer))

    def run_pending(self) -> None:
        """Fire every timer still scheduled, in time order (the end of a simulation)."""
        while (next_ms := self.next_timer_ms()) is not None:
            self.advance_to(next_ms)


class LiveClock(Clock):
    """Wall-clock time; timers run on the asyncio event loop.

    The only place in the bot that reads the system clock. Timers due at the same
    millisecond share one loop callback and run in the order they were set: the paper venue
    sets one per order for the next bar's open, and a loop timer per order cost more than
    the order's own matching there.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._due: dict[int, list[Timer]] = {}

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def schedule_at(self, at_ms: int, callback: TimerCallback) -> Timer:
        timer = Timer(at_ms, callback)
        due = self._due.get(at_ms)
        if due is None:
            loop = self._loop or asyncio.get_running_loop()
            due = self._due[at_ms] = []
            delay_s = max(0.0, (at_ms - self.now_ms()) / 1000)
            loop.call_later(delay_s, self._fire, at_ms, loop)
        due.append(timer)
        return timer

    def _fire(self, at_ms: int, loop: asyncio.AbstractEventLoop) -> None:
        for timer in self._due.pop(at_ms, ()):
            if timer.cancelled:
                continue
            try:
                timer.callback()
            except Exception as error:  # as the loop does for a callback of its own
                loop.call_exception_handler(
                    {"message": "Exception in a clock timer", "exception": error}
                )
