"""The venue port: what the core needs from a trading venue, and how the venue answers.

The core calls `submit_order` / `cancel_order` and never waits: outcomes come back later
through the `VenueReports` the venue was bound to. A simulated venue answers from its matching
engine on the simulated clock, a live one from the exchange's responses and streams; the core
cannot tell them apart.

Recovery and reconciliation also ask the venue what it has (`fetch_*`, async: they are I/O on a
live venue). A query that fails raises `VenueQueryError`; it is never answered with "nothing".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
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


@dataclass(frozen=True, slots=True)
class VenueOrderSnapshot:
    """What the venue says about one order: its state there and every fill it made."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    # ACCEPTED, TRIGGERED or PARTIALLY_FILLED while open; else FILLED, CANCELED, REJECTED, EXPIRED
    status: OrderStatus
    filled: Decimal
    fills: tuple[Fill, ...]
    reason: RejectionReason | None = None
    detail: str = ""


class VenueQueryError(Exception):
    """The venue could not be asked (down, timeout, refused). Never read as "no orders".

    `venue_down`: it gave no usable answer (unreachable, failing, throttling or banning the
    bot), as opposed to refusing the request (bad keys, an unknown symbol): a start that
    fails so is the venue's problem, not the config's, and may succeed later."""

    def __init__(self, message: str, *, venue_down: bool = False) -> None:
        super().__init__(message)
        self.venue_down = venue_down


class Venue(ABC):
    """A place to trade. Subclasses declare their config `Params` model."""

    Params: ClassVar[type[BaseModel]]
    # After this long, a request the venue has no trace of can no longer reach it (a live
    # venue refuses requests older than its receive window): "order not found" is final.
    lookup_settle_ms: ClassVar[int] = 0
    # Whether the venue links the legs of an OCO group itself (one fills or triggers, the
    # venue cancels the others). A venue that does not say so gets them linked by the order
    # manager (`OcoEmulation`): left alone, both legs of a bracket may fill.
    links_oco: ClassVar[bool] = False
    # Whether the venue matches orders itself in this process (the simulated exchange), so it
    # can be fed a real venue's live trades (`paper.live_data`); a venue outside matches its own
    matches_in_process: ClassVar[bool] = False

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        self.params = (
            params if isinstance(params, BaseModel) else self.Params.model_validate(params or {})
        )

    @classmethod
    def problems_in_mode(cls, mode: str, params: BaseModel) -> list[tuple[str, str]]:
        """What makes these params wrong for `mode` (backtest, paper, live), as (key path
        under `exchange`, message) pairs; the config loader reports them."""
        return []

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

    def refusal(self, order: Order) -> Rejection | None:
        """Why the bot itself would not send `order` now, without asking the venue (a ban or
        pause it keeps, a rule of the market it checks), or None. The order manager asks just
        before sending, so that an order refused here is rejected without ever being reported
        as sent. A venue that answers every order itself refuses nothing here."""
        return None

    @abstractmethod
    def cancel_order(self, order: Order) -> None:
        """Ask to cancel an open order; the outcome arrives through `VenueReports`."""

    @abstractmethod
    def modify_order(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        """Ask to change the amount and/or price of a resting order (outcome via reports)."""

    def follow(self, order: Order) -> None:  # noqa: B027 - most venues report on every order
        """Report on `order` from now on: one the bot learned of from the venue itself
        (adopted by reconciliation, or open from before a restart). Venues that report on
        every order they hold need nothing here."""

    # -- queries for recovery and reconciliation ------------------------------------------------

    async def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrderSnapshot | None:
        """The venue's record of the order, or None if it has none."""
        raise VenueQueryError(f"{type(self).__name__} cannot be asked about orders")

    async def fetch_open_orders(self) -> list[VenueOrderSnapshot]:
        raise VenueQueryError(f"{type(self).__name__} cannot list open orders")

    async def fetch_balances(self) -> dict[str, Decimal]:
        return self.balances()
