"""MarketOrderExecution: one market order for the whole intent."""

from __future__ import annotations

from typing import Final

from mypy_extensions import mypyc_attr

from trading_bot.domain.enums import OrderType
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.execution.base import ExecutionAlgorithm, OrderPlacer

_MARKET: Final = OrderType.MARKET


@mypyc_attr(allow_interpreted_subclasses=True)  # `execution.class` may name a subclass of it
class MarketOrderExecution(ExecutionAlgorithm):
    """Rounds the amount down to the market's amount step, checks the minimum amount and
    notional (valued at the intent's reference price) and sends a market order. Signals that
    ask for a limit order are refused (`unsupported_order_type`) rather than silently sent at
    market: choose the `limit` execution for those."""

    def execute(self, intent: TradeIntent, placer: OrderPlacer) -> Rejection | None:
        if intent.order_type is not _MARKET:
            return Rejection(
                RejectionReason.UNSUPPORTED_ORDER_TYPE,
                f"execution 'market' places market orders only; the signal asked for a "
                f"{intent.order_type} order at {intent.limit_price}",
            )
        market = self.context.market(intent.symbol)
        if market is None:
            return Rejection(RejectionReason.UNKNOWN_ASSET, f"no market {intent.symbol}")
        amount = market.round_amount(intent.amount)
        problem = market.check_order(amount, intent.reference_price)
        if problem is not None:
            value = (
                f" (~{amount * intent.reference_price} {market.quote})"
                if intent.reference_price
                else ""
            )
            return Rejection(
                problem,
                f"{intent.symbol} {intent.side} {amount}{value}: min amount {market.min_amount}, "
                f"min notional {market.min_notional}, amount step {market.amount_step}",
            )
        placer.place(side=intent.side, order_type=_MARKET, amount=amount)
        return None
