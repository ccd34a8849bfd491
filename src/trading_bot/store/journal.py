"""StoreJournal: the core's `Journal`, written to the database in groups.

The core records as it goes; nothing is written until `flush`, which commits everything
recorded so far in one transaction and only then runs the actions waiting on it (sending
orders). Signals arriving together therefore cost one commit, not one each, and an order
never reaches the venue before its intent is on disk. If a commit fails, nothing waiting on
it runs: orders stay unsent, and the flush is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from loguru import logger
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.signal import Signal
from trading_bot.engine.clock import Clock
from trading_bot.engine.signal_ledger import InvalidSignal, SignalRecord, SignalStatus
from trading_bot.store.held_connection import HeldConnection
from trading_bot.store.models import (
    DeadLetterRow,
    DuplicateSignalRow,
    FillRow,
    IntakeCursorRow,
    OrderEventRow,
    OrderRow,
    SignalRow,
)
from trading_bot.store.rows import ORDER_CHANGES, fill_row, order_changes, order_row
from trading_bot.store.upsert import insert_rows, money, update_rows, upsert

Schedule = Callable[[Callable[[], None]], None]
RETRY_MS = (100, 500, 2_000, 5_000)


class StoreJournal:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        schedule: Schedule | None = None,
        on_intents_committed: Callable[[], None] | None = None,
        group_ms: int = 0,
    ) -> None:
        """`schedule` runs a flush soon (the event loop's `call_soon`); without it the owner
        calls `flush` itself. `on_intents_committed` runs after a commit that wrote new orders,
        before they are sent (the crash tests' fault point). `group_ms`: when nothing waits
        on the commit (only outcomes reported by the venue are buffered, which recovery can
        learn again from the venue), wait this long to commit more at once."""
        self._group_ms = group_ms
        self._group_due = False
        self._on_intents_committed = on_intents_committed
        self._connection = HeldConnection(engine)
        self._clock = clock
        self._schedule = schedule
        self._flush_due = False
        self._failures = 0
        self._new_signals: dict[tuple[str, str], tuple[Signal, SignalRecord]] = {}
        self._changed_signals: dict[tuple[str, str], SignalRecord] = {}
        # signals still pending, kept so their later status changes can be written as rows
        self._unsettled: dict[tuple[str, str], Signal] = {}
        self._duplicates: list[dict[str, Any]] = []
        self._dead_letters: list[dict[str, Any]] = []
        self._new_orders: dict[str, Order] = {}
        self._changed_orders: dict[str, Order] = {}
        self._events: list[dict[str, Any]] = []
        self._fills: list[dict[str, Any]] = []
        self._cursors: dict[str, str] = {}
        self._waiting: list[Callable[[], None]] = []
        self.commits = 0

    # -- Journal --------------------------------------------------------------------------------

    def signal_received(self, signal: Signal, record: SignalRecord) -> None:
        key = (record.source, record.signal_id)
        self._new_signals[key] = (signal, record)
        if record.status is SignalStatus.PENDING:
            self._unsettled[key] = signal
        self._due()

    def signal_changed(self, record: SignalRecord) -> None:
        key = (record.source, record.signal_id)
        if key not in self._new_signals:
            self._changed_signals[key] = record
            self._due()

    def duplicate_signal(self, source: str, signal_id: str, ts_ms: int) -> None:
        self._duplicates.append({"source": source, "signal_id": signal_id, "received_ms": ts_ms})
        self._due()

    def dead_letter(self, invalid: InvalidSignal, ts_ms: int) -> None:
        self._dead_letters.append(
            {
                "received_ms": ts_ms,
                "location": invalid.location,
                "errors": json.dumps(list(invalid.errors)),
                "raw": invalid.raw,
            }
        )
        self._due()

    def order_created(self, order: Order) -> None:
        self._new_orders[order.client_order_id] = order
        self._due()

    def order_changed(self, order: Order, event: str, detail: str, ts_ms: int) -> None:
        if order.client_order_id not in self._new_orders:
            self._changed_orders[order.client_order_id] = order
        self._events.append(
            {
                "client_order_id": order.client_order_id,
                "ts_ms": ts_ms,
                "event": event,
                "status": order.status._value_,
                "detail": detail,
            }
        )
        self._due()

    def fill_applied(self, fill: Fill) -> None:
        self._fills.append(fill_row(fill))
        self._due()

    def when_durable(self, action: Callable[[], None]) -> None:
        if not self._pending() and not self._waiting:
            action()
            return
        self._waiting.append(action)
        self._due()

    # -- intake ---------------------------------------------------------------------------------

    def cursor_moved(self, source: str, position: str) -> None:
        """Where a source has read up to; committed with the signals read, so a restart
        neither skips nor re-reads them."""
        self._cursors[source] = position
        self._due()

    # -- writing --------------------------------------------------------------------------------

    def flush(self) -> bool:
        """Commit everything recorded, then run what waited on it. False if the commit failed
        (everything stays buffered and a retry is scheduled)."""
        self._flush_due = False
        if self._pending():
            try:
                self._write()
            except SQLAlchemyError as error:
                self._failures += 1
                delay = RETRY_MS[min(self._failures, len(RETRY_MS)) - 1]
                logger.error(
                    "store write failed ({} in a row), retrying in {} ms; orders wait: {}: {}",
                    self._failures,
                    delay,
                    type(error).__name__,
                    str(getattr(error, "orig", error)).splitlines()[0][:300],
                )
                self._flush_due = True
                self._clock.schedule_after(delay, self.flush)
                return False
            self._failures = 0
            self.commits += 1
            had_intents = bool(self._new_orders)
            self._clear()
            if had_intents and self._on_intents_committed is not None:
                self._on_intents_committed()
        waiting, self._waiting = self._waiting, []
        for action in waiting:
            try:
                action()
            except Exception:  # one failing send must not keep the others from going out
                logger.exception("an action waiting on the store commit failed")
        return True

    def close(self) -> None:
        """Let go of the journal's connection (at stop, after the last flush)."""
        self._connection.close()

    def _write(self) -> None:
        now = self._clock.now_ms()
        with self._connection.begin() as connection:
            # New signals as upserts (a retry after a commit whose acknowledgement was lost
            # must not fail), status changes as updates of the rows written before: the
            # payload is not serialized again.
            signal_rows = [_signal_row(s, r) for s, r in self._new_signals.values()]
            changed_signals = self._changed_signals
            table: Any = SignalRow.__table__
            keys = ("source", "signal_id")
            changes = [_signal_changes(record) for record in changed_signals.values()]
            if not update_rows(connection, table, SIGNAL_CHANGES, keys, changes):
                # a row was missing: write whole rows where the signal is known
                signal_rows += [
                    _signal_row(self._unsettled[key], record)
                    for key, record in changed_signals.items()
                    if key in self._unsettled
                ]
            # settled signals are not kept, including those settled before their first write
            # (rejected in the turn they arrived: their change was folded into the new row)
            for key, record in changed_signals.items():
                if record.status is not SignalStatus.PENDING:
                    self._unsettled.pop(key, None)
            for key, (_, record) in self._new_signals.items():
                if record.status is not SignalStatus.PENDING:
                    self._unsettled.pop(key, None)
            upsert(connection, table, signal_rows, keys, update=SIGNAL_CHANGES)
            orders = list(self._new_orders.values())
            changed = [order_changes(o, now) for o in self._changed_orders.values()]
            table = OrderRow.__table__
            if not update_rows(connection, table, ORDER_CHANGES, ("client_order_id",), changed):  # type: ignore[arg-type]
                orders += self._changed_orders.values()  # a row was missing: write whole rows
            upsert(
                connection,
                table,  # type: ignore[arg-type]
                [order_row(o, now) for o in orders],
                ["client_order_id"],
                update=ORDER_CHANGES,
            )
            if self._events:
                insert_rows(connection, OrderEventRow.__table__, self._events)  # type: ignore[arg-type]
            if self._fills:
                # an upsert: a retry after a commit whose acknowledgement was lost must not fail
                upsert(connection, FillRow.__table__, self._fills, ["client_order_id", "trade_id"])  # type: ignore[arg-type]
            if self._duplicates:
                insert_rows(connection, DuplicateSignalRow.__table__, self._duplicates)  # type: ignore[arg-type]
            if self._dead_letters:
                insert_rows(connection, DeadLetterRow.__table__, self._dead_letters)  # type: ignore[arg-type]
            if self._cursors:
                upsert(
                    connection,
                    IntakeCursorRow.__table__,  # type: ignore[arg-type]
                    [{"source": k, "position": v} for k, v in self._cursors.items()],
                    ["source"],
                )

    def _pending(self) -> bool:
        return bool(
            self._new_signals
            or self._changed_signals
            or self._duplicates
            or self._dead_letters
            or self._new_orders
            or self._changed_orders
            or self._events
            or self._fills
            or self._cursors
        )

    def _clear(self) -> None:
        self._new_signals = {}
        self._changed_signals = {}
        self._duplicates = []
        self._dead_letters = []
        self._new_orders = {}
        self._changed_orders = {}
        self._events = []
        self._fills = []
        self._cursors = {}

    def _due(self) -> None:
        if self._schedule is None or self._flush_due:
            return
        if self._waiting or not self._group_ms:
            self._flush_due = True
            self._schedule(self.flush)
        elif not self._group_due:
            # only outcomes are waiting (nothing is held back for them): gather more first
            self._group_due = True
            self._clock.schedule_after(self._group_ms, self._group_flush)

    def _group_flush(self) -> None:
        self._group_due = False
        if not self._flush_due:
            self.flush()


def _signal_row(signal: Signal, record: SignalRecord) -> dict[str, Any]:
    expected = signal.price
    if expected is None and (raw := signal.metadata.get("expected_price")) is not None:
        try:
            expected = Decimal(str(raw))
        except ArithmeticError:
            expected = None
    user = signal.metadata.get("user")
    if expected is not None and (not expected.is_finite() or len(str(expected)) > 80):
        expected = None  # not a price the store (or a report) can use
    return {
        "source": record.source,
        "signal_id": record.signal_id,
        "received_ms": record.received_ms,
        "status": record.status._value_,
        "reason": record.reason.value if record.reason else None,
        "detail": record.detail,
        "asset": signal.asset,
        "strategy": signal.strategy,
        "user": str(user)[:200] if user is not None else None,
        "expected_price": money(expected),
        "payload": signal.model_dump_json(),
    }


SIGNAL_CHANGES = ("status", "reason", "detail")


def _signal_changes(record: SignalRecord) -> tuple[Any, ...]:
    """The `SIGNAL_CHANGES` values of a signal's record, then its key."""
    return (
        record.status._value_,
        record.reason.value if record.reason else None,
        record.detail,
        record.source,
        record.signal_id,
    )
