"""The execution algorithm interface."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar, Protocol

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import Rejection
from trading_bot.domain.signal import Signal
from trading_bot.engine.component import Component


class OrderPlacer(Protocol):
    """Places orders for one signal: gives each its deterministic client order id and sends it
    through the order manager (write-ahead, then the venue)."""

    @property
    def signal(self) -> Signal:
        """The signal the orders are for."""
        ...

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
        """`outlives_signal`: the order is not bound to the signal's expiry (a stop-loss
        protecting a filled position must not expire with the signal that opened it)."""
        ...

    def stopped(self, rejection: Rejection) -> None:
        """The algorithm gave up on the rest of the signal: the signal's outcome keeps why
        (even if part of it already filled)."""
        ...

    def refusal(self, side: Side, amount: Decimal) -> Rejection | None:
        """Why the bot's trading state or the order rate limit (`order_rate` checks)
        refuses a follow-up order now (an iceberg chunk, a TWAP slice placed later on the
        clock), None if it may go. The signal's first order
        already passed the state with its intent; protection legs, which only close, need not
        ask."""
        ...


class ExecutionAlgorithm(Component):
    # Whether it places the signal's stop_loss / take_profit; the kernel reports signals whose
    # protection an algorithm without it leaves unplaced.
    places_protection: ClassVar[bool] = False
    # Whether the kernel calls `on_order_event` for every order fill, cancel, reject and
    # expiry: off for the one-shot algorithms, so their order path pays nothing for it.
    follows_orders: ClassVar[bool] = False
    # Whether it keeps orders still to send in memory only (iceberg chunks, TWAP slices): a
    # restart loses them, and the start names each signal whose remainder is given up.
    plans_in_memory: ClassVar[bool] = False
    # Where an algorithm raises what needs a human now (a position left without its stop):
    # (title, body). The running service points it at its Alerter; unset (backtests), the
    # algorithm's own ERROR line is all there is.
    alarm: Callable[[str, str], None] | None = None

    @abstractmethod
    def execute(self, intent: TradeIntent, placer: OrderPlacer) -> Rejection | None:
        """Place the orders for `intent` (now or later, on the clock), or say why not."""

    def stop(self) -> None:
        """The run is ending (end of a backtest): stop anything scheduled for later."""

    def on_timeout(self, order: Order, placer: OrderPlacer) -> None:
        """`order`, placed with a timeout, was canceled unfilled (or partly filled) when it
        ran out. The default gives up on the rest; an algorithm may place a new leg."""

    def on_order_event(self, order: Order) -> None:
        """`order` filled (partly or fully), or was canceled, rejected or expired (with
        `follows_orders`). Called for every order, after the portfolio and the signal ledger
        saw the event: an algorithm ignores orders it did not place."""

    def on_request_refused(self, order: Order, request: str) -> None:
        """The venue refused to `request` ("cancel" or "modify") `order`, which stays as it
        was (with `follows_orders`; every order, as `on_order_event`)."""
