"""LossCooldown: pause new exposure after a run of losing round trips."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.fill import Fill
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import split_symbol
from trading_bot.domain.money import ZERO
from trading_bot.domain.position import Position
from trading_bot.domain.rejections import RejectionReason
from trading_bot.domain.timestamps import format_ms
from trading_bot.risk.base import RiskCheck, RiskDecision
from trading_bot.risk.holdings import closing_part

_MINUTE_MS = 60_000


class LossCooldownParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_consecutive_losses: int = Field(
        default=3, ge=1, description="losing round trips in a row that start a cooldown"
    )
    cooldown_minutes: float = Field(
        default=60, gt=0, le=60 * 24 * 366, description="how long new exposure stays paused"
    )


class LossCooldown(RiskCheck):
    """After `max_consecutive_losses` (default 3) losing round trips in a row, new exposure is
    rejected with `loss_cooldown` for `cooldown_minutes` (default 60) on the clock, counted
    from the fill that closed the last of them.

    A round trip runs from a position opening to its return to flat (or its flip) in one
    symbol; it loses when its realized P&L, less the fees paid in its quote or base asset, is
    below zero. Any round trip that does not lose resets the count, and so does the start of
    a cooldown. Everything is derived from the portfolio's fills, read once each in order,
    never from signals. Orders that only shrink a position pass during the cooldown.
    """

    Params = LossCooldownParams
    params: LossCooldownParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._cooldown_ms = int(self.params.cooldown_minutes * _MINUTE_MS)
        self._fills_read = 0
        self._positions: dict[str, Position] = {}  # the bot's positions, rebuilt from fills
        self._trip_pnl: dict[str, Decimal] = {}  # net P&L of each symbol's open round trip
        self._losses = 0  # losing round trips in a row
        self._last_loss_ms = 0
        self.paused_until_ms: int | None = None

    def check(self, intent: TradeIntent) -> RiskDecision:
        self._read_new_fills()
        until = self.paused_until_ms
        if until is None or self.context.clock.now_ms() >= until:
            return RiskDecision.approve()
        closing = closing_part(self.context, intent)
        detail = (
            f"{self.params.max_consecutive_losses} losing round trips in a row, the last "
            f"closed at {format_ms(self._last_loss_ms)}: new exposure paused until "
            f"{format_ms(until)}"
        )
        if closing == intent.amount:
            return RiskDecision.approve()
        if closing > 0:
            return RiskDecision.resize(closing, f"{detail}; only the close passes")
        return RiskDecision.reject(RejectionReason.LOSS_COOLDOWN, detail)

    def _read_new_fills(self) -> None:
        fills = self.context.portfolio.fills
        for index in range(self._fills_read, len(fills)):
            self._apply(fills[index])
        self._fills_read = len(fills)

    def _apply(self, fill: Fill) -> None:
        symbol = fill.symbol
        position = self._positions.get(symbol)
        if position is None:
            position = self._positions[symbol] = Position(symbol)
        before = position.quantity
        realized = position.apply_fill(fill.side, fill.amount, fill.price)
        trip = self._trip_pnl.get(symbol, ZERO) + realized - _fee_in_quote(fill)
        after = position.quantity
        if before == 0 or (after != 0 and (after > 0) == (before > 0)):
            self._trip_pnl[symbol] = trip  # the round trip goes on
            return
        self._trip_pnl[symbol] = ZERO  # closed (a flip opens the next one)
        if trip >= 0:
            self._losses = 0
            return
        self._losses += 1
        self._last_loss_ms = fill.ts_ms
        if self._losses >= self.params.max_consecutive_losses:
            self.paused_until_ms = fill.ts_ms + self._cooldown_ms
            self._losses = 0


def _fee_in_quote(fill: Fill) -> Decimal:
    """The fill's fee in its quote asset; a fee in a third asset (a venue token) has no
    price here and is left out."""
    base, quote = split_symbol(fill.symbol)
    if fill.fee_asset == quote:
        return fill.fee
    if fill.fee_asset == base:
        return fill.fee * fill.price
    return ZERO
