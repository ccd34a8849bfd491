"""Recovery after a restart: what the venue did while the bot was down is applied, what it
never received is sent once, what the bot never knew is adopted, and what cannot be explained
refuses the start."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from loguru import logger
from sqlalchemy import text

from tests.conftest import MINUTE, T0, make_signal
from tests.service.rig import start, store
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.engine.clock import SimulatedClock
from trading_bot.orders.reconciliation import Reconciler


async def reconcile(running):  # type: ignore[no-untyped-def]
    return await Reconciler(running.bot.kernel, running.venue).reconcile(at_start=True)


def crashed_before_sending(engine, clock, *signal_ids: str) -> None:  # type: ignore[no-untyped-def]
    """A bot records the intents of market buys of 0.5 and dies before sending them."""
    first = start(engine, clock)
    first.journal.when_durable = lambda action: None  # type: ignore[method-assign]
    for signal_id in signal_ids:
        first.bot.kernel.submit_signal(
            make_signal(asset="BTC/USDT", size="0.5", signal_id=signal_id)
        )
    first.journal.flush()


async def test_fill_made_while_the_bot_was_down_is_applied_on_restart(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock)
    first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    first.journal.flush()  # intent committed and sent; the venue fills it at the next open
    clock.advance_to(T0 + MINUTE)  # the fill is committed by the venue...
    # ...and the bot dies before writing it: a second bot starts from the store
    second = start(engine, clock)
    order = second.bot.orders.all_orders[0]
    assert order.status is OrderStatus.INITIALIZED  # its sending was never recorded
    report = await reconcile(second)
    assert report.ok, report.lines()
    assert len(report.fills_applied) == 1
    assert order.status is OrderStatus.FILLED
    assert second.bot.portfolio.balance("BTC") == Decimal("1.5")
    assert second.bot.portfolio.balances == second.venue.balances()


async def test_intent_the_venue_never_received_is_sent_once(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    crashed_before_sending(engine, clock, "s1")
    second = start(engine, clock)
    report = await reconcile(second)
    assert report.resent == [second.bot.orders.all_orders[0].client_order_id]
    second.journal.flush()
    clock.advance_to(T0 + MINUTE)
    second.journal.flush()
    third = start(engine, clock)  # and a further restart sends nothing again
    again = await reconcile(third)
    assert again.resent == [] and again.ok
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM paper_orders")).scalar() == 1
    assert third.bot.portfolio.balances == third.venue.balances()


async def test_a_restart_right_after_a_resend_waits_for_that_request_before_sending_again(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    crashed_before_sending(engine, clock, "s1")
    clock.advance_to(T0 + 30 * MINUTE)  # the intent is long past any receive window
    second = start(engine, clock)
    second.venue.lookup_settle_ms = 300  # type: ignore[misc]  # a live venue's receive window
    in_flight: list[Order] = []
    second.venue.submit_order = in_flight.append  # type: ignore[method-assign]  # held on the way
    assert (await reconcile(second)).resent
    second.journal.flush()  # the resend leaves; the bot dies before hearing back
    assert len(in_flight) == 1

    third = start(engine, clock)
    third.venue.lookup_settle_ms = 300  # type: ignore[misc]
    ask_venue = third.venue.fetch_order
    lookups: list[str] = []

    async def arriving_late(client_order_id: str, symbol: str):  # type: ignore[no-untyped-def]
        lookups.append(client_order_id)
        if len(lookups) == 1:
            third.venue.submit_order(in_flight[0])  # the held request reaches the venue now,
            return None  # just after this first lookup missed it
        return await ask_venue(client_order_id, symbol)

    third.venue.fetch_order = arriving_late  # type: ignore[method-assign]
    report = await reconcile(third)
    assert report.resent == []  # the second send's window was waited out: no third send
    third.journal.flush()
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM paper_orders")).scalar() == 1


async def test_signal_delivered_again_after_restart_is_a_duplicate(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock)
    first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    first.journal.flush()
    second = start(engine, clock)
    second.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    second.journal.flush()
    assert len(second.bot.orders.all_orders) == 1
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM duplicate_signals")).scalar() == 1
        assert c.execute(text("SELECT count(*) FROM orders")).scalar() == 1


async def test_order_open_at_the_venue_but_unknown_to_the_bot_is_adopted(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock)
    manual = Order(
        client_order_id="placed-by-hand",
        symbol="BTC/USDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        amount=Decimal("0.1"),
        price=Decimal("50"),
        created_ms=T0,
        signal_id="",
    )
    first.venue.submit_order(manual)  # as if placed on the exchange's website
    clock.advance_to(T0 + MINUTE)
    second = start(engine, clock)
    report = await reconcile(second)
    assert report.adopted and report.adopted[0].startswith("placed-by-hand")
    adopted = second.bot.orders.get("placed-by-hand")
    assert adopted is not None and adopted.status is OrderStatus.ACCEPTED
    assert second.bot.orders.open_exposure("BTC/USDT") == (Decimal("0.1"), Decimal(0))


async def test_acknowledged_order_the_venue_has_no_trace_of_refuses_the_start(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock, execution={"class": "limit", "params": {}})
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="0.5", order_type="limit", price="50")
    )
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    first.journal.flush()
    assert first.bot.orders.all_orders[0].status is OrderStatus.ACCEPTED
    with engine.begin() as c:
        c.execute(text("DELETE FROM paper_orders"))  # the venue lost it
    second = start(engine, clock, execution={"class": "limit", "params": {}})
    report = await reconcile(second)
    assert not report.ok
    assert "no record of it" in report.unexplained[0]
    # `run --accept-venue-state`: the venue's word is taken, the order is closed
    reconciler = Reconciler(second.bot.kernel, second.venue)
    (done,) = reconciler.accept_venue_state(report)
    assert "closed as canceled" in done
    assert second.bot.orders.all_orders[0].status is OrderStatus.CANCELED


async def test_balance_the_fills_cannot_explain_refuses_the_start(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    start(engine, clock)
    with engine.begin() as c:
        c.execute(text("UPDATE paper_balances SET total = '9000' WHERE asset = 'USDT'"))
    report = await reconcile(start(engine, clock))
    assert not report.ok
    assert report.balance_differences["USDT"] == (Decimal("10000"), Decimal("9000"))


async def test_order_canceled_at_the_venue_while_down_is_closed(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    limit = {"class": "limit", "params": {}}
    first = start(engine, clock, execution=limit)
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="0.5", order_type="limit", price="50")
    )
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    first.journal.flush()
    order = first.bot.orders.all_orders[0]
    first.journal.when_durable = lambda action: None  # type: ignore[method-assign]
    first.venue.cancel_order(order)  # the cancel lands; the bot dies before recording it
    second = start(engine, clock, execution=limit)
    report = await reconcile(second)
    assert report.ok
    restored = second.bot.orders.get(order.client_order_id)
    assert restored is not None and restored.status is OrderStatus.CANCELED
    record = second.bot.kernel.ledger.get(("", "s1"))
    assert record is not None and record.status.value == "rejected"


async def test_a_venue_that_cannot_be_asked_is_retried_then_raises_never_read_as_empty(
    tmp_path: Path,
) -> None:
    import pytest

    from trading_bot.venues.base import VenueQueryError

    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock)
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    running.journal.flush()
    calls = 0

    async def down(*args: object) -> None:
        nonlocal calls
        calls += 1
        raise VenueQueryError("connection refused")

    running.venue.fetch_order = down  # type: ignore[method-assign]
    reconciler = Reconciler(running.bot.kernel, running.venue, attempts=3)
    with pytest.raises(VenueQueryError):
        await reconciler.reconcile(at_start=True)
    assert calls == 3
    assert running.bot.orders.all_orders[0].is_open  # nothing concluded from silence


async def test_an_order_past_its_timeout_at_restart_is_canceled_and_repriced(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    limit = {
        "class": "limit",
        "params": {"timeout_s": 30, "on_timeout": "reprice", "offset_bps": 5000},
    }
    first = start(engine, clock, execution=limit)
    clock.advance_to(T0 + MINUTE + 1)
    first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.1"))
    first.journal.flush()
    clock.advance_to(T0 + MINUTE + 2)
    first.journal.flush()
    # the bot dies before the venue answered (it writes the order with its answer, at the
    # next bar), and comes back long after the order's 30 s deadline: the order is resent,
    # and the deadline's cancel goes out after that resend, not before it
    clock = SimulatedClock(T0 + 5 * MINUTE)
    second = start(engine, clock, execution=limit)
    report = await reconcile(second)
    assert report.ok
    clock.advance_to(T0 + 5 * MINUTE + 1)
    second.journal.flush()
    legs = sorted(second.bot.orders.all_orders, key=lambda o: o.leg)
    assert [o.leg for o in legs] == [0, 1]
    assert legs[0].status is OrderStatus.CANCELED and legs[0].timed_out
    assert legs[1].is_open  # the re-price, sent


def _resting_limit(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock, execution={"class": "limit", "params": {}})
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="0.5", order_type="limit", price="50")
    )
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    first.journal.flush()
    (order,) = first.bot.orders.all_orders
    assert order.status is OrderStatus.ACCEPTED
    return engine, clock, first, order


async def test_modify_applied_and_filled_while_down_closes_the_order(tmp_path: Path) -> None:
    for amount in ("0.3", "0.8"):  # smaller, and larger than the original 0.5
        engine, clock, first, order = _resting_limit(tmp_path / amount)
        assert first.bot.orders.modify(order, amount=Decimal(amount), price=Decimal("200"))
        clock.advance_to(T0 + 2 * MINUTE)  # the venue modifies it, then it fills at 200
        second = start(engine, SimulatedClock(clock.now_ms()), execution={"class": "limit"})
        report = await reconcile(second)
        restored = second.bot.orders.get(order.client_order_id)
        assert report.ok, report.lines()
        assert restored is not None and restored.status is OrderStatus.FILLED
        assert restored.filled_amount == Decimal(amount)
        assert second.bot.orders.open_exposure("BTC/USDT") == (Decimal(0), Decimal(0))


async def test_price_only_modify_applied_while_down_is_taken_from_the_venue(
    tmp_path: Path,
) -> None:
    engine, clock, first, order = _resting_limit(tmp_path)
    first.venue._deliver = lambda: None  # type: ignore[method-assign]  # dies before hearing
    assert first.bot.orders.modify(order, price=Decimal("60"))
    first.journal.flush()
    second = start(engine, clock, execution={"class": "limit"})
    report = await reconcile(second)
    restored = second.bot.orders.get(order.client_order_id)
    assert report.ok
    assert restored is not None and restored.price == Decimal("60")
    assert restored.status is OrderStatus.ACCEPTED


async def test_rejected_snapshot_with_a_venue_order_id_closes_the_order(tmp_path: Path) -> None:
    from trading_bot.domain.rejections import RejectionReason
    from trading_bot.venues.base import VenueOrderSnapshot

    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock, execution={"class": "limit"})
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="0.5", order_type="limit", price="50")
    )
    first.journal.flush()
    o = first.bot.orders.all_orders[0]
    second = start(engine, SimulatedClock(T0 + 2), execution={"class": "limit"})

    async def rejected(coid: str, symbol: str) -> VenueOrderSnapshot:
        return VenueOrderSnapshot(
            coid, "12345", o.symbol, o.side, o.order_type, o.amount, o.price, None,
            OrderStatus.REJECTED, Decimal(0), (), RejectionReason.INSUFFICIENT_BALANCE, "no money",
        )  # fmt: skip

    second.venue.fetch_order = rejected  # type: ignore[method-assign]
    await reconcile(second)
    restored = second.bot.orders.get(o.client_order_id)
    assert restored is not None and restored.status is OrderStatus.REJECTED
    assert restored.reject_reason is RejectionReason.INSUFFICIENT_BALANCE


async def test_a_lasting_difference_is_told_once_while_running_and_its_end_is_told_too(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    start(engine, clock)
    with engine.begin() as c:
        c.execute(text("UPDATE paper_balances SET total = '9000' WHERE asset = 'USDT'"))
    running = start(engine, clock)
    told: list[list[str]] = []
    lines: list[str] = []
    sink = logger.add(lines.append, format="{level} {message}")
    try:
        reconciler = Reconciler(running.bot.kernel, running.venue, on_new_problems=told.append)
        for _ in range(3):
            await reconciler.reconcile()
        running.venue._exchange.account.total["USDT"] = Decimal("10000")  # the difference ends
        await reconciler.reconcile()
    finally:
        logger.remove(sink)
    assert told == [["UNEXPLAINED balance difference USDT: bot 10000, venue 9000"]]
    assert sum(line.startswith("ERROR") for line in lines) == 1
    assert any(line.startswith("INFO reconciliation: resolved:") for line in lines)


async def test_accepting_the_venue_state_closes_what_it_forgot_and_adopts_its_balances(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    start(engine, clock)
    with engine.begin() as c:
        c.execute(text("UPDATE paper_balances SET total = '9000' WHERE asset = 'USDT'"))
    running = start(engine, clock)
    reconciler = Reconciler(running.bot.kernel, running.venue)
    report = await reconciler.reconcile(at_start=True)
    assert not report.ok
    done = reconciler.accept_venue_state(report)
    assert done == ["balance USDT set to the venue's 9000 (was 10000)"]
    assert (await reconciler.reconcile(at_start=True)).ok
    assert running.bot.portfolio.initial_balances["USDT"] == Decimal("9000")


async def test_a_venue_report_about_an_order_never_recorded_as_sent_marks_it_sent_first(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    crashed_before_sending(engine, clock, "a", "b")
    second = start(engine, clock)
    accepted, canceled = second.bot.orders.all_orders
    assert accepted.status is canceled.status is OrderStatus.INITIALIZED
    # the first run's sends reach the venue after all; their reports come back to this run
    second.bot.orders.order_accepted(accepted.client_order_id, "v1")
    second.bot.orders.order_canceled(canceled.client_order_id, "canceled at the venue")
    second.journal.flush()
    assert (accepted.status, canceled.status) == (OrderStatus.ACCEPTED, OrderStatus.CANCELED)
    with engine.connect() as c:
        for order, last in ((accepted, "accepted"), (canceled, "canceled")):
            events = c.execute(
                text("SELECT event FROM order_events WHERE client_order_id = :c ORDER BY id"),
                {"c": order.client_order_id},
            ).scalars()
            assert list(events)[-2:] == ["submitted", last]


async def test_a_position_without_a_stop_is_a_warning_only_where_the_execution_places_stops(
    tmp_path: Path, log_lines: list[str]
) -> None:
    bracket = {"class": "bracket", "params": {"stop_loss": "0.05"}}
    for name, execution, level in (("plain", None, "INFO"), ("bracket", bracket, "WARNING")):
        engine = store(tmp_path / name)
        clock = SimulatedClock(T0 + 1)
        first = start(engine, clock)  # a market buy leaves a position with no stop
        first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
        first.journal.flush()
        clock.advance_to(T0 + MINUTE)
        first.journal.flush()
        log_lines.clear()
        second = start(engine, clock, **({"execution": execution} if execution else {}))
        report = await reconcile(second)
        assert report.unprotected_positions == ["BTC/USDT 0.5"]  # listed either way
        assert [line.strip() for line in log_lines if "protective stop" in line] == [
            f"{level} reconciliation: position without a protective stop: BTC/USDT 0.5"
        ]


async def test_a_position_a_stop_covers_only_in_part_is_listed_with_what_is_covered(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock)
    first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    stop = Order(
        client_order_id="stop-by-hand",
        symbol="BTC/USDT",
        side=Side.SELL,
        order_type=OrderType.STOP_MARKET,
        amount=Decimal("0.2"),
        trigger_price=Decimal("50"),
        created_ms=clock.now_ms(),
        signal_id="",
    )
    first.venue.submit_order(stop)  # placed on the exchange's website, for part of it
    second = start(engine, clock)
    report = await reconcile(second)
    assert report.unprotected_positions == ["BTC/USDT 0.5 (stops cover 0.2)"]
