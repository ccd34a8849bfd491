from decimal import Decimal

import pytest

from trading_bot.domain.enums import LiquiditySide, OrderType, Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order, OverfillError
from trading_bot.domain.order_status import (
    TERMINAL,
    TRANSITIONS,
    InvalidOrderTransition,
    OrderStatus,
)

D = Decimal


def order(amount: str = "1") -> Order:
    return Order("tb-x-0", "BTC/USDT", Side.BUY, OrderType.MARKET, D(amount), 0, "s1")


def fill(amount: str, price: str, trade_id: str = "t1", fee: str = "0") -> Fill:
    return Fill(
        trade_id,
        "tb-x-0",
        "BTC/USDT",
        Side.BUY,
        D(amount),
        D(price),
        D(fee),
        "USDT",
        LiquiditySide.TAKER,
        0,
    )


def test_happy_path_submitted_accepted_filled() -> None:
    o = order()
    o.transition(OrderStatus.SUBMITTED)
    o.transition(OrderStatus.ACCEPTED)
    o.apply_fill(fill("1", "100"))
    assert o.status is OrderStatus.FILLED
    assert not o.is_open


def test_partial_fills_accumulate_vwap_and_fees() -> None:
    o = order("3")
    o.transition(OrderStatus.SUBMITTED)
    o.apply_fill(fill("1", "100", "t1", "0.1"))
    assert o.status is OrderStatus.PARTIALLY_FILLED
    o.apply_fill(fill("2", "103", "t2", "0.2"))
    assert o.status is OrderStatus.FILLED
    assert o.average_fill_price == D("102")
    assert o.fees == D("0.3")
    assert o.remaining == 0


def test_overfill_is_refused_and_leaves_the_order_unchanged() -> None:
    o = order("1")
    o.transition(OrderStatus.SUBMITTED)
    with pytest.raises(OverfillError):
        o.apply_fill(fill("1.5", "100"))
    assert o.filled_amount == 0
    assert o.status is OrderStatus.SUBMITTED


def test_illegal_transition_raises() -> None:
    o = order()
    with pytest.raises(InvalidOrderTransition, match="initialized -> filled"):
        o.transition(OrderStatus.FILLED)


def test_fill_racing_a_cancel_request_is_allowed() -> None:
    o = order()
    for status in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PENDING_CANCEL):
        o.transition(status)
    o.apply_fill(fill("1", "100"))
    assert o.status is OrderStatus.FILLED


def test_terminal_states_only_admit_a_late_fill_and_every_state_is_in_the_table() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    for status in TERMINAL:
        assert TRANSITIONS[status] <= {OrderStatus.FILLED}
    assert TRANSITIONS[OrderStatus.FILLED] == frozenset()
    assert TRANSITIONS[OrderStatus.REJECTED] == frozenset()


def test_a_fill_confirmed_after_the_cancel_still_counts() -> None:
    o = order("2")
    for status in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.CANCELED):
        o.transition(status)
    o.apply_fill(fill("1", "100"))
    assert (o.status, o.filled_amount) == (OrderStatus.CANCELED, D(1))
    o.apply_fill(fill("1", "100", "t2"))
    assert o.status is OrderStatus.FILLED


def test_cancel_and_modify_requests_return_to_the_resting_state_when_refused() -> None:
    o = order("2")
    for status in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PENDING_CANCEL):
        o.transition(status)
    o.apply_fill(fill("1", "100"))
    assert o.status is OrderStatus.PENDING_CANCEL
    o.restore_after_pending()
    assert o.status is OrderStatus.PARTIALLY_FILLED
    o.transition(OrderStatus.PENDING_UPDATE)
    o.restore_after_pending()
    assert o.status is OrderStatus.PARTIALLY_FILLED
