"""The strategy interface."""

from __future__ import annotations

from abc import abstractmethod

from trading_bot.domain.rejections import Rejection
from trading_bot.domain.signal import Signal
from trading_bot.engine.component import Component


class Strategy(Component):
    @abstractmethod
    def process_signal(self, signal: Signal) -> list[Signal] | Rejection:
        """Signals to act on for one incoming signal (possibly changed), or why none.

        Must not mutate `signal`: return new signals (`signal.model_copy(update=...)`).
        """
