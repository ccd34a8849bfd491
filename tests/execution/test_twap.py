"""TWAPExecution through the real kernel and the simulated venue (1-minute bars at 100)."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from tests.execution.accounts import withdraw
from trading_bot.app import Bot
from trading_bot.config.registry import resolve
from trading_bot.domain.order_status import OrderStatus
from trading_bot.engine.signal_ledger import SignalStatus
from trading_bot.execution.twap import TWAPExecution

D = Decimal
S = OrderStatus


def bot(params: dict[str, Any], *, btc: str = "10", **rules: str) -> Bot:
    loaded = loaded_config(
        execution={"class": "modules.execution.twap.TWAPExecution", "params": params},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000", "BTC": btc},
                "markets": {"BTC/USDT": {"amount_step": "0.01", **rules}},
            },
        },
    )
    return build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 30))


def sent(b: Bot) -> list[tuple[Decimal, int, OrderStatus]]:
    """(amount, seconds after T0 it was sent, status) per order."""
    return [(o.amount, (o.created_ms - T0) // 1000, o.status) for o in b.orders.all_orders]


def test_the_twap_names_resolve() -> None:
    assert resolve("execution", "twap") is TWAPExecution


def test_slices_are_evenly_spaced_and_the_last_carries_the_remainder() -> None:
    b = bot({"duration_seconds": 300, "slices": 3})
    b.kernel.submit_signal(make_signal(size="1.0"))
    assert sent(b) == [(D("0.33"), 0, S.SUBMITTED)]
    b.clock.advance_to(T0 + 20 * MINUTE)
    # slots of 100 s; each market slice fills at the next bar's open
    assert sent(b) == [
        (D("0.33"), 0, S.FILLED),
        (D("0.33"), 100, S.FILLED),
        (D("0.34"), 200, S.FILLED),
    ]
    assert [f.ts_ms - T0 for f in b.portfolio.fills] == [0, 120_000, 240_000]
    assert b.portfolio.balance("BTC") == D("11.0")
    assert b.kernel.execution.active == set()  # type: ignore[attr-defined]


def test_slices_do_not_wait_for_earlier_ones_to_fill() -> None:
    b = bot({"duration_seconds": 120, "slices": 4})  # slots of 30 s, bars of 60 s
    b.kernel.submit_signal(make_signal(size="1"))
    b.clock.advance_to(T0 + 60_000, inclusive=False)
    # the slice of 30 s is out, still waiting for the bar at 60 s
    assert sent(b) == [(D("0.25"), 0, S.FILLED), (D("0.25"), 30, S.SUBMITTED)]


def test_slices_below_the_minimum_become_fewer_slices_over_the_whole_window() -> None:
    b = bot({"duration_seconds": 400, "slices": 4}, min_amount="0.3")
    b.kernel.submit_signal(make_signal(size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # 1.0 / 4 = 0.25 < 0.3; 1.0 / 3 -> 0.33 on the step: 3 slices in slots of 400 / 3 s,
    # the remaining step (1.0 - 0.99 = 0.01) in the last one
    assert sent(b) == [
        (D("0.33"), 0, S.FILLED),
        (D("0.33"), 133, S.FILLED),
        (D("0.34"), 266, S.FILLED),
    ]


def test_limit_slices_use_the_signal_price() -> None:
    b = bot({"duration_seconds": 60, "slices": 2})
    b.kernel.submit_signal(make_signal(size="1", order_type="limit", price="101"))
    b.clock.advance_to(T0 + 5 * MINUTE)
    assert [(o.order_type.value, o.price, o.status) for o in b.orders.all_orders] == [
        ("limit", D("101"), S.FILLED),
        ("limit", D("101"), S.FILLED),
    ]


def test_a_failed_slice_rolls_into_the_next_and_the_last_one_ends_it() -> None:
    b = bot({"duration_seconds": 240, "slices": 4}, btc="1.0")
    withdraw(b, "0.5")
    b.kernel.submit_signal(make_signal(side="sell", size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # 0.5 BTC: two slices fill; the third is rejected and its 0.25 joins the fourth
    assert sent(b) == [
        (D("0.25"), 0, S.FILLED),
        (D("0.25"), 60, S.FILLED),
        (D("0.25"), 120, S.REJECTED),
        (D("0.50"), 180, S.REJECTED),
    ]
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is not None
    assert record.reason.value == "insufficient_balance"
    assert "TWAP ended with 0.50 of 1.0 filled, 0.50 given up" in record.detail
    assert b.kernel.execution.active == set()  # type: ignore[attr-defined]


def test_a_signal_expiring_mid_twap_sends_no_more_slices() -> None:
    b = bot({"duration_seconds": 240, "slices": 4})
    b.kernel.submit_signal(make_signal(size="1.0", ttl_s="100"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert [a for a, _, _ in sent(b)] == [D("0.25"), D("0.25")]
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is not None
    assert record.reason.value == "expired"
    assert "0.50 of 1.0 filled, 0.50 given up" in record.detail


@pytest.mark.parametrize("bad", [{"duration_seconds": 0}, {"duration_seconds": 10, "slices": 0}])
def test_bad_params_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TWAPExecution(bad)


def test_merged_slices_are_spread_evenly_over_the_whole_window() -> None:
    b = bot({"duration_seconds": 600, "slices": 10}, amount_step="0.001", min_amount="0.004")
    b.kernel.submit_signal(make_signal(size="0.025"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # 0.025 / 10..7 rounds below 0.004; / 6 -> 0.004: 6 slices in slots of 100 s, the
    # remaining step (0.025 - 0.024) in the last one
    assert [(a, t) for a, t, _ in sent(b)] == [
        (D("0.004"), 0),
        (D("0.004"), 100),
        (D("0.004"), 200),
        (D("0.004"), 300),
        (D("0.004"), 400),
        (D("0.005"), 500),
    ]


def test_the_remainder_is_spread_one_step_per_slice_not_all_in_the_last() -> None:
    b = bot({"duration_seconds": 400, "slices": 4})
    b.kernel.submit_signal(make_signal(size="1.03"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # 1.03 / 4 -> 0.25 on the step 0.01; 1.03 - 1.00 = 3 steps go to the last 3 slices
    assert [(a, t) for a, t, _ in sent(b)] == [
        (D("0.25"), 0),
        (D("0.26"), 100),
        (D("0.26"), 200),
        (D("0.26"), 300),
    ]


def test_a_later_signal_sees_the_unsent_slices_of_a_twap_as_pending_exposure() -> None:
    loaded = loaded_config(
        execution={
            "class": "modules.execution.twap.TWAPExecution",
            "params": {"duration_seconds": 300, "slices": 5},
        },
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000", "BTC": "10"},
                "markets": {"BTC/USDT": {"amount_step": "0.01"}},
            },
        },
        risk={"checks": [{"class": "exposure", "params": {"max_total_exposure": "50"}}]},
        backtest={"valuation_currency": "USDT"},
    )
    b = build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 30))
    b.clock.advance_to(T0 + MINUTE)  # a price is known from here on
    b.kernel.submit_signal(make_signal(signal_id="a", size="0.5"))  # 5 x 0.1, every 60 s
    b.clock.advance_to(T0 + MINUTE + 90_000)
    assert [(a, t) for a, t, _ in sent(b)] == [(D("0.1"), 60), (D("0.1"), 120)]
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.2")
    # 0.2 filled (20 USDT), slices of 0.3 still to send (30 USDT): the 50 are used up
    assert b.kernel.context.orders.open_exposure("BTC/USDT") == (D("0.3"), D("0"))
    b.kernel.submit_signal(make_signal(signal_id="b", size="0.5"))
    record = b.kernel.ledger.get(("", "b"))
    assert record is not None and record.status is SignalStatus.REJECTED
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.5")
    assert b.kernel.context.orders.open_exposure("BTC/USDT") == (D("0"), D("0"))


def test_a_twap_stopped_by_the_order_rate_keeps_why_after_its_open_slices_fill() -> None:
    from trading_bot.engine.signal_ledger import SignalStatus as Status

    loaded = loaded_config(
        execution={"class": "twap", "params": {"duration_seconds": 60, "slices": 10}},
        risk={"checks": [{"class": "order_rate", "params": {"max_orders_per_minute": 3}}]},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000"},
                "markets": {"BTC/USDT": {"amount_step": "0.01"}},
            },
        },
    )
    b = build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 10))
    b.kernel.submit_signal(make_signal(size="1"))
    b.clock.advance_to(T0 + 5 * MINUTE)
    (record,) = b.kernel.ledger.records()
    assert record.status is Status.EXECUTED
    assert record.reason is not None and record.reason.value == "order_rate_limit"
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.3")  # three slices went out
