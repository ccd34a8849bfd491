"""LimitOrderExecution: one limit order per intent, optionally canceled after a timeout."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import Market
from trading_bot.domain.money import ceil_to_step, floor_to_step
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.execution.base import ExecutionAlgorithm, OrderPlacer

BPS = Decimal(10_000)


class LimitParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = Field(
        default=False, description="only rest as maker; rejected if it would cross"
    )
    offset_bps: Decimal = Field(
        default=Decimal(0),
        ge=0,
        lt=BPS,
        description="without a signal price: this far below (buy) or above (sell) the last price",
    )
    timeout_s: Decimal | None = Field(
        default=None, gt=0, description="cancel what is still open after this many seconds"
    )
    on_timeout: Literal["cancel", "reprice"] = Field(
        default="cancel",
        description="after a timeout: give up on the rest, or re-place it at a fresh price",
    )
    max_reprices: int = Field(default=3, ge=0, le=100, description="re-prices per signal")


def _on_grid(price: Decimal, side: Side, market: Market) -> Decimal:
    """`price` on the market's price grid, rounded the way that never pays more than asked: a
    buy down, a sell up (the venue refuses a price off its grid)."""
    step = market.price_step
    return floor_to_step(price, step) if side is Side.BUY else ceil_to_step(price, step)


class LimitOrderExecution(ExecutionAlgorithm):
    """The limit price is the signal's `price`, else the last known price moved by
    `offset_bps` in the trader's favour, on the market's price grid (a buy rounds down, a sell
    up). The amount is rounded down to the amount step and checked against the minimums at the
    limit price. With `timeout_s`, the order manager cancels it if still open then (the deadline is
    stored with the order, so it holds across restarts) and `on_timeout: reprice` re-places the
    unfilled rest at the then-current price, up to `max_reprices` times."""

    Params = LimitParams
    params: LimitParams

    def execute(self, intent: TradeIntent, placer: OrderPlacer) -> Rejection | None:
        market = self.context.market(intent.symbol)
        if market is None:
            return Rejection(RejectionReason.UNKNOWN_ASSET, f"no market {intent.symbol}")
        price = intent.limit_price if intent.limit_price is not None else intent.signal.price
        if price is None:
            if intent.reference_price is None:
                return Rejection(
                    RejectionReason.NO_MARKET_DATA,
                    f"no price for {intent.symbol} to place a limit at",
                )
            shift = self.params.offset_bps / BPS
            price = intent.reference_price * (1 - shift if intent.side is Side.BUY else 1 + shift)
        price = _on_grid(price, intent.side, market)
        amount = market.round_amount(intent.amount)
        problem = market.check_order(amount, price)
        if problem is not None:
            return Rejection(
                problem,
                f"{intent.symbol} {intent.side} {amount} at {price}: min amount {market.min_amount}, "
                f"min notional {market.min_notional}, amount step {market.amount_step}",
            )
        placer.place(
            side=intent.side,
            order_type=OrderType.LIMIT,
            amount=amount,
            price=price,
            time_in_force=self.params.time_in_force,
            post_only=self.params.post_only,
            timeout_ms=self._timeout_ms(),
        )
        return None

    def on_timeout(self, order: Order, placer: OrderPlacer) -> None:
        """Re-place the unfilled rest at the price a new signal would get now, but never past
        the signal's own limit `price` (its legs 1..N are the re-prices, so `max_reprices`
        holds across restarts)."""
        if self.params.on_timeout != "reprice" or order.leg >= self.params.max_reprices:
            return
        reference = self.context.prices.last_price(order.symbol)
        market = self.context.market(order.symbol)
        if reference is None or market is None:
            return
        shift = self.params.offset_bps / BPS
        side = order.side
        price = reference * (1 - shift if side is Side.BUY else 1 + shift)
        limit = placer.signal.price
        if limit is not None:
            price = min(price, limit) if side is Side.BUY else max(price, limit)
        price = _on_grid(price, side, market)  # the signal's limit may be off the grid too
        amount = market.round_amount(order.remaining)
        if market.check_order(amount, price) is not None:
            return  # the rest is too small to trade on its own
        placer.place(
            side=side,
            order_type=OrderType.LIMIT,
            amount=amount,
            price=price,
            time_in_force=self.params.time_in_force,
            post_only=self.params.post_only,
            timeout_ms=self._timeout_ms(),
        )

    def _timeout_ms(self) -> int | None:
        timeout = self.params.timeout_s
        return int(timeout * 1000) if timeout is not None else None
