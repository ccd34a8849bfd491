"""The venue port: what the core needs from a trading venue, and how the venue answers.

The core calls `submit_order` / `cancel_order` and never waits: outcomes come back later
through the `VenueReports` the venue was bound to. A simulated venue answers from its matching
engine on the simulated clock, a live one from the exchange's responses and streams; the core
cannot tell them apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Clock


class VenueReports(Protocol):
    """Where a venue reports what happened to orders (implemented by the order manager)."""

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None: ...

    def order_rejected(
        self, client_order_id: str, reason: RejectionReason, detail: str
    ) -> None: ...

    def order_filled(self, fill: Fill) -> None: ...

    def order_triggered(self, client_order_id: str) -> None: ...

    def order_modified(
        self, client_order_id: str, amount: Decimal, price: Decimal | None
    ) -> None: ...

    def order_canceled(self, client_order_id: str, detail: str) -> None: ...

    def order_expired(self, client_order_id: str, reason: RejectionReason, detail: str) -> None: ...

    def cancel_rejected(
        self, client_order_id: str, reason: RejectionReason, detail: str
    ) -> None: ...

    def modify_rejected(
        self, client_order_id: str, reason: RejectionReason, detail: str
    ) -> None: ...


class Venue(ABC):
    """A place to trade. Subclasses declare their config `Params` model."""

    Params: ClassVar[type[BaseModel]]

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        self.params = (
            params if isinstance(params, BaseModel) else self.Params.model_validate(params or {})
        )

    @abstractmethod
    def bind(self, reports: VenueReports, clock: Clock) -> None:
        """Connect the venue to the bot's order manager and clock before any order."""

    @abstractmethod
    def market(self, symbol: str) -> Market | None:
        """Trading rules of `symbol`, or None if the venue does not list it."""

    @abstractmethod
    def balances(self) -> dict[str, Decimal]:
        """Total balance per asset."""

    @abstractmethod
    def submit_order(self, order: Order) -> None:
        """Send an order; the outcome arrives through `VenueReports`."""

    @abstractmethod
    def cancel_order(self, order: Order) -> None:
        """Ask to cancel an open order; the outcome arrives through `VenueReports`."""

    @abstractmethod
    def modify_order(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        """Ask to change the amount and/or price of a resting order (outcome via reports)."""
