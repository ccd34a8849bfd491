"""The strategy interface."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Final

from trading_bot.domain.rejections import Rejection
from trading_bot.domain.signal import Signal
from trading_bot.engine.component import Component


class Deferred:
    """A strategy's answer "not yet": it holds the signal and hands its decision to the
    kernel later through `Strategy.decide_later`, so the signal stays pending meanwhile."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED: Final = Deferred()

Decision = list[Signal] | Rejection
DecisionSink = Callable[[Signal, Decision], None]


class Strategy(Component):
    _sink: DecisionSink | None = None  # set by the kernel; a class default needs no __init__

    @abstractmethod
    def process_signal(self, signal: Signal) -> Decision | Deferred:
        """Signals to act on for one incoming signal (possibly changed), or why none, or
        `DEFERRED` to decide later through `decide_later`.

        Must not mutate `signal`: return new signals (`signal.model_copy(update=...)`).
        """

    def set_decision_sink(self, sink: DecisionSink) -> None:
        """Called by the kernel: where decisions on deferred signals go."""
        self._sink = sink

    def decide_later(self, signal: Signal, decision: Decision) -> None:
        """Hand the kernel the decision on a signal this strategy deferred earlier."""
        if self._sink is None:
            raise RuntimeError(f"{type(self).__name__} deferred a signal but no kernel listens")
        self._sink(signal, decision)

    def stop(self) -> None:
        """The run is ending (end of a backtest): decide every deferred signal now. A strategy
        that defers nothing has nothing to do."""
