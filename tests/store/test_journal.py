"""The journal: write-ahead (nothing reaches the venue before its intent is committed), every
order transition kept with its time, and a failed commit holding orders back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.conftest import MINUTE, T0, make_signal
from tests.service.rig import start, store
from trading_bot.domain.order_status import OrderStatus
from trading_bot.engine.clock import SimulatedClock


def test_order_reaches_the_venue_only_after_its_intent_is_committed(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock)
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    (order,) = running.bot.orders.all_orders
    assert order.status is OrderStatus.INITIALIZED  # recorded in memory, not yet durable
    running.venue.commit()  # the venue writes what it has received (it writes it anyway
    with engine.connect() as c:  # when it answers)
        assert c.execute(text("SELECT count(*) FROM paper_orders")).scalar() == 0
        assert c.execute(text("SELECT count(*) FROM orders")).scalar() == 0
    running.journal.flush()
    assert order.status is OrderStatus.SUBMITTED
    running.venue.commit()
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM orders")).scalar() == "initialized"
        assert c.execute(text("SELECT count(*) FROM paper_orders")).scalar() == 1


def test_every_transition_is_kept_with_its_time(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock)
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    running.journal.flush()
    clock.advance_to(T0 + MINUTE)
    running.journal.flush()
    with engine.connect() as c:
        events = c.execute(text("SELECT event, status, ts_ms FROM order_events ORDER BY id")).all()
        order = c.execute(text("SELECT status, filled_amount, fees FROM orders")).one()
        signal = c.execute(text("SELECT status FROM signals")).scalar()
    assert [(e.event, e.status) for e in events] == [
        ("submitted", "submitted"),
        ("accepted", "accepted"),
        ("fill", "filled"),
    ]
    # the paper replay starts at the bot's first start (T0 + 1): the order fills at that open
    assert [e.ts_ms for e in events] == [T0 + 1] * 3
    assert (order.status, order.filled_amount) == ("filled", "0.5")
    assert order.fees == "0.0500"  # 0.5 x 100 x 0.001, exact text
    assert signal == "executed"


def test_a_failed_commit_keeps_the_order_unsent_and_retries(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock)
    with engine.begin() as c:
        c.execute(text("ALTER TABLE orders RENAME TO orders_gone"))
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    assert running.journal.flush() is False
    (order,) = running.bot.orders.all_orders
    assert order.status is OrderStatus.INITIALIZED
    with engine.begin() as c:
        assert c.execute(text("SELECT count(*) FROM paper_orders")).scalar() == 0
        c.execute(text("ALTER TABLE orders_gone RENAME TO orders"))
    clock.advance_to(T0 + 1_000)  # the scheduled retry
    assert order.status is not OrderStatus.INITIALIZED
    running.venue.commit()
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM paper_orders")).scalar() == 1


def test_outcomes_are_grouped_but_a_waiting_order_is_committed_at_once(tmp_path: Path) -> None:
    from trading_bot.store.journal import StoreJournal

    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    soon: list[object] = []
    journal = StoreJournal(engine, clock, schedule=soon.append, group_ms=50)
    running = start(engine, clock)
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    order = running.bot.orders.all_orders[0]
    journal.order_changed(order, "accepted", "", T0)  # an outcome: nothing waits on it
    assert soon == [] and clock.next_timer_ms() == T0 + 50
    journal.when_durable(lambda: None)  # something waits: committed on the next loop turn
    assert soon == [journal.flush]
    journal.flush()  # the loop runs it
    clock.advance_to(T0 + 50)  # the grouped flush finds nothing left
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM order_events")).scalar() == 1


def test_a_change_to_an_order_whose_row_is_missing_writes_the_whole_row(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock)
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5"))
    running.journal.flush()
    with engine.begin() as c:  # as if the row had been lost (restored by hand, say)
        c.execute(text("DELETE FROM orders"))
    clock.advance_to(T0 + MINUTE)
    running.journal.flush()
    with engine.connect() as c:
        order = c.execute(text("SELECT status, filled_amount, symbol, side FROM orders")).one()
    assert tuple(order) == ("filled", "0.5", "BTC/USDT", "buy")


def test_a_signal_status_change_is_an_update_and_a_missing_row_is_written_whole(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock)
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5", signal_id="s-1"))
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.5", signal_id="s-2"))
    running.journal.flush()
    with engine.begin() as c:
        assert c.execute(text("SELECT status FROM signals")).scalars().all() == ["pending"] * 2
        c.execute(text("DELETE FROM signals WHERE signal_id = 's-2'"))  # as if lost
    clock.advance_to(T0 + MINUTE)
    running.journal.flush()
    with engine.connect() as c:
        rows = c.execute(text("SELECT signal_id, status, asset FROM signals ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [
        ("s-1", "executed", "BTC/USDT"),
        ("s-2", "executed", "BTC/USDT"),
    ]


def test_a_signal_rejected_in_the_turn_it_arrived_is_not_kept_by_the_journal(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    running = start(engine, SimulatedClock(T0 + 1))  # the account holds 1 BTC
    for i in range(3):
        running.bot.kernel.submit_signal(
            make_signal(asset="BTC/USDT", side="sell", size="5", signal_id=f"big-{i}")
        )
    running.journal.flush()
    with engine.connect() as c:
        statuses = c.execute(text("SELECT status FROM signals")).scalars().all()
    assert statuses == ["rejected"] * 3
    assert running.journal._unsettled == {}  # a long-running bot does not accumulate them
