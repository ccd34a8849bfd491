"""The `OrderPlacer` the kernel hands an execution algorithm for one signal.

It numbers the signal's orders (legs 0, 1, 2...) so their client order ids come out the same
every time the same signal is processed, tells the ledger of each order before the venue can
answer, and asks the trading state and the order rate limit about follow-up orders placed
later on the clock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.ids import client_order_id
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.signal_ledger import SignalRecord
from trading_bot.risk.order_rate import OrderRateLimit

if TYPE_CHECKING:
    from trading_bot.engine.kernel import TradingKernel


class SignalOrders:
    """The `OrderPlacer` handed to execution for one signal: legs numbered 0, 1, 2... so the
    client order ids are the same every time the same signal is processed."""

    __slots__ = ("_kernel", "_next_leg", "_record", "_signal")

    def __init__(self, kernel: TradingKernel, signal: Signal, record: SignalRecord) -> None:
        self._kernel = kernel
        self._signal = signal
        self._record = record
        self._next_leg = len(record.client_order_ids)

    @property
    def signal(self) -> Signal:
        return self._signal

    @property
    def expiry_ms(self) -> int | None:
        """When the signal goes stale (`Signal.expiry_from` its receipt)."""
        return self._signal.expiry_from(self._record.received_ms)

    def place(
        self,
        *,
        side: Side,
        order_type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        oco_group: str | None = None,
        timeout_ms: int | None = None,
        outlives_signal: bool = False,
    ) -> Order:
        signal = self._signal
        now = self._kernel.context.clock.now_ms()
        # another placer of the same signal (a reversal's second intent, a re-price) may have
        # placed legs since this one was made: an algorithm that keeps its placer for later
        # legs must not reuse their numbers
        self._next_leg = max(self._next_leg, len(self._record.client_order_ids))
        user = signal.metadata.get("user")
        order = Order(
            client_order_id=client_order_id(signal.source, signal.signal_id, self._next_leg),
            symbol=signal.asset,
            side=side,
            order_type=order_type,
            amount=amount,
            price=price,
            trigger_price=trigger_price,
            time_in_force=time_in_force,
            post_only=post_only,
            oco_group=oco_group,
            created_ms=now,
            signal_id=signal.signal_id,
            source=signal.source,
            strategy=signal.strategy,
            expires_at_ms=(
                None if outlives_signal else signal.expiry_from(self._record.received_ms)
            ),
            leg=self._next_leg,
            user=str(user) if user is not None else None,
            timeout_at_ms=now + timeout_ms if timeout_ms is not None else None,
        )
        self._next_leg += 1
        ledger = self._kernel.ledger
        # The ledger learns of the order first: a synchronous venue may answer inside submit.
        ledger.order_placed(self._record, order.client_order_id)
        try:
            self._kernel.orders.submit(order)
        except Exception:
            ledger.order_unplaced(self._record, order.client_order_id)
            raise
        return order

    def stopped(self, rejection: Rejection) -> None:
        self._kernel.ledger.stopped(self._record, rejection.reason, rejection.detail)

    def refusal(self, side: Side, amount: Decimal) -> Rejection | None:
        kernel = self._kernel
        signal = self._signal
        intent = TradeIntent(signal, signal.asset, side, amount, OrderType.MARKET, None)
        admitted = kernel.trading.admit(kernel.context, intent)
        if isinstance(admitted, Rejection):
            return admitted
        if admitted.amount != amount:  # REDUCING: only part of it closes a position
            return Rejection(
                RejectionReason.TRADING_REDUCING,
                f"trading is reducing: only {admitted.amount} of {amount} would close a position",
            )
        # The order rate stands for the venue's quota, which counts every order: a follow-up
        # order counts as much as a first one. The other checks judged the whole intent
        # (its unsent rest is planned exposure), so they are not asked again per child.
        for check in kernel.risk.checks:
            if isinstance(check, OrderRateLimit):
                rejection = check.check(intent).rejection
                if rejection is not None:
                    return rejection
        return None
