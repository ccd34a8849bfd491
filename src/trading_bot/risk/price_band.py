"""PriceBandCheck: refuse limit prices far from the market (a fat finger)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.base import RiskCheck, RiskDecision


class PriceBandParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_deviation_pct: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        description="largest distance of a limit price from the last price, as a fraction of "
        "the last price (0.05 = 5%)",
    )
    without_price: Literal["reject", "pass"] = Field(
        default="reject",
        description="what to do with a limit order when no last price is known yet",
    )


class PriceBandCheck(RiskCheck):
    """A limit order whose price is more than `max_deviation_pct` (default 5%) away from the
    last price known now, on either side, is rejected with `price_band`. Market orders pass
    (they carry no price to get wrong).

    Orders that reduce a position are checked too: a sell at a tenth of the price closes a
    position at a loss just as surely as it would open one. With no last price known yet, a
    limit order is rejected with `no_market_data` (`without_price: reject`, the default) or
    let through (`without_price: pass`).
    """

    Params = PriceBandParams
    params: PriceBandParams

    def check(self, intent: TradeIntent) -> RiskDecision:
        limit_price = intent.limit_price
        if limit_price is None:
            return RiskDecision.approve()
        last = self.context.prices.last_price(intent.symbol)
        if last is None:
            if self.params.without_price == "pass":
                return RiskDecision.approve()
            return RiskDecision.reject(
                RejectionReason.NO_MARKET_DATA,
                f"no last price for {intent.symbol} to check limit price {limit_price} against",
            )
        deviation = abs(limit_price - last) / last
        if deviation <= self.params.max_deviation_pct:
            return RiskDecision.approve()
        return RiskDecision.reject(
            RejectionReason.PRICE_BAND,
            f"limit price {limit_price} is {deviation:.2%} from the last price {last} of "
            f"{intent.symbol}; max_deviation_pct is {self.params.max_deviation_pct:.2%}",
        )
