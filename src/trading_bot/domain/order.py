"""An order and its lifecycle bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.money import ZERO
from trading_bot.domain.order_status import (
    TERMINAL,
    TRANSITIONS,
    InvalidOrderTransition,
    OrderStatus,
)
from trading_bot.domain.rejections import RejectionReason

_PENDING: Final = frozenset({OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_UPDATE})
# enum members as module constants: `OrderStatus.FILLED` is a slow class attribute lookup on 3.11
_ACCEPTED: Final = OrderStatus.ACCEPTED
_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
_FILLED: Final = OrderStatus.FILLED


class OverfillError(Exception):
    """A fill would take an order past its amount: refused, never applied."""


@dataclass(slots=True, eq=False, init=False)
class Order:
    """One order the bot placed (or intends to place), attributed to the signal behind it.

    Its `__init__` is written out: compiled (see trading_bot/compiled.py) it builds an order
    about ten times faster than the one `dataclass` generates, which runs interpreted. A test
    holds its parameters to the fields.
    """

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal
    created_ms: int
    signal_id: str
    source: str = ""
    strategy: str | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    oco_group: str | None = None
    expires_at_ms: int | None = None
    leg: int = 0
    user: str | None = None
    # still unfilled at this time: the order manager cancels it (see `timed_out`)
    timeout_at_ms: int | None = None
    timed_out: bool = False
    status: OrderStatus = OrderStatus.INITIALIZED
    status_before_pending: OrderStatus | None = None
    venue_order_id: str | None = None
    filled_amount: Decimal = ZERO
    filled_notional: Decimal = ZERO
    fees: Decimal = ZERO
    reject_reason: RejectionReason | None = None
    reject_detail: str = ""
    # when recovery last sent it, or (restored from the store) the last write of its row, which
    # comes after any earlier send: the venue may still receive a request until this time plus
    # its receive window, so "not found" before then is not final
    sent_ms: int | None = None

    def __init__(
        self,
        client_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        amount: Decimal,
        created_ms: int,
        signal_id: str,
        source: str = "",
        strategy: str | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        oco_group: str | None = None,
        expires_at_ms: int | None = None,
        leg: int = 0,
        user: str | None = None,
        timeout_at_ms: int | None = None,
        timed_out: bool = False,
        status: OrderStatus = OrderStatus.INITIALIZED,
        status_before_pending: OrderStatus | None = None,
        venue_order_id: str | None = None,
        filled_amount: Decimal = ZERO,
        filled_notional: Decimal = ZERO,
        fees: Decimal = ZERO,
        reject_reason: RejectionReason | None = None,
        reject_detail: str = "",
        sent_ms: int | None = None,
    ) -> None:
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.amount = amount
        self.created_ms = created_ms
        self.signal_id = signal_id
        self.source = source
        self.strategy = strategy
        self.price = price
        self.trigger_price = trigger_price
        self.time_in_force = time_in_force
        self.post_only = post_only
        self.oco_group = oco_group
        self.expires_at_ms = expires_at_ms
        self.leg = leg
        self.user = user
        self.timeout_at_ms = timeout_at_ms
        self.timed_out = timed_out
        self.status = status
        self.status_before_pending = status_before_pending
        self.venue_order_id = venue_order_id
        self.filled_amount = filled_amount
        self.filled_notional = filled_notional
        self.fees = fees
        self.reject_reason = reject_reason
        self.reject_detail = reject_detail
        self.sent_ms = sent_ms

    def transition(self, new_status: OrderStatus) -> None:
        status = self.status
        if new_status is status and new_status is _PARTIALLY_FILLED:
            return
        if new_status not in TRANSITIONS[status]:
            raise InvalidOrderTransition(self.client_order_id, status, new_status)
        if new_status in _PENDING and status not in _PENDING:
            self.status_before_pending = status
        self.status = new_status

    def restore_after_pending(self) -> None:
        """A cancel or modify request ended without closing the order: back to where it was
        (or to PARTIALLY_FILLED if fills arrived meanwhile)."""
        if self.status not in _PENDING:
            return
        back = self.status_before_pending or _ACCEPTED
        if self.filled_amount > 0:
            back = _PARTIALLY_FILLED
        self.status = back
        self.status_before_pending = None

    def apply_fill(self, fill: Fill) -> None:
        """Accumulate a fill and move to PARTIALLY_FILLED or FILLED."""
        amount = fill.amount
        total = self.filled_amount + amount
        if total > self.amount:
            raise OverfillError(
                f"order {self.client_order_id}: fill {fill.trade_id} of {fill.amount} would fill "
                f"{total} of {self.amount}"
            )
        if total == self.amount:
            self.transition(_FILLED)
        elif self.status not in _PENDING and self.status not in TERMINAL:
            # a fill does not end a pending cancel/modify, and a late fill on a canceled or
            # expired order is money that moved: counted, while the order stays closed
            self.transition(_PARTIALLY_FILLED)
        self.filled_amount = total

        self.filled_notional += amount * fill.price  # fill.notional
        self.fees += fill.fee

    @property
    def average_fill_price(self) -> Decimal | None:
        """Volume-weighted average price of the fills so far."""
        if self.filled_amount == 0:
            return None
        return self.filled_notional / self.filled_amount

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled_amount

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL
