"""BracketOrderExecution through the real kernel and the simulated venue (1-minute bars)."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from tests.venues.simulated.harness import ohlc
from trading_bot.app import Bot
from trading_bot.config.registry import resolve
from trading_bot.domain.enums import OrderType
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.execution.bracket import BracketOrderExecution

D = Decimal
S = OrderStatus


def bot(
    opens: list[str],
    params: dict[str, Any] | None = None,
    balances: dict[str, str] | None = None,
    latency: dict[str, int] | None = None,
    **fills: str,
) -> Bot:
    loaded = loaded_config(
        execution={"class": "bracket", "params": params or {}},
        exchange={
            "class": "simulated",
            "params": {
                "balances": balances or {"USDT": "100000"},
                "markets": {"BTC/USDT": {"amount_step": "0.01", "price_step": "0.5"}},
                "fills": fills,
                "latency": latency or {},
            },
        },
    )
    return build_test_bot(loaded, make_bars("BTC/USDT", opens))


def orders(b: Bot) -> list[tuple[OrderType, Decimal, Decimal | None, OrderStatus]]:
    """(type, amount, limit or trigger price, status) per order."""
    return [
        (o.order_type, o.amount, o.price or o.trigger_price, o.status) for o in b.orders.all_orders
    ]


def test_the_bracket_names_resolve() -> None:
    assert resolve("execution", "modules.execution.bracket.BracketOrderExecution") is (
        BracketOrderExecution
    )


def test_protection_goes_out_only_after_the_entry_fills_as_one_oco_group() -> None:
    b = bot(["100", "100", "105", "112", "112", "112"])
    b.kernel.submit_signal(make_signal(size="1", stop_loss="95", take_profit="110"))
    assert orders(b) == [(OrderType.MARKET, D("1"), None, S.SUBMITTED)]  # the entry alone
    b.clock.advance_to(T0)  # the entry fills at the first bar's open, 100
    entry, stop_loss, take_profit = b.orders.all_orders  # the stop goes first
    assert entry.status is S.FILLED
    assert (take_profit.order_type, take_profit.amount, take_profit.price) == (
        OrderType.LIMIT,
        D("1"),
        D("110"),
    )
    assert (stop_loss.order_type, stop_loss.amount, stop_loss.trigger_price) == (
        OrderType.STOP_MARKET,
        D("1"),
        D("95"),
    )
    assert take_profit.oco_group == stop_loss.oco_group is not None
    assert take_profit.expires_at_ms is None  # protection outlives the signal
    b.clock.advance_to(T0 + 10 * MINUTE)
    # bar 2 (105 -> 112) trades through 110: the take-profit fills, the venue cancels the stop
    assert (take_profit.status, stop_loss.status) == (S.FILLED, S.CANCELED)
    assert b.portfolio.balance("BTC") == 0
    assert not b.kernel.execution.active  # type: ignore[attr-defined]
    assert b.kernel.unprotected_signals == 0


def test_the_stop_triggering_cancels_the_take_profit() -> None:
    b = bot(["100", "100", "97", "90", "90", "90"])
    b.kernel.submit_signal(make_signal(size="1", stop_loss="95", take_profit="110"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    _, stop_loss, take_profit = b.orders.all_orders
    assert (take_profit.status, stop_loss.status) == (S.CANCELED, S.FILLED)
    assert b.portfolio.fills[-1].price == D("95")  # the stop-market fills at its trigger


def test_a_partial_entry_fill_is_protected_for_what_filled() -> None:
    # bars have a volume of 100: at most 1 BTC per bar fills, so 2.5 takes three bars
    b = bot(["100"] * 6, {"stop_loss": "0.05", "profit_target": "0.1"}, max_volume_share="0.01")
    b.kernel.submit_signal(make_signal(size="2.5"))
    b.clock.advance_to(T0)
    entry, stop_loss, take_profit = b.orders.all_orders  # the stop goes first
    assert (entry.status, entry.filled_amount) == (S.PARTIALLY_FILLED, D("1"))
    # levels from the 100 fill price and the params: 110 and 95, for the 1 that filled
    assert [take_profit.amount, take_profit.price, stop_loss.amount, stop_loss.trigger_price] == [
        D("1"),
        D("110.0"),
        D("1"),
        D("95.0"),
    ]
    b.clock.advance_to(T0 + 5 * MINUTE)
    legs = [(o.amount, o.oco_group is not None) for o in b.orders.all_orders[1:]]
    assert legs == [(D("1"), True)] * 4 + [(D("0.5"), True)] * 2  # 1 + 1 + 0.5 = 2.5 protected
    assert len({o.oco_group for o in b.orders.all_orders[1:]}) == 3


def test_levels_on_the_wrong_side_of_the_entry_are_refused_before_sending() -> None:
    b = bot(["100"] * 3, balances={"USDT": "100000", "BTC": "1"})  # the sell is fundable
    b.kernel.submit_signal(make_signal(signal_id="b", size="1", price="100", stop_loss="105"))
    b.kernel.submit_signal(
        make_signal(signal_id="s", side="sell", size="1", price="100", take_profit="104")
    )
    assert b.orders.all_orders == []
    assert b.kernel.ledger.rejection_counts() == {"invalid_protection": 2}
    record = b.kernel.ledger.get(("", "b"))
    assert record is not None and "stop_loss 105 on the wrong side" in record.detail


def test_without_any_level_the_bracket_refuses() -> None:
    b = bot(["100"] * 3)
    b.kernel.submit_signal(make_signal(size="1"))
    assert b.kernel.ledger.rejection_counts() == {"invalid_protection": 1}


def test_an_unprotected_position_raises_an_alert_and_is_closed(errors: list[str]) -> None:
    # sane against the signal's 100, but the entry fills at 102, above the 101 take-profit:
    # no protection can be placed, so after the timeout the position is closed at market
    b = bot(["102"] * 6, {"protection_timeout_s": 30})
    b.kernel.submit_signal(make_signal(size="1", price="100", stop_loss="99", take_profit="101"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    _, close = b.orders.all_orders
    assert (close.order_type, close.side, close.amount, close.status) == (
        OrderType.MARKET,
        "sell",
        D("1"),
        S.FILLED,
    )
    assert close.created_ms == T0 + 30_000
    assert b.portfolio.balance("BTC") == 0
    assert any("UNPROTECTED POSITION: signal s1" in line for line in errors)
    assert not b.kernel.execution.active  # type: ignore[attr-defined]


def test_alert_only_leaves_the_position_open(errors: list[str]) -> None:
    b = bot(["102"] * 6, {"protection_timeout_s": 30, "on_unprotected": "alert"})
    b.kernel.submit_signal(make_signal(size="1", price="100", stop_loss="99", take_profit="101"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    assert len(b.orders.all_orders) == 1
    assert b.portfolio.balance("BTC") == D("1")
    assert sum("UNPROTECTED POSITION" in line for line in errors) == 1


def test_a_lost_leg_leaves_the_position_unprotected_and_it_is_closed(errors: list[str]) -> None:
    b = bot(["100"] * 6, {"protection_timeout_s": 60})
    b.kernel.submit_signal(make_signal(size="1", take_profit="110"))  # one leg, no OCO
    b.clock.advance_to(T0)
    _, take_profit = b.orders.all_orders
    assert take_profit.oco_group is None
    b.orders.cancel(take_profit)  # the protection disappears (e.g. canceled by hand)
    b.clock.advance_to(T0 + 10 * MINUTE)
    close = b.orders.all_orders[-1]
    assert (close.order_type, close.amount, close.status, close.created_ms) == (
        OrderType.MARKET,
        D("1"),
        S.FILLED,
        T0 + 60_000,
    )
    assert any("UNPROTECTED POSITION" in line for line in errors)


def test_a_rejected_entry_places_no_protection() -> None:
    loaded = loaded_config(
        execution={"class": "bracket"},
        exchange={"class": "simulated", "params": {"balances": {"USDT": "50"}}},
    )
    b = build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 5))
    b.kernel.submit_signal(make_signal(size="1", stop_loss="95", take_profit="110"))
    b.clock.advance_to(T0 + 4 * MINUTE)
    (entry,) = b.orders.all_orders
    assert entry.status is S.REJECTED
    assert b.kernel.ledger.rejection_counts() == {"insufficient_balance": 1}
    assert not b.kernel.execution.active  # type: ignore[attr-defined]


def test_a_target_is_measured_against_the_position_not_its_protection_legs() -> None:
    b = bot(["100"] * 10, {"profit_target": "0.05", "stop_loss": "0.05"})
    b.kernel.submit_signal(make_signal(signal_id="t1", side=None, size=None, target_position="0.5"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.5")  # protected by a sell OCO pair
    b.kernel.submit_signal(make_signal(signal_id="t2", side=None, size=None, target_position="0"))
    b.clock.advance_to(T0 + 4 * MINUTE)
    # the two exit legs are not "already selling 1.0": the target sells the 0.5 held
    assert b.kernel.ledger.rejection_counts() == {}
    sells = [o for o in b.orders.all_orders if o.signal_id == "t2" and o.leg == 0]
    assert [(o.side.value, o.amount) for o in sells] == [("sell", D("0.5"))]


def test_flattening_a_protected_position_closes_it_once(errors: list[str]) -> None:
    b = bot(
        ["100"] * 10, {"profit_target": "0.05", "stop_loss": "0.05", "protection_timeout_s": 30}
    )
    b.kernel.submit_signal(make_signal(size="0.5"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.5")
    b.kernel.halt_trading("operator", flatten=True)  # cancels the legs, sells the 0.5
    b.clock.advance_to(T0 + 9 * MINUTE)  # well past the protection timeout
    assert b.portfolio.position_quantity("BTC/USDT") == D("0")  # not -0.5: closed once
    assert not any("UNPROTECTED" in line for line in errors)


def test_a_sell_that_closes_a_protected_long_is_not_bracketed_as_a_short() -> None:
    b = bot(["100"] * 10, {"profit_target": "0.05", "stop_loss": "0.05"})
    b.kernel.submit_signal(make_signal(signal_id="in", size="0.5"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    b.kernel.submit_signal(make_signal(signal_id="out", side="sell", size="0.5"))
    b.clock.advance_to(T0 + 5 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("0")
    out = [o for o in b.orders.all_orders if o.signal_id == "out"]
    assert [(o.order_type, o.status) for o in out] == [(OrderType.MARKET, S.FILLED)]  # no legs
    assert b.orders.open_orders() == []  # the long's legs were canceled, none left to fire


@pytest.mark.parametrize(("close", "left"), [("2", "0"), ("1", "1")])
def test_a_close_waits_for_the_cancel_of_the_legs_holding_its_base(
    errors: list[str], close: str, left: str
) -> None:
    # cancels take longer to reach the venue than orders: a close sent at once would arrive
    # while the legs still hold the base it sells, and be refused
    loaded = loaded_config(
        execution={"class": "bracket", "params": FIVE_PCT},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "1000"},
                "latency": {"submit_ms": 50, "cancel_ms": 200},
            },
        },
    )
    b = build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 20))
    b.kernel.submit_signal(make_signal(signal_id="in", size="2"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    b.kernel.submit_signal(make_signal(signal_id="out", side="sell", size=close))
    b.clock.advance_to(T0 + 9 * MINUTE)  # past the protection timeout
    out = [o for o in b.orders.all_orders if o.signal_id == "out"]
    assert [(o.order_type, o.status) for o in out] == [(OrderType.MARKET, S.FILLED)]
    assert b.portfolio.position_quantity("BTC/USDT") == D(left)
    assert [amount for _, amount, _ in legs(b)] == ([D(left)] * 2 if left != "0" else [])
    assert not any("UNPROTECTED" in line for line in errors)


@pytest.mark.parametrize(("refusals", "alarmed"), [(3, False), (100, True)])
def test_a_refused_cancel_of_a_leg_a_close_waits_on_is_asked_again(
    errors: list[str], refusals: int, alarmed: bool
) -> None:
    b = bot(["100"] * 30, FIVE_PCT, balances={"USDT": "1000"})
    alarms: list[tuple[str, str]] = []
    b.kernel.execution.alarm = lambda title, body: alarms.append((title, body))
    b.kernel.submit_signal(make_signal(signal_id="in", size="2"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    cancel, refused = b.venue.cancel_order, []

    def busy_then_cancel(order: Order) -> None:
        if len(refused) < refusals:  # the venue is busy (both legs): they stay as they were
            refused.append(order.client_order_id)
            b.orders.cancel_rejected(order.client_order_id, RejectionReason.VENUE_UNAVAILABLE, "")
        else:
            cancel(order)

    b.venue.cancel_order = busy_then_cancel  # type: ignore[method-assign]
    b.kernel.submit_signal(make_signal(signal_id="out", side="sell", size="2"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    out = [o for o in b.orders.all_orders if o.signal_id == "out"]
    if alarmed:  # five more tries per leg, then a human is told; the close still waits
        assert out == []
        assert [title for title, _ in alarms] == ["PROTECTIVE ORDER NOT CANCELED on BTC/USDT"] * 2
        assert len(refused) == 2 * 6
        assert b.portfolio.position_quantity("BTC/USDT") == D(2)
    else:
        assert [(o.order_type, o.status) for o in out] == [(OrderType.MARKET, S.FILLED)]
        assert b.portfolio.position_quantity("BTC/USDT") == D(0)
        assert b.orders.open_orders() == [] and alarms == []


def held_bot(params: dict[str, Any]) -> Bot:
    """A bracket bot on flat 100 bars whose account also holds 1 BTC (so it can go short)."""
    loaded = loaded_config(
        execution={"class": "bracket", "params": params},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000", "BTC": "1"},
                "markets": {"BTC/USDT": {"amount_step": "0.01", "price_step": "0.5"}},
            },
        },
    )
    return build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 20))


def legs(b: Bot) -> list[tuple[str, Decimal, OrderStatus]]:
    """(side, amount, status) of every protection leg (take-profit limit or stop)."""
    return [
        (o.side.value, o.amount, o.status)
        for o in b.orders.all_orders
        if o.oco_group is not None and o.is_open
    ]


FIVE_PCT = {"profit_target": "0.05", "stop_loss": "0.05", "protection_timeout_s": 30}


def test_a_target_reversal_protects_the_open_part_only() -> None:
    b = held_bot(FIVE_PCT)
    b.kernel.submit_signal(make_signal(signal_id="a", side=None, size=None, target_position="0.5"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    b.kernel.submit_signal(make_signal(signal_id="b", side=None, size=None, target_position="-0.5"))
    b.clock.advance_to(T0 + 5 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("-0.5")
    # the long's sell legs are gone; the short has its own buy-back pair of 0.5
    assert legs(b) == [("buy", D("0.5"), S.ACCEPTED), ("buy", D("0.5"), S.ACCEPTED)]


def test_a_sized_reversal_protects_what_it_opens_not_the_whole_order() -> None:
    b = held_bot(FIVE_PCT)
    b.kernel.submit_signal(make_signal(signal_id="a", size="0.5"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    b.kernel.submit_signal(make_signal(signal_id="b", side="sell", size="1.0"))
    b.clock.advance_to(T0 + 5 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("-0.5")
    assert legs(b) == [("buy", D("0.5"), S.ACCEPTED), ("buy", D("0.5"), S.ACCEPTED)]


def test_a_partial_close_leaves_the_rest_of_the_position_protected(errors: list[str]) -> None:
    b = held_bot(FIVE_PCT)
    b.kernel.submit_signal(make_signal(signal_id="a", side=None, size=None, target_position="0.5"))
    b.clock.advance_to(T0 + 2 * MINUTE)
    b.kernel.submit_signal(make_signal(signal_id="b", side=None, size=None, target_position="0.2"))
    b.clock.advance_to(T0 + 9 * MINUTE)  # well past the protection timeout
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.2")
    assert legs(b) == [("sell", D("0.2"), S.ACCEPTED), ("sell", D("0.2"), S.ACCEPTED)]
    assert not any("UNPROTECTED" in line for line in errors)


def without_oco(b: Bot, *, stops_late: bool = False) -> None:
    """Make the simulated venue behave like a spot venue reached through ccxt, which gets the
    legs as two unlinked orders: each holds the base on its own. `stops_late`: a stop sent
    with a take-profit reaches the venue 1 ms after it was sent (requests in flight together
    arrive in any order), so the take-profit sent after it arrives first."""
    submit = b.venue.submit_order

    def unlinked(order: Order) -> None:
        venue_order = replace(order, oco_group=None)
        if stops_late and order.order_type is OrderType.STOP_MARKET and order.oco_group:
            b.clock.schedule_after(1, lambda: submit(venue_order))
        else:
            submit(venue_order)

    b.venue.submit_order = unlinked  # type: ignore[method-assign]


def test_without_oco_the_stop_goes_first_and_the_take_profit_is_the_leg_refused() -> None:
    b = bot(["100"] * 6)
    without_oco(b)
    b.kernel.submit_signal(make_signal(size="1", stop_loss="95", take_profit="110"))
    b.clock.advance_to(T0 + MINUTE)
    _, stop_loss, take_profit = b.orders.all_orders
    assert (stop_loss.order_type, stop_loss.status) == (OrderType.STOP_MARKET, S.ACCEPTED)
    assert take_profit.status is S.REJECTED
    assert take_profit.reject_reason == "insufficient_balance"
    b.clock.advance_to(T0 + 5 * MINUTE)
    assert len(b.orders.all_orders) == 3  # protected by the stop: nothing closed, no re-placing


def test_without_oco_a_stop_refused_for_the_take_profit_replaces_it_and_raises_an_alarm(
    errors: list[str],
) -> None:
    # the black-box case: the take-profit reached the venue first and holds the 1 BTC, the
    # stop is refused insufficient_balance; the position must not stay with no stop
    b = bot(["100", "100", "97", "90", "90", "90"], {"protection_timeout_s": 30})
    without_oco(b, stops_late=True)
    alarms: list[tuple[str, str]] = []
    b.kernel.execution.alarm = lambda title, body: alarms.append((title, body))
    b.kernel.submit_signal(make_signal(size="1", stop_loss="95", take_profit="110"))
    b.clock.advance_to(T0 + MINUTE)
    _, refused, take_profit, stop = b.orders.all_orders
    assert refused.status is S.REJECTED and refused.reject_reason == "insufficient_balance"
    assert take_profit.status is S.CANCELED  # given up to make room for the stop
    assert (stop.order_type, stop.amount, stop.trigger_price, stop.oco_group, stop.status) == (
        OrderType.STOP_MARKET,
        D("1"),
        D("95"),
        None,
        S.ACCEPTED,
    )
    assert [title for title, _ in alarms] == ["UNPROTECTED POSITION on BTC/USDT"]
    assert "canceling the take-profit to place the stop alone" in alarms[0][1]
    assert any(line.startswith("UNPROTECTED POSITION: signal s1") for line in errors)
    b.clock.advance_to(T0 + 10 * MINUTE)
    # the 97 -> 90 bar reaches the stop: the loss is limited; no market close was needed
    assert stop.status is S.FILLED and len(b.orders.all_orders) == 4
    assert b.portfolio.balance("BTC") == 0
    assert len(alarms) == 1


def test_the_unprotected_position_check_raises_the_alarm(errors: list[str]) -> None:
    b = bot(["102"] * 6, {"protection_timeout_s": 30})
    alarms: list[tuple[str, str]] = []
    b.kernel.execution.alarm = lambda title, body: alarms.append((title, body))
    b.kernel.submit_signal(make_signal(size="1", price="100", stop_loss="99", take_profit="101"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    assert len(alarms) == 1 and alarms[0][0] == "UNPROTECTED POSITION on BTC/USDT"
    assert "closing 1 at market" in alarms[0][1]


@pytest.mark.parametrize("latency", [None, {"submit_ms": 50, "cancel_ms": 200}])
def test_a_take_profit_left_without_its_stop_is_canceled_before_the_unprotected_close(
    errors: list[str], latency: dict[str, int] | None
) -> None:
    # the venue refuses the stop for a reason re-placing cannot cure: after the timeout the
    # position is closed, and the take-profit, which holds the 1 BTC, is canceled first (the
    # close waits for the cancel to be confirmed when cancels are slower than orders)
    b = bot(["100"] * 6, {"protection_timeout_s": 30}, latency=latency)
    submit = b.venue.submit_order

    def refusing_stops(order: Order) -> None:
        if order.order_type is OrderType.STOP_MARKET:
            b.orders.order_rejected(
                order.client_order_id, RejectionReason.INVALID_ORDER, "stops not taken"
            )
        else:
            submit(order)

    b.venue.submit_order = refusing_stops  # type: ignore[method-assign]
    b.kernel.submit_signal(make_signal(size="1", stop_loss="95", take_profit="110"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    _, stop, take_profit, close = b.orders.all_orders
    assert (stop.status, take_profit.status) == (S.REJECTED, S.CANCELED)
    assert (close.order_type, close.amount, close.status) == (OrderType.MARKET, D("1"), S.FILLED)
    assert b.portfolio.balance("BTC") == 0
    assert any("UNPROTECTED POSITION" in line for line in errors)


def test_on_a_venue_that_links_oco_the_bot_sends_no_cancel_of_its_own() -> None:
    # the simulated venue cancels the other leg itself: no emulation, no second cancel
    b = bot(["100", "100", "97", "90", "90", "90"])
    assert b.orders.oco is None
    cancels: list[str] = []
    cancel = b.venue.cancel_order
    b.venue.cancel_order = lambda order: (cancels.append(order.client_order_id), cancel(order))  # type: ignore[method-assign, func-returns-value]
    b.kernel.submit_signal(make_signal(size="1", stop_loss="95", take_profit="110"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    _, stop_loss, take_profit = b.orders.all_orders
    assert (take_profit.status, stop_loss.status) == (S.CANCELED, S.FILLED)
    assert cancels == []


def test_a_take_profit_filling_in_part_gets_both_legs_placed_again_for_the_rest() -> None:
    # the venue links the legs as Binance does: the take-profit's first partial fill cancels
    # the stop, which would leave the rest of the position without a loss limit
    loaded = loaded_config(
        execution={"class": "bracket", "params": {"protection_timeout_s": "10"}},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "10000"},
                "fees": {"maker": "0.001", "taker": "0.002"},
                "fills": {"max_volume_share": "0.5"},  # 5 BTC of each bar's 10
            },
        },
    )
    bars = ohlc(
        [
            "100 101 99 100",
            "102 106.5 101 104",  # the entry takes 4 at the open, the take-profit 1 of the rest
            "104 105 80 85",  # falls through the stop
            "85 86 84 85",
            "85 86 84 85",
        ],
        volume="10",
    )
    b = build_test_bot(loaded, bars)
    b.clock.advance_to(T0 + 30_000)
    b.kernel.submit_signal(
        make_signal(size="4", take_profit="106", stop_loss="92", created_at=T0 + 30_000)
    )
    b.clock.advance_to(T0 + 5 * MINUTE)
    _, first_stop, first_take_profit, stop_loss, take_profit = b.orders.all_orders
    assert (first_take_profit.filled_amount, first_take_profit.status) == (D("1"), S.CANCELED)
    assert first_stop.status is S.CANCELED  # by the venue, on the partial fill
    assert (stop_loss.amount, stop_loss.status, stop_loss.filled_amount) == (
        D("3"),
        S.FILLED,
        D("3"),
    )
    assert (take_profit.amount, take_profit.status) == (D("3"), S.CANCELED)
    assert [(f.amount, f.price) for f in b.portfolio.fills] == [
        (D("4"), D("102")),
        (D("1"), D("106")),
        (D("3"), D("92")),
    ]
    # 10000 - 4 x 102 x 1.002 + 1 x 106 x 0.999 + 3 x 92 x 0.998
    assert b.portfolio.balance("USDT") == D("9972.526")
    assert b.kernel.unprotected_signals == 0
