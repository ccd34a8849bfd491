"""OrderRateLimit: at most `max_orders_per_minute` orders in any minute on the clock."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.base import RiskCheck, RiskDecision

_MINUTE_MS = 60_000


class OrderRateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_orders_per_minute: int = Field(
        default=60, ge=1, description="orders the bot may send in any sliding 60 seconds"
    )


class OrderRateLimit(RiskCheck):
    """Rejects an intent with `order_rate_limit` while `max_orders_per_minute` (default 60)
    orders were created in the last 60 seconds on the clock (a sliding window).

    The count is of orders the order manager actually took, every leg of every execution,
    not of intents this check approved (a later check or the execution may still drop those).
    Orders that reduce a position are limited too: the limit stands for the venue's quota,
    which counts every order. The cost is O(max_orders_per_minute) per intent, whatever the
    history: the order manager is walked back from its newest order only.
    """

    Params = OrderRateParams
    params: OrderRateParams

    def check(self, intent: TradeIntent) -> RiskDecision:
        limit = self.params.max_orders_per_minute
        since = self.context.clock.now_ms() - _MINUTE_MS + 1
        sent = self.context.orders.count_created_since(since, stop_at=limit)
        if sent < limit:
            return RiskDecision.approve()
        return RiskDecision.reject(
            RejectionReason.ORDER_RATE_LIMIT,
            f"{sent} orders sent in the last minute; max_orders_per_minute is {limit}",
        )
