"""IcebergExecution through the real kernel and the simulated venue (bars of 1 minute, all
at 100: a market chunk fills at the open of the first bar at or after it is sent)."""

from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from tests.execution.accounts import withdraw
from trading_bot import app
from trading_bot.app import Bot
from trading_bot.config.registry import resolve
from trading_bot.domain.enums import OrderType
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.engine.signal_ledger import SignalStatus
from trading_bot.execution.iceberg import IcebergExecution
from trading_bot.orders.manager import OrderManager

D = Decimal
S = OrderStatus


def bot(params: dict[str, Any], *, btc: str = "10", **rules: str) -> Bot:
    loaded = loaded_config(
        execution={"class": "modules.execution.iceberg.IcebergExecution", "params": params},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000", "BTC": btc},
                "markets": {"BTC/USDT": {"amount_step": "0.01", **rules}},
            },
        },
    )
    return build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 30))


def orders(b: Bot) -> list[tuple[int, Decimal, OrderStatus, int]]:
    """(leg, amount, status, seconds after T0 it was sent) per order."""
    return [(o.leg, o.amount, o.status, (o.created_ms - T0) // 1000) for o in b.orders.all_orders]


def test_the_iceberg_names_resolve() -> None:
    assert resolve("execution", "iceberg") is IcebergExecution
    assert resolve("execution", "modules.execution.iceberg.IcebergExecution") is IcebergExecution


def test_chunks_carry_the_remainder_and_go_out_one_at_a_time_on_the_clock() -> None:
    b = bot({"chunk_size": "0.3", "interval_seconds": 60})
    b.kernel.submit_signal(make_signal(size="1.0"))
    assert orders(b) == [(0, D("0.3"), S.SUBMITTED, 0)]  # only the first chunk is shown
    b.clock.advance_to(T0 + 20 * MINUTE)
    # each chunk fills at the open of its bar; the next one goes out 60 s after that fill
    assert orders(b) == [
        (0, D("0.3"), S.FILLED, 0),
        (1, D("0.3"), S.FILLED, 60),
        (2, D("0.3"), S.FILLED, 120),
        (3, D("0.1"), S.FILLED, 180),
    ]
    assert all(o.order_type is OrderType.MARKET for o in b.orders.all_orders)
    assert b.portfolio.balance("BTC") == D("11.0")
    assert b.kernel.execution.active == set()  # type: ignore[attr-defined]  # state dropped


def test_a_remainder_below_the_minimum_is_merged_not_lost() -> None:
    b = bot({"chunk_size": "0.3"}, min_amount="0.2")
    b.kernel.submit_signal(make_signal(size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # 0.3 + 0.3 + 0.3 + 0.1: the 0.1 tail is below min_amount 0.2 and joins the last chunk
    assert [o.amount for o in b.orders.all_orders] == [D("0.3"), D("0.3"), D("0.4")]


def test_min_notional_merges_chunks_too() -> None:
    # at 100, a chunk needs 0.25 to reach min_notional 25: 0.2 chunks are merged in pairs
    b = bot({"chunk_size": "0.2"}, min_notional="25")
    b.kernel.submit_signal(make_signal(size="1.0", price="100"))  # the price notionals use
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert [o.amount for o in b.orders.all_orders] == [D("0.4"), D("0.6")]


def test_amounts_are_rounded_to_the_step_and_the_total_kept() -> None:
    b = bot({"chunk_size": "0.333"})
    b.kernel.submit_signal(make_signal(size="1.009"))  # total rounds down to 1.00
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert [o.amount for o in b.orders.all_orders] == [D("0.33"), D("0.33"), D("0.33"), D("0.01")]


def test_too_small_a_signal_is_rejected_before_anything_is_sent() -> None:
    b = bot({"chunk_size": "0.3"}, min_amount="0.5")
    b.kernel.submit_signal(make_signal(size="0.4"))
    assert b.orders.all_orders == []
    assert b.kernel.ledger.rejection_counts() == {"below_min_amount": 1}


def _randomized(signal_id: str, seed: int = 7) -> list[tuple[Decimal, int]]:
    b = bot(
        {
            "chunk_size": "0.3",
            "interval_seconds": 60,
            "randomize": True,
            "randomize_pct": "0.5",
            "seed": seed,
        }
    )
    b.kernel.submit_signal(make_signal(signal_id=signal_id, size="2.0"))
    b.clock.advance_to(T0 + 29 * MINUTE)
    placed = b.orders.all_orders
    assert all(o.status is S.FILLED for o in placed)
    assert sum(o.amount for o in placed) == D("2.0")  # varied chunks, nothing lost
    return [(o.amount, o.created_ms - T0) for o in placed]


def test_randomize_is_deterministic_per_signal_and_seed() -> None:
    first = _randomized("r1")
    assert _randomized("r1") == first  # same signal, same seed: same chunks and times
    assert _randomized("r2") != first  # another signal draws other sizes
    assert _randomized("r1", seed=8) != first
    sizes = [amount for amount, _ in first]
    assert len(set(sizes[:-1])) > 1  # the sizes do vary
    assert all(D("0.15") <= size <= D("0.45") for size in sizes[:-1])  # 0.3 +- 50%


def test_a_failed_chunk_stops_the_iceberg_and_the_outcome_says_why() -> None:
    b = bot({"chunk_size": "0.3", "interval_seconds": 60}, btc="1.0")
    withdraw(b, "0.5")
    b.kernel.submit_signal(make_signal(side="sell", size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # the second chunk needs 0.3 BTC and 0.2 is left: rejected, nothing more is sent
    assert orders(b) == [(0, D("0.3"), S.FILLED, 0), (1, D("0.3"), S.REJECTED, 60)]
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None
    assert record.status is SignalStatus.EXECUTED  # part of it filled
    assert record.reason is not None and record.reason.value == "insufficient_balance"
    assert "iceberg stopped with 0.3 of 1.0 filled, 0.7 left unexecuted" in record.detail
    assert "exceeds the free balance" in record.detail


def test_a_first_chunk_failing_rejects_the_signal() -> None:
    b = bot({"chunk_size": "0.3"}, btc="1.0")
    withdraw(b, "0.1")
    b.kernel.submit_signal(make_signal(side="sell", size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert len(b.orders.all_orders) == 1
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.status is SignalStatus.REJECTED
    assert b.kernel.ledger.rejection_counts() == {"insufficient_balance": 1}


def test_retry_resends_a_canceled_chunk_until_max_retries() -> None:
    b = bot({"chunk_size": "0.3", "interval_seconds": 60, "on_chunk_failure": "retry"})
    b.kernel.submit_signal(make_signal(order_type="limit", price="99", size="1.0"))
    (first,) = b.orders.all_orders
    assert (first.order_type, first.price) == (OrderType.LIMIT, D("99"))
    b.orders.cancel(first)  # e.g. canceled by hand at the venue: the chunk failed
    b.clock.advance_to(T0 + 2 * MINUTE)
    assert orders(b) == [(0, D("0.3"), S.CANCELED, 0), (1, D("0.3"), S.ACCEPTED, 60)]
    second = b.orders.all_orders[1]
    b.orders.cancel(second)
    b.clock.advance_to(T0 + 5 * MINUTE)
    third = b.orders.all_orders[2]
    b.orders.cancel(third)  # a third failure in a row: past max_retries (2), it stops
    b.clock.advance_to(T0 + 10 * MINUTE)
    assert len(b.orders.all_orders) == 3
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is not None
    assert record.reason.value == "unfilled"
    assert "0 of 1.0 filled, 1.0 left unexecuted" in record.detail


def test_retry_after_an_insufficient_balance_gives_up_after_max_retries() -> None:
    b = bot(
        {
            "chunk_size": "0.3",
            "on_chunk_failure": "retry",
            "max_retries": 1,
            "interval_seconds": 30,
        },
        btc="1.0",
    )
    withdraw(b, "0.5")
    b.kernel.submit_signal(make_signal(side="sell", size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert orders(b) == [
        (0, D("0.3"), S.FILLED, 0),
        (1, D("0.3"), S.REJECTED, 30),  # sent at 30 s, rejected at the next bar (60 s)
        (2, D("0.3"), S.REJECTED, 90),  # the one retry, 30 s after that
    ]
    assert b.kernel.execution.active == set()  # type: ignore[attr-defined]


def test_a_signal_that_expires_between_chunks_stops_the_iceberg() -> None:
    b = bot({"chunk_size": "0.3", "interval_seconds": 60})
    b.kernel.submit_signal(make_signal(size="1.0", ttl_s="90"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # chunk 2 is due at 120 s, after the expiry at 90 s
    assert orders(b) == [(0, D("0.3"), S.FILLED, 0), (1, D("0.3"), S.FILLED, 60)]
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is not None
    assert record.reason.value == "expired"


@pytest.mark.parametrize("bad", [{"chunk_size": "0"}, {"chunk_size": "1", "on_chunk_failure": "x"}])
def test_bad_params_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        IcebergExecution(bad)


class DownAfterFirstSubmit(OrderManager):
    """An order manager whose store goes away after the first order (a subclass: the compiled
    order manager's methods cannot be patched on an instance)."""

    submitted: ClassVar[list[Order]] = []

    def submit(self, order: Order) -> None:
        self.submitted.append(order)
        if len(self.submitted) > 1:
            raise RuntimeError("store unavailable")
        super().submit(order)


def test_a_chunk_whose_placement_fails_stops_the_iceberg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DownAfterFirstSubmit, "submitted", [])
    monkeypatch.setattr(app, "OrderManager", DownAfterFirstSubmit)
    b = bot({"chunk_size": "0.3", "interval_seconds": 60})
    submitted = DownAfterFirstSubmit.submitted
    b.kernel.submit_signal(make_signal(size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)  # the failure happens in a timer: it must not escape
    assert orders(b) == [(0, D("0.3"), S.FILLED, 0)]
    assert len(submitted) == 2  # tried once, not retried in a loop
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is not None
    assert record.reason.value == "internal_error"
    assert "0.3 of 1.0 filled, 0.7 left unexecuted: placing a chunk failed" in record.detail
    assert record.client_order_ids == [b.orders.all_orders[0].client_order_id]


def test_a_halt_stops_the_chunks_still_to_come_and_the_signal_says_why() -> None:
    b = bot({"chunk_size": "0.3", "interval_seconds": 60})
    b.kernel.submit_signal(make_signal(size="1.0"))
    b.clock.advance_to(T0 + 30_000)  # the first chunk has filled; the next is due at 60 s
    b.kernel.halt_trading("operator")
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert orders(b) == [(0, D("0.3"), S.FILLED, 0)]  # nothing more went out
    (record,) = b.kernel.ledger.records()
    assert record.status is SignalStatus.EXECUTED  # a part filled
    assert record.reason is not None and record.reason.value == "trading_halted"
    assert "0.3 of 1.0 filled, 0.7 left unexecuted" in record.detail


def risk_bot(params: dict[str, Any], checks: list[dict[str, Any]]) -> Bot:
    loaded = loaded_config(
        execution={"class": "modules.execution.iceberg.IcebergExecution", "params": params},
        exchange={
            "class": "simulated",
            "params": {
                "balances": {"USDT": "100000", "BTC": "10"},
                "markets": {"BTC/USDT": {"amount_step": "0.01"}},
            },
        },
        risk={"checks": checks},
    )
    return build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 30))


def test_a_later_signal_sees_the_unsent_rest_of_an_iceberg_as_pending_exposure() -> None:
    b = risk_bot(
        {"chunk_size": "0.1", "interval_seconds": 60},
        [{"class": "position_limits", "params": {"max_position_size": "0.5"}}],
    )
    b.kernel.submit_signal(make_signal(signal_id="a", size="0.5"))
    b.clock.advance_to(T0 + 90_000)
    # chunks filled at 0 and 60 s; the next goes out at 120 s: 0.2 held, 0.3 still planned
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.2")
    assert b.kernel.context.orders.open_exposure("BTC/USDT") == (D("0.3"), D("0"))
    b.kernel.submit_signal(make_signal(signal_id="b", size="0.5"))
    record = b.kernel.ledger.get(("", "b"))
    assert record is not None and record.status is SignalStatus.REJECTED
    assert record.reason is not None and record.reason.value == "position_limit"
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("0.5")  # not 0.8
    assert b.kernel.context.orders.open_exposure("BTC/USDT") == (D("0"), D("0"))  # plan done


def test_a_stopped_iceberg_leaves_no_planned_exposure_behind() -> None:
    b = bot({"chunk_size": "0.3", "interval_seconds": 60})
    b.kernel.submit_signal(make_signal(size="1.0"))
    b.clock.advance_to(T0 + 30_000)
    assert b.kernel.context.orders.open_exposure("BTC/USDT") == (D("0.7"), D("0"))
    b.kernel.halt_trading("operator")
    b.clock.advance_to(T0 + 20 * MINUTE)
    assert b.kernel.context.orders.open_exposure("BTC/USDT") == (D("0"), D("0"))


def test_chunks_placed_later_respect_the_order_rate_limit() -> None:
    b = risk_bot(
        {"chunk_size": "0.1", "interval_seconds": 0},
        [{"class": "order_rate", "params": {"max_orders_per_minute": 3}}],
    )
    b.kernel.submit_signal(make_signal(size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # 3 chunks of 0.1 in the first minute; the 4th is refused and the iceberg stops
    assert [o.amount for o in b.orders.all_orders] == [D("0.1")] * 3
    assert all(o.created_ms - T0 < MINUTE for o in b.orders.all_orders)
    record = b.kernel.ledger.get(("", "s1"))
    assert record is not None and record.reason is not None
    assert record.reason.value == "order_rate_limit"
    assert "0.3 of 1.0 filled, 0.7 left unexecuted" in record.detail


def test_while_reducing_an_iceberg_closing_a_position_is_not_blocked_by_its_own_plan() -> None:
    b = bot({"chunk_size": "0.3", "interval_seconds": 60})
    b.kernel.submit_signal(make_signal(signal_id="open", size="1.0"))
    b.clock.advance_to(T0 + 10 * MINUTE)
    assert b.portfolio.position_quantity("BTC/USDT") == D("1.0")
    b.kernel.reduce_trading("operator")
    b.kernel.submit_signal(make_signal(signal_id="close", side="sell", size="1.0"))
    b.clock.advance_to(T0 + 20 * MINUTE)
    # every chunk (0.3, 0.3, 0.3, 0.1) only closes: the later ones are not counted as sold
    # before the one being judged
    assert b.portfolio.position_quantity("BTC/USDT") == D("0")
    record = b.kernel.ledger.get(("", "close"))
    assert record is not None and record.status is SignalStatus.EXECUTED
