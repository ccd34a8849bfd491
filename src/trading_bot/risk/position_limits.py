"""PositionLimitCheck: cap the size of each position and the number of open positions.

Its view of positions comes from fills (the portfolio) plus the unfilled part of open orders,
never from signals: a signal that is rejected later, or fills partly, cannot corrupt it, and
several orders in flight cannot together slip past the limit.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.enums import Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.base import RiskCheck, RiskDecision

_BUY = Side.BUY


class PositionLimitParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_position_size: Decimal | None = Field(
        default=None, gt=0, description="largest absolute position per asset, in base units"
    )
    max_positions: int | None = Field(default=None, ge=1, description="most positions open at once")


class PositionLimitCheck(RiskCheck):
    """An order that would take a position past `max_position_size` is cut down to the room
    left (rejected with `position_limit` when there is none). An order that would open a new
    position while `max_positions` are open is rejected with `max_positions`. Orders that only
    reduce a position always pass."""

    Params = PositionLimitParams
    params: PositionLimitParams

    def check(self, intent: TradeIntent) -> RiskDecision:
        context = self.context
        held = context.portfolio.position_quantity(intent.symbol)
        pending_buys, pending_sells = context.orders.open_exposure(intent.symbol)
        # Worst case in the intent's direction: every open order on that side fills.
        if intent.side is _BUY:
            projected = held + pending_buys
            reduces = projected < 0 and intent.amount <= -projected
        else:
            projected = held - pending_sells
            reduces = projected > 0 and intent.amount <= projected
        if reduces:
            return RiskDecision.approve()

        opens_new = projected == 0
        if opens_new and self.params.max_positions is not None:
            open_count = sum(
                1 for symbol in self._symbols_with_exposure() if symbol != intent.symbol
            )
            if open_count >= self.params.max_positions:
                return RiskDecision.reject(
                    RejectionReason.MAX_POSITIONS,
                    f"{open_count} positions open, max_positions is {self.params.max_positions}",
                )

        limit = self.params.max_position_size
        if limit is None:
            return RiskDecision.approve()
        after = abs(projected + intent.signed_amount)
        if after <= limit:
            return RiskDecision.approve()
        room = (
            limit - abs(projected)
            if (projected >= 0) == (intent.side is _BUY)
            else limit + abs(projected)
        )
        if room <= 0:
            return RiskDecision.reject(
                RejectionReason.POSITION_LIMIT,
                f"{intent.symbol} position {projected} is at max_position_size {limit}",
            )
        return RiskDecision.resize(
            room, f"cut from {intent.amount} to {room} by max_position_size {limit}"
        )

    def _symbols_with_exposure(self) -> set[str]:
        symbols = {p.symbol for p in self.context.portfolio.open_positions()}
        symbols.update(self.context.orders.symbols_with_open_orders())

        return symbols
