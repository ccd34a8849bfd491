"""The journal port: what the core records so that a crash loses nothing.

The core calls it synchronously and never waits on I/O. An implementation may buffer, but it
must run `when_durable` actions only once everything recorded before them is committed: the
order manager sends an order to the venue from such an action, which is what makes the intent
written before the venue is called (write-ahead). Backtests use `NullJournal`, which keeps
nothing and runs actions at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from trading_bot.domain.fill import Fill
    from trading_bot.domain.order import Order
    from trading_bot.domain.signal import Signal
    from trading_bot.engine.signal_ledger import InvalidSignal, SignalRecord


class Journal(Protocol):
    def signal_received(self, signal: Signal, record: SignalRecord) -> None: ...

    def signal_changed(self, record: SignalRecord) -> None: ...

    def duplicate_signal(self, source: str, signal_id: str, ts_ms: int) -> None: ...

    def dead_letter(self, invalid: InvalidSignal, ts_ms: int) -> None: ...

    def order_created(self, order: Order) -> None: ...

    def order_changed(self, order: Order, event: str, detail: str, ts_ms: int) -> None: ...

    def fill_applied(self, fill: Fill) -> None: ...

    def when_durable(self, action: Callable[[], None]) -> None: ...

    def cursor_moved(self, source: str, position: str) -> None: ...


class NullJournal:
    """Keeps nothing: for backtests, whose input can simply be run again."""

    def signal_received(self, signal: Signal, record: SignalRecord) -> None:
        pass

    def signal_changed(self, record: SignalRecord) -> None:
        pass

    def duplicate_signal(self, source: str, signal_id: str, ts_ms: int) -> None:
        pass

    def dead_letter(self, invalid: InvalidSignal, ts_ms: int) -> None:
        pass

    def order_created(self, order: Order) -> None:
        pass

    def order_changed(self, order: Order, event: str, detail: str, ts_ms: int) -> None:
        pass

    def fill_applied(self, fill: Fill) -> None:
        pass

    def when_durable(self, action: Callable[[], None]) -> None:
        action()

    def cursor_moved(self, source: str, position: str) -> None:
        pass
