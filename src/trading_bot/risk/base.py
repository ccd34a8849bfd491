"""The risk check interface and the chain that runs checks in config order."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.component import Component
from trading_bot.engine.context import TradingContext


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """approve (amount None, rejection None), resize (amount set) or reject (rejection set)."""

    amount: Decimal | None = None
    rejection: Rejection | None = None
    note: str = ""

    @classmethod
    def approve(cls) -> RiskDecision:
        return _APPROVE

    @classmethod
    def resize(cls, amount: Decimal, note: str) -> RiskDecision:
        return cls(amount=amount, note=note)

    @classmethod
    def reject(cls, reason: RejectionReason, detail: str = "") -> RiskDecision:
        return cls(rejection=Rejection(reason, detail))


_APPROVE = RiskDecision()


class RiskCheck(Component):
    @abstractmethod
    def check(self, intent: TradeIntent) -> RiskDecision:
        """Judge one intent. Never mutates it: a resize is returned, not applied."""


class RiskChain:
    """Runs checks in order; each sees the intent as resized by the ones before it."""

    def __init__(self, checks: Sequence[RiskCheck]) -> None:
        self.checks = list(checks)

    def bind(self, context: TradingContext) -> None:
        for check in self.checks:
            check.bind(context)

    def evaluate(self, intent: TradeIntent) -> TradeIntent | Rejection:
        for check in self.checks:
            decision = check.check(intent)
            if decision.rejection is not None:
                return decision.rejection
            if decision.amount is not None:
                intent = intent.resized(decision.amount)
        return intent
