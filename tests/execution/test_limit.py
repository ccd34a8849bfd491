from decimal import Decimal

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from trading_bot.domain.enums import OrderType, TimeInForce
from trading_bot.domain.order_status import OrderStatus

D = Decimal


def bot(**params: object):  # type: ignore[no-untyped-def]
    loaded = loaded_config(
        execution={"class": "limit", "params": params},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000", "BTC": "10"},
                "markets": {"BTC/USDT": {"price_step": "0.5"}},
            },
        },
    )
    return build_test_bot(loaded, make_bars("BTC/USDT", ["100", "100", "98", "97", "99", "101"]))


def test_limit_signal_places_a_limit_at_its_price_with_the_configured_time_in_force() -> None:
    b = bot(time_in_force="ioc")
    b.kernel.submit_signal(make_signal(order_type="limit", price="99"))
    (order,) = b.orders.all_orders
    assert (order.order_type, order.price, order.time_in_force) == (
        OrderType.LIMIT,
        D("99"),
        TimeInForce.IOC,
    )


def test_without_a_price_the_limit_is_offset_from_the_last_price_on_the_grid() -> None:
    b = bot(offset_bps="25")
    b.clock.advance_to(T0 + 2 * MINUTE, inclusive=False)  # last closed bar: close 98
    b.kernel.submit_signal(make_signal(signal_id="b", side="buy"))
    b.kernel.submit_signal(make_signal(signal_id="s", side="sell"))
    buy, sell = b.orders.all_orders
    assert buy.price == D("97.5")  # 98 x 0.9975 = 97.755, down to the 0.5 grid
    assert sell.price == D("98.5")  # 98 x 1.0025 = 98.245, up to the grid


def test_timeout_cancels_what_is_still_open() -> None:
    b = bot(timeout_s="90")
    b.kernel.submit_signal(make_signal(order_type="limit", price="50"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    (order,) = b.orders.all_orders
    assert order.status is OrderStatus.CANCELED
    assert b.kernel.ledger.rejection_counts() == {"timed_out": 1}


def test_a_resting_limit_fills_through_the_whole_pipeline() -> None:
    b = bot()
    b.kernel.submit_signal(make_signal(order_type="limit", price="97.5", size="2"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    # bar 2 (open 98, close 97) trades through 97.5: a maker fill at the limit, at its close
    assert [(f.price, f.amount, f.ts_ms) for f in b.portfolio.fills] == [
        (D("97.5"), D("2"), T0 + 3 * MINUTE)
    ]

    assert b.portfolio.balance("BTC") == D("12")


def test_timeout_with_reprice_replaces_the_rest_at_the_current_price() -> None:
    b = bot(timeout_s="90", on_timeout="reprice", max_reprices=2, offset_bps="100")
    b.clock.advance_to(T0 + 2 * MINUTE, inclusive=False)  # last close: 98
    b.kernel.submit_signal(make_signal(side="sell", created_at=T0 + 2 * MINUTE - 1))
    b.clock.advance_to(T0 + 10 * MINUTE)
    orders = b.orders.all_orders
    # leg 0: 98 x 1.01 up to the grid = 99, untouched for 90 s; leg 1 at the then last close
    # 97 x 1.01 = 98 (grid), which the next bar (high 99) trades through
    assert [(o.leg, o.price, o.status, o.created_ms - T0) for o in orders] == [
        (0, D("99.0"), OrderStatus.CANCELED, 120_000),
        (1, D("98.0"), OrderStatus.FILLED, 210_000),
    ]
    assert all(o.timeout_at_ms == o.created_ms + 90_000 for o in orders)
    assert b.kernel.ledger.rejection_counts() == {}
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.client_order_ids == [o.client_order_id for o in orders]


def test_reprices_stop_at_max_reprices() -> None:
    b = bot(timeout_s="90", on_timeout="reprice", max_reprices=2, offset_bps="5000")
    b.kernel.submit_signal(make_signal(side="buy", order_type="limit", price="50"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    orders = b.orders.all_orders
    # 50% below the last close each time (100, then 97): never fills, gives up after leg 2
    assert [(o.leg, o.price) for o in orders] == [(0, D("50")), (1, D("50")), (2, D("48.5"))]
    assert all(o.status is OrderStatus.CANCELED for o in orders)
    assert b.kernel.ledger.rejection_counts() == {"timed_out": 1}


def test_reprice_never_goes_past_the_signals_own_limit_price() -> None:
    b = bot(timeout_s="90", on_timeout="reprice", max_reprices=2, offset_bps="0")
    b.kernel.submit_signal(make_signal(side="buy", order_type="limit", price="90"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    assert [(o.leg, o.price) for o in b.orders.all_orders] == [
        (0, D("90")),
        (1, D("90")),  # the market is at 100: re-placed at the signal's 90, not chased
        (2, D("90")),
    ]


def test_reprices_of_a_signal_price_off_the_grid_are_rounded_like_the_first_order() -> None:
    loaded = loaded_config(
        execution={
            "class": "limit",
            "params": {"timeout_s": "90", "on_timeout": "reprice", "max_reprices": 2},
        },
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000", "BTC": "10"},
                "markets": {"BTC/USDT": {"price_step": "0.01"}},
            },
        },
    )
    opens = ["40100", "40100", "40120", "40110", "40130", "40100"]
    b = build_test_bot(loaded, make_bars("BTC/USDT", opens))
    # the market stays between 40100 and 40130: neither limit is reached, every leg times out
    b.kernel.submit_signal(
        make_signal(signal_id="b", side="buy", size="0.01", order_type="limit", price="40000.005")
    )
    b.kernel.submit_signal(
        make_signal(signal_id="s", side="sell", size="0.01", order_type="limit", price="40200.005")
    )
    b.clock.advance_to(T0 + 10 * MINUTE)
    orders = b.orders.all_orders
    # a buy rounds down to 40000.00, a sell up to 40200.01, on every leg: the market is past
    # the signal's limit each time, so each re-price is capped at that limit, on the grid
    assert [(o.signal_id, o.leg, o.price, o.status) for o in orders] == [
        ("b", 0, D("40000.00"), OrderStatus.CANCELED),
        ("s", 0, D("40200.01"), OrderStatus.CANCELED),
        ("b", 1, D("40000.00"), OrderStatus.CANCELED),
        ("s", 1, D("40200.01"), OrderStatus.CANCELED),
        ("b", 2, D("40000.00"), OrderStatus.CANCELED),
        ("s", 2, D("40200.01"), OrderStatus.CANCELED),
    ]
    assert b.kernel.ledger.rejection_counts() == {"timed_out": 2}
