"""Target-position signals: the bot trades from the position it will hold to the target,
and a target on the other side of zero is a close followed by an open.

Bars: opens 100..105 one minute apart (close = next open), taker fee 0.1% in USDT. A
signal at mm:30 fills at the open of the next bar; its reference price is the last close.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from trading_bot.app import Bot
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.intents import build_intents
from trading_bot.engine.signal_ledger import SignalStatus

D = Decimal


def target(signal_id: str, position: str, minute: int) -> Signal:
    return make_signal(
        signal_id=signal_id,
        side=None,
        size=None,
        target_position=position,
        created_at=T0 + minute * MINUTE + 30_000,
    )


def run(signals: list[Signal], balances: dict[str, str], *, until: int = 10, **config: Any) -> Bot:
    """Each signal at its time; then the clock runs to minute `until`."""
    exchange = {
        "class": "simulated",
        "params": {"balances": balances, "fees": {"maker": "0.001", "taker": "0.001"}},
    }
    bars = make_bars("BTC/USDT", ["100", "101", "102", "103", "104", "105"])
    bot = build_test_bot(loaded_config(exchange=exchange, **config), bars)
    for signal in signals:
        bot.clock.advance_to(signal.created_at or 0, inclusive=False)
        bot.kernel.submit_signal(signal)
    bot.clock.advance_to(T0 + until * MINUTE)
    return bot


def legs(bot: Bot, signal_id: str) -> list[tuple[Side, Decimal]]:
    return [(o.side, o.amount) for o in bot.orders.all_orders if o.signal_id == signal_id]


def test_a_reversal_closes_the_long_then_opens_the_short() -> None:
    bot = run([target("t1", "1", 0), target("t2", "-1", 2)], {"USDT": "10000", "BTC": "1"})
    assert legs(bot, "t2") == [(Side.SELL, D(1)), (Side.SELL, D(1))]
    assert [o.leg for o in bot.orders.all_orders if o.signal_id == "t2"] == [0, 1]
    assert bot.portfolio.position_quantity("BTC/USDT") == D(-1)
    # buy 1 @ 101 (fee 0.101), then sell 1 + 1 @ 103 (fee 0.206)
    assert bot.portfolio.balance("USDT") == D("10000") - D("101.101") + D("205.794")
    assert bot.portfolio.balance("BTC") == D(0)
    assert bot.portfolio.realized_pnl("BTC/USDT") == D(2)  # the long closed at 103 - 101
    record = bot.kernel.ledger.get(("", "t2"))
    assert record is not None and record.status is SignalStatus.EXECUTED


def test_a_reversal_from_short_to_long_buys_back_then_buys_the_long() -> None:
    bot = run([target("t1", "-1", 0), target("t2", "0.5", 2)], {"USDT": "10000", "BTC": "1"})
    assert legs(bot, "t2") == [(Side.BUY, D(1)), (Side.BUY, D("0.5"))]
    assert bot.portfolio.position_quantity("BTC/USDT") == D("0.5")


def test_the_close_of_a_reversal_is_not_capped_as_new_exposure() -> None:
    # One sell of 2 @ reference 102 (204) would be cut to 150 of value by max_order_notional;
    # split, the close passes as reducing and the open (102) is under the cap.
    risk = {
        "enabled": True,
        "checks": [{"class": "exposure", "params": {"max_order_notional": "150"}}],
    }
    first = make_signal(signal_id="t1", side=None, size=None, target_position="1",
                        created_at=T0 + MINUTE + 30_000)  # fmt: skip
    bot = run([first, target("t2", "-1", 2)], {"USDT": "10000", "BTC": "1"}, risk=risk)
    assert legs(bot, "t2") == [(Side.SELL, D(1)), (Side.SELL, D(1))]
    assert bot.portfolio.position_quantity("BTC/USDT") == D(-1)


def test_risk_cuts_only_the_open_part_of_a_reversal() -> None:
    risk = {
        "enabled": True,
        "checks": [{"class": "exposure", "params": {"max_order_notional": "51"}}],
    }
    first = make_signal(signal_id="t1", side=None, size=None, target_position="0.5",
                        created_at=T0 + MINUTE + 30_000)  # fmt: skip
    bot = run([first, target("t2", "-1", 2)], {"USDT": "10000", "BTC": "1"}, risk=risk)
    # buy 0.5 @ 102 (ref 101: 50.5 <= 51); close 0.5 passes; open 1 @ ref 102 cut to 51 / 102
    assert legs(bot, "t2") == [(Side.SELL, D("0.5")), (Side.SELL, D("0.5"))]
    assert bot.portfolio.position_quantity("BTC/USDT") == D("-0.5")
    # buy 0.5 @ 102 (fee 0.051), sell 1 @ 103 (fee 0.103)
    assert bot.portfolio.balance("USDT") == D("10000") - D("51.051") + D("102.897")


def test_on_spot_a_short_beyond_the_base_held_is_refused_but_the_close_still_goes() -> None:
    bot = run(
        [target("t1", "1", 0), target("t2", "-1", 2), target("t3", "-1", 4)], {"USDT": "10000"}
    )
    assert legs(bot, "t2") == [(Side.SELL, D(1))]  # the close; the open needs 1 more BTC
    assert bot.portfolio.position_quantity("BTC/USDT") == D(0)
    assert bot.portfolio.balance("BTC") == D(0)
    # t2 is executed (its close filled) and keeps why its open was not sent
    closed = bot.kernel.ledger.get(("", "t2"))
    assert closed is not None and closed.reason is RejectionReason.SHORT_NOT_POSSIBLE
    assert legs(bot, "t3") == []
    record = bot.kernel.ledger.get(("", "t3"))
    assert record is not None and record.reason is RejectionReason.SHORT_NOT_POSSIBLE
    assert record.detail == (
        "going 1 BTC short on BTC/USDT needs 1 BTC to sell, the spot account has 0 BTC free"
    )


def test_base_the_account_started_with_can_be_sold_short() -> None:
    bot = run([target("t1", "-0.4", 0)], {"USDT": "10000", "BTC": "0.5"})
    assert bot.portfolio.position_quantity("BTC/USDT") == D("-0.4")
    assert bot.portfolio.balance("BTC") == D("0.1")


def test_a_reversal_counts_orders_still_open_as_filled() -> None:
    bars = make_bars("BTC/USDT", ["100", "101", "102", "103", "104", "105"])
    bot = build_test_bot(loaded_config(), bars)
    bot.kernel.submit_signal(make_signal(signal_id="b", size="1"))  # open until 00:01
    # expected position 1: a target of -2 closes 1, then opens 2 (3 BTC to sell, none held)
    intents, refusal = build_intents(
        make_signal(signal_id="t", side=None, size=None, target_position="-2"), bot.kernel.context
    )
    assert refusal is not None and refusal.reason is RejectionReason.SHORT_NOT_POSSIBLE
    assert [(i.side, i.amount) for i in intents] == [(Side.SELL, D(1))]  # the close only


def sell(signal_id: str, size: str, minute: int) -> Signal:
    return make_signal(
        signal_id=signal_id, side="sell", size=size, created_at=T0 + minute * MINUTE + 30_000
    )


def test_a_spot_sell_beyond_the_free_base_is_refused_before_sending_and_a_flat_target_sells() -> (
    None
):
    # the black-box case: long 0.017 bought by the bot, 0.517 BTC held; "sell 0.6" then
    # "target 0" together. The sell used to go out (and be refused by the venue) while the
    # target counted it as pending and bought 0.583.
    bot = run(
        [target("t1", "0.017", 0), sell("tp-sell", "0.6", 2), target("tp-flat", "0", 2)],
        {"USDT": "10000", "BTC": "0.5"},
    )
    assert legs(bot, "tp-sell") == []  # nothing unfillable was sent or counted as pending
    refused = bot.kernel.ledger.get(("", "tp-sell"))
    assert refused is not None and refused.reason is RejectionReason.INSUFFICIENT_BALANCE
    assert refused.detail == (
        "selling 0.6 BTC on BTC/USDT needs 0.6 BTC, the spot account has 0.517 BTC free "
        "(0.517 held, 0 needed by open sells)"
    )
    assert legs(bot, "tp-flat") == [(Side.SELL, D("0.017"))]
    assert bot.portfolio.position_quantity("BTC/USDT") == D(0)
    assert bot.portfolio.balance("BTC") == D("0.5")


def test_a_spot_sell_counts_the_base_open_sells_already_need() -> None:
    # both at 02:30: the first is still open (it fills at the 03:00 open) when the second
    # arrives, so only 0.217 of the 0.517 is free for it
    bot = run(
        [
            target("t1", "0.017", 0),
            sell("s1", "0.3", 2),
            sell("s2", "0.3", 2),
            sell("s3", "0.2", 2),
        ],
        {"USDT": "10000", "BTC": "0.5"},
    )
    assert legs(bot, "s1") == [(Side.SELL, D("0.3"))]
    assert legs(bot, "s2") == []
    record = bot.kernel.ledger.get(("", "s2"))
    assert record is not None and record.reason is RejectionReason.INSUFFICIENT_BALANCE
    assert legs(bot, "s3") == [(Side.SELL, D("0.2"))]  # within what is left: it goes
    assert bot.portfolio.balance("BTC") == D("0.017")


def place(bot: Bot, side: Side, order_type: OrderType, amount: str, **prices: Decimal) -> Order:
    """An order placed outside any signal (by another strategy, say), left on the venue."""
    order = Order(
        client_order_id=f"{order_type.value}-{side.value}",
        symbol="BTC/USDT",
        side=side,
        order_type=order_type,
        amount=D(amount),
        created_ms=bot.clock.now_ms(),
        signal_id="elsewhere",
        **prices,
    )
    bot.orders.submit(order)
    return order


def target_later(bot: Bot, signal: Signal) -> None:
    """`signal` at its time, then two minutes for what it places to fill."""
    bot.clock.advance_to(signal.created_at or 0, inclusive=False)
    bot.kernel.submit_signal(signal)
    bot.clock.advance_to(bot.clock.now_ms() + 2 * MINUTE)


def test_a_flat_target_cancels_a_resting_buy_and_sells_what_is_held() -> None:
    # the black-box case: long 0.02, a limit buy of 0.01 resting far below, then target 0.
    # Counting the buy as pending made the target sell 0.03, more than the 0.02 held.
    bot = run([target("t1", "0.02", 0)], {"USDT": "10000"}, until=2)
    resting = place(bot, Side.BUY, OrderType.LIMIT, "0.01", price=D("50"))
    assert resting.is_open
    target_later(bot, target("flat", "0", 3))
    assert resting.status is OrderStatus.CANCELED
    assert legs(bot, "flat") == [(Side.SELL, D("0.02"))]
    assert bot.portfolio.position_quantity("BTC/USDT") == D(0)


def test_a_target_leaves_protective_stops_alone() -> None:
    bot = run([target("t1", "0.02", 0)], {"USDT": "10000"}, until=2)
    stop = place(bot, Side.SELL, OrderType.STOP_MARKET, "0.02", trigger_price=D("50"))
    target_later(bot, target("more", "0.05", 3))
    assert stop.is_open
    assert legs(bot, "more") == [(Side.BUY, D("0.03"))]
