"""The kernel's side of execution algorithms that place orders over time: placers kept for
later legs, and order events forwarded to algorithms that follow their orders."""

from decimal import Decimal

from tests.conftest import T0, build_test_bot, loaded_config, make_signal
from trading_bot.market_data.bars import BarSeries

D = Decimal


def test_two_placers_of_one_signal_never_reuse_a_leg(btc_bars: BarSeries) -> None:
    """An algorithm may keep its placer for later legs (a bracket's protection) while another
    placer of the same signal placed legs meanwhile: client order ids stay distinct."""
    from trading_bot.domain.enums import OrderType, Side
    from trading_bot.engine.placer import SignalOrders

    bot = build_test_bot(loaded_config(), btc_bars)
    signal = make_signal()
    record = bot.kernel.ledger.received(signal, T0)
    first, second = (
        SignalOrders(bot.kernel, signal, record),
        SignalOrders(bot.kernel, signal, record),
    )
    legs = [
        placer.place(side=Side.BUY, order_type=OrderType.MARKET, amount=D("0.01")).leg
        for placer in (first, second, first, second)
    ]
    assert legs == [0, 1, 2, 3]


def test_order_events_reach_only_algorithms_that_follow_orders(btc_bars: BarSeries) -> None:
    from trading_bot.domain.events import OrderFilled

    market_bot = build_test_bot(loaded_config(), btc_bars)
    assert market_bot.kernel._to_execution not in market_bot.kernel.bus._handlers[OrderFilled]
    iceberg = loaded_config(execution={"class": "iceberg", "params": {"chunk_size": "1"}})
    iceberg_bot = build_test_bot(iceberg, btc_bars)
    handlers = iceberg_bot.kernel.bus._handlers[OrderFilled]
    assert handlers[-1] == iceberg_bot.kernel._to_execution  # after the ledger
