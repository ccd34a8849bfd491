"""The paper venue's books: its record of every order and fill, and the port that keeps them.

They are the venue's, not the bot's: after a crash the bot is reconciled against them exactly
as it would be against a real exchange's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.venues.simulated.venue_order import VenueOrder


@dataclass(slots=True)
class PaperOrderRecord:
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    oco_group: str | None
    expires_at_ms: int | None
    created_ms: int
    updated_ms: int
    filled: Decimal = ZERO
    accepted: bool = False
    triggered: bool = False
    # SUBMITTED until acknowledged, then ACCEPTED / TRIGGERED / PARTIALLY_FILLED / a final state
    status: OrderStatus = OrderStatus.SUBMITTED
    reason: str | None = None
    detail: str = ""
    stored: bool = False  # its row exists in the store: a save writes only what changes
    # from when the matcher takes it as newly arrived (its acknowledgement, or its last
    # modification + 1 ms, as the matcher starts it at the first bar at or after that time):
    # a catch-up after a restart tells a resting order from one still waiting for a first bar
    matched_from_ms: int | None = None

    @classmethod
    def of(cls, order: Order, now_ms: int) -> PaperOrderRecord:
        return cls(
            order.client_order_id,
            "",
            order.symbol,
            order.side,
            order.order_type,
            order.amount,
            order.price,
            order.trigger_price,
            order.time_in_force,
            order.post_only,
            order.oco_group,
            order.expires_at_ms,
            now_ms,
            now_ms,
        )

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def venue_order(self) -> VenueOrder:
        """The matching engine's order, rebuilt after a restart."""
        return VenueOrder(
            self.client_order_id,
            self.venue_order_id,
            self.symbol,
            self.side,
            self.order_type,
            self.amount,
            self.price,
            self.trigger_price,
            self.time_in_force,
            self.post_only,
            self.oco_group,
            self.expires_at_ms,
            filled=self.filled,
            accepted=self.accepted,
            triggered=self.triggered,
        )


@dataclass(slots=True)
class PaperBooks:
    """Everything the venue needs to continue after a restart."""

    anchor_ms: int | None = None
    # what the replay was built from (speed, and per symbol the data's first/last time and
    # row count): the venue's timeline depends on it, so a restart must use the same
    replay: dict[str, Any] | None = None
    balances: dict[str, Decimal] | None = None
    order_sequence: int = 0
    trade_sequence: int = 0
    open_orders: list[PaperOrderRecord] = field(default_factory=list)
    # the venue's time at its last commit: nothing happened to its orders after it that was
    # written, so after a restart on replayed data the orders are matched again from there
    as_of_ms: int | None = None
    # per symbol, (open time, volume used) of the bar in progress then, under a volume cap
    volume_used: dict[str, tuple[int, Decimal]] = field(default_factory=dict)


class PaperBookStore(Protocol):
    """Where the paper venue keeps its books (the store implements it)."""

    def load(self) -> PaperBooks: ...

    def save(
        self,
        orders: list[PaperOrderRecord],
        fills: list[Fill],
        balances: dict[str, Decimal],
        sequences: tuple[int, int],
        anchor_ms: int,
        replay: dict[str, Any],
        as_of_ms: int,
        volume_used: dict[str, tuple[int, Decimal]],
    ) -> None:
        """Write all of it in one transaction: the venue reports nothing before it commits."""

    def close(self) -> None:
        """Let go of what the store holds open (at stop, after the last save)."""

    def find_order(self, client_order_id: str) -> tuple[PaperOrderRecord, list[Fill]] | None: ...

    def open_orders(self) -> list[tuple[PaperOrderRecord, list[Fill]]]: ...

    def client_order_ids(self) -> list[str]: ...
