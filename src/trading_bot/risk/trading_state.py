"""Trading states: the kill switch consulted before the risk chain.

ACTIVE lets every intent through to the risk checks, REDUCING only the part of an intent that
shrinks a position, HALTED nothing new (cancels are not intents: they always pass). What each
state admits is the table `ADMISSION`, and the code a refused intent carries is `REFUSAL`, so
metrics, logs and the store read one vocabulary.

The state changes on command (`set`, from the bot's kill switch) or on a breach: a risk check's
rejection whose code is listed in `risk.halt_on` / `risk.reduce_on` trips it. A breach only
ever makes the state stricter; going back to ACTIVE is a command (`resume`), never automatic,
so a bot halted by a breach stays halted until someone has looked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum

from loguru import logger

from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.clock import Clock
from trading_bot.engine.context import TradingContext
from trading_bot.risk.holdings import closing_part

# transitions kept in memory for inspection; the store keeps the current one
HISTORY_SIZE = 100


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class Admission(Enum):
    """What part of a new intent a state lets through to the risk chain."""

    ALL = "all"
    CLOSING_ONLY = "closing_only"
    NOTHING = "nothing"


ADMISSION: dict[TradingState, Admission] = {
    TradingState.ACTIVE: Admission.ALL,
    TradingState.REDUCING: Admission.CLOSING_ONLY,
    TradingState.HALTED: Admission.NOTHING,
}

REFUSAL: dict[TradingState, RejectionReason] = {
    TradingState.REDUCING: RejectionReason.TRADING_REDUCING,
    TradingState.HALTED: RejectionReason.TRADING_HALTED,
}

# how strict a state is: a breach never moves the state to a less strict one
_STRICTNESS = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition: to `state`, why, who asked (`command` or `breach`) and when."""

    state: TradingState
    reason: str
    trigger: str
    at_ms: int

    def to_dict(self) -> dict[str, str | int]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "trigger": self.trigger,
            "at_ms": self.at_ms,
        }


class TradingSwitch:
    """The bot's current trading state, its transitions and the breach rules."""

    def __init__(
        self,
        clock: Clock,
        *,
        halt_on: Iterable[RejectionReason] = (),
        reduce_on: Iterable[RejectionReason] = (),
        flatten_on_halt: bool = False,
    ) -> None:
        self._clock = clock
        self.halt_on = frozenset(halt_on)
        self.reduce_on = frozenset(reduce_on)
        self.flatten_on_halt = flatten_on_halt
        self.current = StateChange(TradingState.ACTIVE, "started", "start", clock.now_ms())
        self.history: deque[StateChange] = deque([self.current], maxlen=HISTORY_SIZE)
        # called after every transition (the paper bot writes it to the store)
        self.listeners: list[Callable[[StateChange], None]] = []

    @property
    def state(self) -> TradingState:
        return self.current.state

    def set(self, state: TradingState, reason: str, trigger: str = "command") -> StateChange:
        """Move to `state` now (a repeat of the current state still records the new reason)."""
        change = StateChange(state, reason, trigger, self._clock.now_ms())
        previous = self.current.state
        self.current = change
        self.history.append(change)
        log = logger.info if state is TradingState.ACTIVE else logger.warning
        log("trading state {} -> {} ({}: {})", previous.value, state.value, trigger, reason)
        for listener in self.listeners:
            listener(change)
        return change

    def restore(self, change: StateChange) -> None:
        """Take a state saved before a restart, without logging it as a new transition."""
        self.current = change
        self.history.append(change)

    def breached(self, rejection: Rejection) -> StateChange | None:
        """Trip the state if `rejection`'s code is listed in halt_on / reduce_on and the state
        it asks for is stricter than the current one; the change made, if any."""
        if rejection.reason in self.halt_on:
            wanted = TradingState.HALTED
        elif rejection.reason in self.reduce_on:
            wanted = TradingState.REDUCING
        else:
            return None
        if _STRICTNESS[wanted] <= _STRICTNESS[self.state]:
            return None
        return self.set(wanted, f"{rejection.reason.value}: {rejection.detail}", "breach")

    def admit(self, context: TradingContext, intent: TradeIntent) -> TradeIntent | Rejection:
        """The intent as the current state lets it through (cut to its closing part in
        REDUCING), or the rejection with the state's stable code."""
        state = self.current.state
        admission = ADMISSION[state]
        if admission is Admission.ALL:
            return intent
        if admission is Admission.CLOSING_ONLY:
            closing = closing_part(context, intent)
            if closing == intent.amount:
                return intent
            if closing > 0:
                return intent.resized(closing)
        return Rejection(REFUSAL[state], f"trading is {state.value}: {self.current.reason}")
