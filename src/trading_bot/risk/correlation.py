"""CorrelationLimit: no second position that moves with one already held.

Correlation is measured on returns of prices from the market data, sampled on a fixed grid
ending at the clock's now (prices known then, never later ones), against the positions the
fills and open orders make, never against signals.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.enums import Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.base import RiskCheck, RiskDecision
from trading_bot.risk.holdings import closing_part

_MINUTE_MS = 60_000
_BUY = Side.BUY


class CorrelationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_correlation: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="highest correlation of returns allowed between positions in one direction",
    )
    lookback_periods: int = Field(
        default=100, ge=3, le=100_000, description="returns the correlation is measured over"
    )
    period_minutes: float = Field(
        default=5, gt=0, le=60 * 24 * 31, description="length of one period (one return)"
    )


class CorrelationLimit(RiskCheck):
    """New exposure in a symbol is rejected with `correlation_limit` when its returns correlate
        above `max_correlation` (default 0.8) with those of a symbol the bot already holds in the
        same direction (long with long, short with short), or below -`max_correlation` with one
        held in the opposite direction: both concentrate the same risk. Same-direction positions
        in assets that move against each other are a hedge and pass.

        Returns are taken over the last `lookback_periods` (default 100) periods of
        `period_minutes` (default 5), from the price known at each period's end. A pair without
        that much history (or with a price that never moved) has no measurable correlation and
        does not block. Orders that only shrink a position pass; of an order that would flip one,
    only the closing part passes (the order is cut to it). Held exposure is the portfolio's
        positions plus open orders (a long if every open buy filling makes one, likewise short).
    """

    Params = CorrelationParams
    params: CorrelationParams

    def check(self, intent: TradeIntent) -> RiskDecision:
        context = self.context
        closing = closing_part(context, intent)
        if closing == intent.amount:
            return RiskDecision.approve()
        direction = 1 if intent.side is _BUY else -1
        times = self._grid(context.clock.now_ms())
        returns = self._returns(intent.symbol, times)
        if returns is None:
            return RiskDecision.approve()
        limit = self.params.max_correlation
        for symbol, held_direction in self._held_directions(intent.symbol):
            other = self._returns(symbol, times)
            if other is None:
                continue
            correlation = float(np.corrcoef(returns, other)[0, 1])
            if correlation * direction * held_direction > limit:
                held = "long" if held_direction > 0 else "short"
                why = (
                    f"{intent.symbol} {intent.side} with a {held} {symbol} position held: "
                    f"returns correlate {correlation:.3f} over {self.params.lookback_periods} x "
                    f"{self.params.period_minutes:g} min; max_correlation is {limit}"
                )
                if closing > 0:  # a flip: the part that closes the position still passes
                    return RiskDecision.resize(closing, f"{why}: only the close passes")
                return RiskDecision.reject(RejectionReason.CORRELATION_LIMIT, why)
        return RiskDecision.approve()

    def _grid(self, now_ms: int) -> npt.NDArray[np.int64]:
        """lookback_periods + 1 times, one period apart, the last one now."""
        period_ms = int(self.params.period_minutes * _MINUTE_MS)
        steps = np.arange(self.params.lookback_periods, -1, -1, dtype=np.int64)
        return now_ms - steps * period_ms

    def _returns(self, symbol: str, times: npt.NDArray[np.int64]) -> npt.NDArray[np.float64] | None:
        """Simple returns between the grid's prices; None without a full, moving history."""
        prices = self.context.prices.prices_at(symbol, times)
        if prices is None or np.isnan(prices).any() or (prices <= 0).any():
            return None
        returns = np.diff(prices) / prices[:-1]
        return returns if returns.std() > 0 else None

    def _held_directions(self, exclude: str) -> list[tuple[str, int]]:
        """(symbol, +1 long / -1 short) for every other symbol the bot holds or will hold
        once its open orders fill; a symbol whose open orders could go either way is both."""
        context = self.context
        symbols = {p.symbol for p in context.portfolio.open_positions()}
        symbols.update(context.orders.symbols_with_open_orders())
        symbols.discard(exclude)
        held: list[tuple[str, int]] = []
        for symbol in sorted(symbols):
            quantity = context.portfolio.position_quantity(symbol)
            buys, sells = context.orders.open_exposure(symbol)
            if quantity + buys > 0:
                held.append((symbol, 1))
            if quantity - sells < 0:
                held.append((symbol, -1))
        return held
