from decimal import Decimal

from tests.conftest import build_test_bot, loaded_config, make_bars, make_signal
from trading_bot.domain.enums import OrderType

D = Decimal


def bot_with_rules():  # type: ignore[no-untyped-def]
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000"},
                "markets": {
                    "BTC/USDT": {
                        "amount_step": "0.001",
                        "min_amount": "0.002",
                        "min_notional": "10",
                    }
                },
            },
        }
    )
    return build_test_bot(loaded, make_bars("BTC/USDT", ["1000"] * 5))


def test_amount_is_rounded_down_to_the_step_before_it_is_sent() -> None:
    bot = bot_with_rules()
    bot.kernel.submit_signal(make_signal(size="0.0129", price="1000"))
    (order,) = bot.orders.all_orders
    assert order.amount == D("0.012")
    assert order.order_type is OrderType.MARKET


def test_too_small_after_rounding_is_rejected_before_sending() -> None:
    bot = bot_with_rules()
    bot.kernel.submit_signal(make_signal(signal_id="a", size="0.0019"))
    bot.kernel.submit_signal(make_signal(signal_id="b", size="0.005", price="1000"))
    assert bot.orders.all_orders == []
    assert bot.kernel.ledger.rejection_counts() == {"below_min_amount": 1, "below_min_notional": 1}


def test_limit_signals_are_refused_not_sent_at_market() -> None:
    bot = bot_with_rules()
    bot.kernel.submit_signal(make_signal(order_type="limit", price="990"))
    assert bot.orders.all_orders == []
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None
    assert record.reason is not None
    assert record.reason.value == "unsupported_order_type"
    assert "limit" in record.detail


def test_client_order_id_is_derived_from_the_signal() -> None:
    from trading_bot.domain.ids import client_order_id

    bot = bot_with_rules()
    bot.kernel.submit_signal(make_signal(signal_id="abc", source="tv", size="0.01"))
    (order,) = bot.orders.all_orders
    assert order.client_order_id == client_order_id("tv", "abc", 0)
    assert (order.signal_id, order.source) == ("abc", "tv")
