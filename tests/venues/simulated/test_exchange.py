"""The simulated exchange's bar fill convention, with hand-computed expectations."""

from decimal import Decimal

import pytest

from tests.conftest import MINUTE, T0, make_bars
from tests.venues.simulated.harness import Recorder
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import SimulatedClock
from trading_bot.venues.simulated.exchange import SimulatedExchange

D = Decimal


def venue(
    balances: dict[str, str], taker: str = "0.001"
) -> tuple[SimulatedExchange, Recorder, SimulatedClock]:
    exchange = SimulatedExchange({"balances": balances, "fees": {"taker": taker, "maker": "0"}})
    exchange.add_market_data(make_bars("BTC/USDT", ["100", "110", "120", "130"]))
    clock = SimulatedClock(T0)
    recorder = Recorder(clock)
    exchange.bind(recorder, clock)
    return exchange, recorder, clock


def order(side: Side, amount: str, coid: str = "c1", expires: int | None = None) -> Order:
    return Order(coid, "BTC/USDT", side, OrderType.MARKET, D(amount), 0, "s", expires_at_ms=expires)


def test_market_order_fills_at_the_open_of_the_first_bar_at_or_after_its_time() -> None:
    exchange, recorder, clock = venue({"USDT": "1000"})
    clock.advance_to(T0 + 1, inclusive=False)  # just after the 00:00 bar opened
    exchange.submit_order(order(Side.BUY, "2"))
    clock.advance_to(T0 + 10 * MINUTE)
    (fill,) = recorder.fills()
    assert fill.price == D("110")
    assert fill.ts_ms == T0 + MINUTE
    assert fill.fee == D("0.220")  # 0.1% of 220, in USDT
    assert fill.fee_asset == "USDT"
    assert exchange.balances() == {"USDT": D("1000") - D("220") - D("0.22"), "BTC": D("2")}


def test_order_at_exactly_a_bar_open_fills_on_that_bar() -> None:
    exchange, recorder, clock = venue({"USDT": "1000"})
    clock.advance_to(T0 + MINUTE, inclusive=False)
    exchange.submit_order(order(Side.BUY, "1"))
    clock.advance_to(T0 + 10 * MINUTE)
    assert recorder.fills()[0].price == D("110")


def test_sell_proceeds_are_net_of_the_fee() -> None:
    exchange, _, clock = venue({"BTC": "1"}, taker="0.002")
    exchange.submit_order(order(Side.SELL, "0.5"))
    clock.advance_to(T0 + 10 * MINUTE)
    assert exchange.balances() == {"BTC": D("0.5"), "USDT": D("50") - D("0.1")}


@pytest.mark.parametrize(
    ("balances", "side", "amount"),
    [
        ({"USDT": "100"}, Side.BUY, "1"),  # 100 + 0.1 fee > 100
        ({"BTC": "0.5"}, Side.SELL, "0.6"),
        ({}, Side.SELL, "0.1"),
    ],
)
def test_unaffordable_orders_are_rejected_insufficient_balance(
    balances: dict[str, str], side: Side, amount: str
) -> None:
    exchange, recorder, clock = venue(balances)
    exchange.submit_order(order(side, amount))
    clock.advance_to(T0 + 10 * MINUTE)
    assert recorder.rejections() == [RejectionReason.INSUFFICIENT_BALANCE]
    assert recorder.fills() == []
    assert exchange.balances() == {k: D(v) for k, v in balances.items()}


def test_a_buy_costing_exactly_the_balance_with_fee_fills() -> None:
    exchange, recorder, clock = venue({"USDT": "100.1"})
    exchange.submit_order(order(Side.BUY, "1"))
    clock.advance_to(T0 + 10 * MINUTE)
    assert len(recorder.fills()) == 1
    assert exchange.balances()["USDT"] == 0


def test_unknown_symbol_and_no_bar_left_are_rejected_with_their_reasons() -> None:
    exchange, recorder, clock = venue({"USDT": "1000"})
    exchange.submit_order(Order("c1", "ETH/USDT", Side.BUY, OrderType.MARKET, D(1), 0, "s"))
    clock.advance_to(T0 + 3 * MINUTE + 1, inclusive=False)
    exchange.submit_order(order(Side.BUY, "1", "c2"))
    assert recorder.rejections() == [RejectionReason.UNKNOWN_ASSET, RejectionReason.NO_MARKET_DATA]


def test_order_whose_fill_bar_is_past_its_expiry_expires() -> None:
    exchange, recorder, clock = venue({"USDT": "1000"})
    clock.advance_to(T0 + 1, inclusive=False)
    exchange.submit_order(order(Side.BUY, "1", expires=T0 + 30_000))
    clock.advance_to(T0 + 10 * MINUTE)
    assert recorder.events == [("expired", "c1", RejectionReason.EXPIRED)]


def test_orders_waiting_for_the_same_bar_fill_in_arrival_order_against_the_balance() -> None:
    exchange, recorder, clock = venue({"USDT": "250"})
    exchange.submit_order(order(Side.BUY, "1", "c1"))
    exchange.submit_order(order(Side.BUY, "1", "c2"))
    exchange.submit_order(order(Side.BUY, "1", "c3"))
    clock.advance_to(T0 + 10 * MINUTE)
    assert [f.client_order_id for f in recorder.fills()] == ["c1", "c2"]
    assert recorder.rejections() == [RejectionReason.INSUFFICIENT_BALANCE]


def test_cancel_before_the_bar_removes_the_order() -> None:
    exchange, recorder, clock = venue({"USDT": "1000"})
    pending = order(Side.BUY, "1")
    exchange.submit_order(pending)
    exchange.cancel_order(pending)
    clock.advance_to(T0 + 10 * MINUTE)
    assert recorder.events == [("canceled", "c1")]


def test_market_rules_are_enforced_with_venue_reasons() -> None:
    exchange = SimulatedExchange(
        {
            "balances": {"USDT": "1000"},
            "markets": {
                "BTC/USDT": {"amount_step": "0.01", "min_amount": "0.05", "min_notional": "6"}
            },
        }
    )
    exchange.add_market_data(make_bars("BTC/USDT", ["100", "100"]))
    clock = SimulatedClock(T0)
    recorder = Recorder(clock)
    exchange.bind(recorder, clock)
    exchange.submit_order(order(Side.BUY, "0.015", "a"))
    exchange.submit_order(order(Side.BUY, "0.04", "b"))
    exchange.submit_order(order(Side.BUY, "0.05", "c"))
    clock.advance_to(T0 + MINUTE)
    assert recorder.rejections() == [
        RejectionReason.INVALID_AMOUNT_PRECISION,
        RejectionReason.BELOW_MIN_AMOUNT,
        RejectionReason.BELOW_MIN_NOTIONAL,
    ]


def test_params_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="balances"):
        SimulatedExchange({"balances": {"USDT": "-1"}})
    with pytest.raises(ValidationError, match="taker"):
        SimulatedExchange({"fees": {"taker": "1.5"}})


def test_an_exchange_used_before_it_is_bound_says_so() -> None:
    exchange = SimulatedExchange({"balances": {"USDT": "100"}})
    exchange.add_market_data(make_bars("BTC/USDT", ["100", "101"]))
    order = Order("c1", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.1"), T0, "s1")
    with pytest.raises(RuntimeError, match="not bound to an order manager"):
        exchange.submit_order(order)


def test_a_client_order_id_is_taken_once_whether_its_order_is_open_or_finished() -> None:
    exchange, recorder, clock = venue({"USDT": "1000"})
    first = order(Side.BUY, "1")
    exchange.submit_order(first)
    exchange.submit_order(first)  # while open
    clock.advance_to(T0 + MINUTE)
    exchange.submit_order(first)  # after it filled
    clock.advance_to(T0 + 10 * MINUTE)
    assert recorder.rejections() == [RejectionReason.DUPLICATE_ORDER] * 2
    assert len(recorder.fills()) == 1
    assert exchange.balances() == {"USDT": D("1000") - D("100") - D("0.1"), "BTC": D("1")}


def test_an_order_refused_on_sight_does_not_take_its_client_order_id() -> None:
    exchange, recorder, clock = venue({"USDT": "1000"})
    exchange.submit_order(order(Side.BUY, "0"))  # below the minimum amount: never opened
    exchange.submit_order(order(Side.BUY, "1"))
    clock.advance_to(T0 + 10 * MINUTE)
    assert recorder.rejections() == [RejectionReason.BELOW_MIN_AMOUNT]
    assert len(recorder.fills()) == 1
