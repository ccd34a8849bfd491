"""The combined strategy's own reading of the market: trend and momentum of closes.

Prices come from `PriceView.prices_at` on a fixed grid of bar closes ending at the last grid
point at or before the clock's now, so the analysis sees exactly what was known then (never a
later close) and gives the same answer everywhere within one bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading_bot.engine.context import PriceView

# strengths are rounded to this many places before entering Decimal scores: deterministic
# and easy to check by hand, far below any confidence a detector sends
STRENGTH_PLACES = 4


class AnalysisParams(BaseModel):
    """Indicator settings of `analyze_market`."""

    model_config = ConfigDict(extra="forbid")

    bar_interval_s: int = Field(
        default=60, gt=0, description="spacing of the close grid the indicators read, seconds"
    )
    fast_period: int = Field(default=5, ge=1, description="closes in the fast moving average")
    slow_period: int = Field(default=20, ge=2, description="closes in the slow moving average")
    momentum_period: int = Field(
        default=10, ge=1, description="momentum compares the last close with the one this many back"
    )
    full_strength_move: Decimal = Field(
        default=Decimal("0.002"),
        gt=0,
        description="relative move (fast vs slow average, or momentum) at which an indicator "
        "votes with full strength; smaller moves vote proportionally less",
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> AnalysisParams:
        if self.fast_period >= self.slow_period:
            raise ValueError(
                f"fast_period ({self.fast_period}) must be below slow_period ({self.slow_period})"
            )
        return self

    @property
    def closes_needed(self) -> int:
        return max(self.slow_period, self.momentum_period + 1)


@dataclass(frozen=True, slots=True)
class MarketView:
    """The internal signal for one symbol: `direction` +1 (up), -1 (down) or 0 (none) with a
    `strength` in [0, 1]; or, when `insufficient` says why, no opinion at all."""

    direction: int
    strength: Decimal
    insufficient: str | None = None

    def describe(self) -> str:
        if self.insufficient is not None:
            return f"insufficient data ({self.insufficient})"
        word = {1: "up", -1: "down", 0: "flat"}[self.direction]
        return f"{word} with strength {self.strength}"


def analyze_market(
    prices: PriceView, symbol: str, now_ms: int, params: AnalysisParams
) -> MarketView:
    """Average of two votes, each in [-1, 1]: the trend vote (fast / slow moving average - 1)
    and the momentum vote (last close / close `momentum_period` back - 1), each divided by
    `full_strength_move` and clipped. The sign of the average is the direction, its size the
    strength."""
    interval = params.bar_interval_s * 1000
    count = params.closes_needed
    last = now_ms - now_ms % interval
    times = last - interval * np.arange(count - 1, -1, -1, dtype=np.int64)
    closes = prices.prices_at(symbol, times)
    if closes is None:
        return MarketView(0, Decimal(0), f"no market data for {symbol}")
    known = int(np.count_nonzero(~np.isnan(closes)))
    if known < count:
        return MarketView(
            0,
            Decimal(0),
            f"{known} of the {count} closes needed on the {params.bar_interval_s}s grid "
            f"up to {int(last)}",
        )
    scale = float(params.full_strength_move)
    fast = closes[-params.fast_period :].mean()
    slow = closes[-params.slow_period :].mean()
    trend_vote = np.clip((fast / slow - 1.0) / scale, -1.0, 1.0)
    momentum = closes[-1] / closes[-1 - params.momentum_period] - 1.0
    momentum_vote = np.clip(momentum / scale, -1.0, 1.0)
    score = round(float(trend_vote + momentum_vote) / 2.0, STRENGTH_PLACES)
    direction = 1 if score > 0 else -1 if score < 0 else 0
    return MarketView(direction, Decimal(str(abs(score))))
