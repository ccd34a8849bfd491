from decimal import Decimal

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_signal
from trading_bot.app import Bot
from trading_bot.domain.enums import OrderType
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.signal_ledger import InvalidSignal, SignalStatus
from trading_bot.execution.base import ExecutionAlgorithm, OrderPlacer
from trading_bot.market_data.bars import BarSeries
from trading_bot.strategy.base import Strategy

D = Decimal


def deliver(bot: Bot, signal: Signal) -> None:
    """Hand a signal to the kernel at its own time, as the backtest runner does."""
    bot.clock.advance_to(signal.created_at or 0, inclusive=False)
    bot.kernel.submit_signal(signal)


def test_signal_flows_to_a_fill_and_the_portfolio(btc_bars: BarSeries) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    deliver(bot, make_signal(created_at=T0 + 30_000))
    bot.clock.advance_to(T0 + 10 * MINUTE)
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.status is SignalStatus.EXECUTED
    # filled at the open of the 00:01 bar (101) plus 0.1% taker fee in USDT
    assert bot.portfolio.balance("BTC") == D("0.1")
    assert bot.portfolio.balance("USDT") == D("10000") - D("10.1") - D("0.0101")


def test_duplicate_signal_places_no_second_order(btc_bars: BarSeries) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    bot.kernel.submit_signal(make_signal())
    bot.kernel.submit_signal(make_signal(size="5"))
    bot.clock.advance_to(T0 + 10 * MINUTE)
    assert len(bot.orders.all_orders) == 1
    assert bot.kernel.ledger.rejection_counts() == {"duplicate": 1}
    assert bot.portfolio.balance("BTC") == D("0.1")


def test_same_signal_id_from_another_source_is_not_a_duplicate(btc_bars: BarSeries) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    bot.kernel.submit_signal(make_signal(source="a"))
    bot.kernel.submit_signal(make_signal(source="b"))
    assert len({o.client_order_id for o in bot.orders.all_orders}) == 2


def test_expired_signal_is_rejected_not_executed_late(btc_bars: BarSeries) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    bot.clock.advance_to(T0 + 2 * MINUTE)
    bot.kernel.submit_signal(make_signal(created_at=T0, ttl_s="60"))
    assert bot.orders.all_orders == []
    assert bot.kernel.ledger.rejection_counts() == {"expired": 1}


def test_signal_created_in_the_future_is_rejected_not_left_without_expiry(
    btc_bars: BarSeries,
) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    bot.clock.advance_to(T0 + 1_000)
    # a detector clock two minutes fast: its ttl would only start running in two minutes
    bot.kernel.submit_signal(make_signal(signal_id="fast", created_at=T0 + 121_000, ttl_s="5"))
    assert bot.orders.all_orders == []
    assert bot.kernel.ledger.rejection_counts() == {"created_in_future": 1}
    (record,) = bot.kernel.ledger.records()
    assert "120 s ahead of the bot's clock" in record.detail
    # a few seconds of skew is normal and taken
    bot.kernel.submit_signal(make_signal(signal_id="ok", created_at=T0 + 31_000, ttl_s="60"))
    assert len(bot.orders.all_orders) == 1


def test_order_whose_fill_bar_is_after_expiry_expires(btc_bars: BarSeries) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    deliver(bot, make_signal(created_at=T0 + 1_000, ttl_s="10"))
    bot.clock.advance_to(T0 + 10 * MINUTE)
    assert bot.kernel.ledger.rejection_counts() == {"expired": 1}
    assert bot.portfolio.fills == []


def test_invalid_payload_is_counted_and_kept_as_a_dead_letter(btc_bars: BarSeries) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    dead = InvalidSignal(
        "signals.jsonl:3", ("size: Input should be greater than 0",), '{"size": -1}'
    )
    bot.kernel.reject_invalid(dead)
    assert bot.kernel.ledger.invalid == [dead]
    assert bot.kernel.ledger.rejection_counts() == {"invalid_signal": 1}


class ExplodingStrategy(Strategy):
    def process_signal(self, signal: Signal) -> list[Signal] | Rejection:
        if signal.signal_id == "bad":
            raise ZeroDivisionError("oops")
        return [signal]


def test_a_bug_in_a_module_rejects_that_signal_and_the_bot_keeps_going(btc_bars: BarSeries) -> None:
    loaded = loaded_config(strategy={"class": "tests.engine.test_kernel.ExplodingStrategy"})
    bot = build_test_bot(loaded, btc_bars)
    bot.kernel.submit_signal(make_signal(signal_id="bad"))
    bot.kernel.submit_signal(make_signal(signal_id="good"))
    bot.clock.advance_to(T0 + 10 * MINUTE)
    bad = bot.kernel.ledger.get(("", "bad"))
    assert bad is not None and bad.reason is RejectionReason.INTERNAL_ERROR
    assert "ZeroDivisionError" in bad.detail
    good = bot.kernel.ledger.get(("", "good"))
    assert good is not None and good.status is SignalStatus.EXECUTED


def test_target_position_trades_the_difference_including_pending_orders(
    btc_bars: BarSeries,
) -> None:
    # 1 BTC held: t3's sell (0.2 of the 0.3 still being bought) is fundable on spot now
    exchange = {
        "class": "simulated",
        "params": {
            "balances": {"USDT": "10000", "BTC": "1"},
            "fees": {"maker": "0.001", "taker": "0.001"},
        },
    }
    bot = build_test_bot(loaded_config(exchange=exchange), btc_bars)
    bot.kernel.submit_signal(
        make_signal(signal_id="t1", side=None, size=None, target_position="0.3")
    )
    bot.kernel.submit_signal(
        make_signal(signal_id="t2", side=None, size=None, target_position="0.3")
    )
    bot.kernel.submit_signal(
        make_signal(signal_id="t3", side=None, size=None, target_position="0.1")
    )
    bot.clock.advance_to(T0 + 10 * MINUTE)
    assert bot.portfolio.position_quantity("BTC/USDT") == D("0.1")
    assert bot.kernel.ledger.rejection_counts() == {"nothing_to_do": 1}


def test_notional_is_converted_at_the_last_closed_bar_never_a_future_one(
    btc_bars: BarSeries,
) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    bot.clock.advance_to(T0 + 2 * MINUTE + 30_000, inclusive=False)
    # at 00:02:30 the last closed bar is 00:01 (close 102); the 00:02 bar is still open
    bot.kernel.submit_signal(
        make_signal(size=None, notional="510", created_at=T0 + 2 * MINUTE + 30_000)
    )
    bot.clock.advance_to(T0 + 10 * MINUTE)
    assert bot.portfolio.balance("BTC") == D("5")


def test_notional_without_any_price_yet_is_no_market_data(btc_bars: BarSeries) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    bot.kernel.submit_signal(make_signal(size=None, notional="100"))
    assert bot.kernel.ledger.rejection_counts() == {"no_market_data": 1}


def test_stop_loss_the_execution_cannot_place_is_reported_not_silently_dropped(
    btc_bars: BarSeries,
) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)
    bot.kernel.submit_signal(make_signal(stop_loss="90", take_profit="120"))
    bot.kernel.submit_signal(make_signal(signal_id="plain"))
    assert bot.kernel.unprotected_signals == 1


def test_ttl_without_created_at_runs_from_when_the_signal_was_received() -> None:
    from tests.conftest import make_bars

    bot = build_test_bot(loaded_config(), make_bars("BTC/USDT", ["100", "101"]))
    bot.clock.advance_to(T0 + 1_000)
    signal = make_signal(created_at=None, ttl_s="5")
    record = bot.kernel.ledger.received(signal, T0 - 10_000)  # received 11 s ago, not yet run
    assert bot.kernel.resume(record)
    assert record.status is SignalStatus.REJECTED
    assert record.reason is not None and record.reason.value == "expired"


def test_a_resting_limit_of_a_signal_with_ttl_but_no_created_at_expires_with_the_signal() -> None:
    from tests.conftest import make_bars

    loaded = loaded_config(execution={"class": "limit", "params": {}})
    bot = build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 10))
    bot.clock.advance_to(T0 + 1_000)
    bot.kernel.submit_signal(
        make_signal(created_at=None, ttl_s="120", order_type="limit", price="90")
    )
    (order,) = bot.orders.all_orders
    assert order.expires_at_ms == T0 + 1_000 + 120_000  # from when the bot received it
    bot.clock.advance_to(T0 + 9 * MINUTE)
    assert order.status.value == "expired"


class HalfThenFail(ExecutionAlgorithm):
    """Places half the amount at market, then fails before the second half."""

    def execute(self, intent: TradeIntent, placer: OrderPlacer) -> Rejection | None:
        placer.place(side=intent.side, order_type=OrderType.MARKET, amount=intent.amount / 2)
        raise ConnectionError("lost the venue mid-execution")


def test_an_error_mid_execution_keeps_the_orders_already_placed_and_their_outcome(
    btc_bars: BarSeries,
) -> None:
    loaded = loaded_config(execution={"class": "tests.engine.test_kernel.HalfThenFail"})
    bot = build_test_bot(loaded, btc_bars)
    bot.kernel.submit_signal(make_signal(size="0.2"))
    bot.clock.advance_to(T0 + 10 * MINUTE)
    record = bot.kernel.ledger.get(("", "s1"))
    # the placed half decides the signal: it filled, so the signal executed (not internal_error)
    assert record is not None and record.status is SignalStatus.EXECUTED
    assert len(record.client_order_ids) == 1
    assert bot.portfolio.balance("BTC") == D("0.1")


def test_a_placement_failure_rejects_the_signal_and_leaves_it_with_no_order(
    btc_bars: BarSeries,
) -> None:
    bot = build_test_bot(loaded_config(), btc_bars)

    def refuse(order: Order) -> None:
        raise ConnectionError("venue unreachable")

    bot.venue.submit_order = refuse  # type: ignore[method-assign]
    bot.kernel.submit_signal(make_signal())
    record = bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.status is SignalStatus.REJECTED
    assert record.reason is RejectionReason.INTERNAL_ERROR
    assert "venue unreachable" in record.detail
    assert record.client_order_ids == []
