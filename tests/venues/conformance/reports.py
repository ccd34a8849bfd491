"""A `VenueReports` that writes down everything a venue says, in order, and reads it back
the way the conformance tests ask: what happened to this client order id?"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading_bot.domain.fill import Fill
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason

S = OrderStatus
# the reports that end an order
_FINAL = {"rejected": S.REJECTED, "canceled": S.CANCELED, "expired": S.EXPIRED}


@dataclass(frozen=True, slots=True)
class Report:
    kind: str  # accepted, rejected, filled, triggered, modified, canceled, expired,
    # cancel_rejected, modify_rejected
    client_order_id: str
    reason: RejectionReason | None = None
    detail: str = ""
    fill: Fill | None = None
    venue_order_id: str | None = None
    amount: Decimal | None = None
    price: Decimal | None = None


@dataclass
class RecordingReports:
    """Every report, in the order the venue made them."""

    reports: list[Report] = field(default_factory=list)

    # -- VenueReports ---------------------------------------------------------------------------

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None:
        self.reports.append(Report("accepted", client_order_id, venue_order_id=venue_order_id))

    def order_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.reports.append(Report("rejected", client_order_id, reason, detail))

    def order_filled(self, fill: Fill) -> None:
        self.reports.append(Report("filled", fill.client_order_id, fill=fill))

    def order_triggered(self, client_order_id: str) -> None:
        self.reports.append(Report("triggered", client_order_id))

    def order_modified(self, client_order_id: str, amount: Decimal, price: Decimal | None) -> None:
        self.reports.append(Report("modified", client_order_id, amount=amount, price=price))

    def order_canceled(self, client_order_id: str, detail: str) -> None:
        self.reports.append(Report("canceled", client_order_id, detail=detail))

    def order_expired(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.reports.append(Report("expired", client_order_id, reason, detail))

    def cancel_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.reports.append(Report("cancel_rejected", client_order_id, reason, detail))

    def modify_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.reports.append(Report("modify_rejected", client_order_id, reason, detail))

    # -- reading ---------------------------------------------------------------------------------

    def of(self, client_order_id: str, kind: str | None = None) -> list[Report]:
        return [
            r
            for r in self.reports
            if r.client_order_id == client_order_id and kind in (None, r.kind)
        ]

    def kinds(self, client_order_id: str) -> list[str]:
        return [r.kind for r in self.of(client_order_id)]

    def has(self, client_order_id: str, kind: str) -> bool:
        return any(r.kind == kind for r in self.of(client_order_id))

    def fills(self, client_order_id: str | None = None) -> list[Fill]:
        return [
            r.fill
            for r in self.reports
            if r.fill is not None and client_order_id in (None, r.client_order_id)
        ]

    def filled(self, client_order_id: str) -> Decimal:
        return sum((f.amount for f in self.fills(client_order_id)), Decimal(0))

    def venue_order_id(self, client_order_id: str) -> str | None:
        accepted = self.of(client_order_id, "accepted")
        return accepted[0].venue_order_id if accepted else None

    def reason(self, client_order_id: str, kind: str) -> RejectionReason | None:
        """The reason of the last `kind` report (rejected, expired, cancel_rejected, ...)."""
        found = self.of(client_order_id, kind)
        return found[-1].reason if found else None

    def status(self, client_order_id: str, amount: Decimal | None = None) -> OrderStatus | None:
        """The order's state as the reports tell it (None before any report). Given the
        order's `amount`, fills that reach it mean FILLED."""
        status: OrderStatus | None = None
        for r in self.of(client_order_id):
            if r.kind in _FINAL:
                status = _FINAL[r.kind]
            elif r.kind == "accepted":
                status = status or S.ACCEPTED
            elif r.kind == "triggered":
                status = S.TRIGGERED if status is S.ACCEPTED else status
            elif r.kind == "filled":
                if status in (None, S.ACCEPTED, S.TRIGGERED):
                    status = S.PARTIALLY_FILLED
            elif r.kind == "modified" and r.amount is not None:
                amount = r.amount
        if (
            status is S.PARTIALLY_FILLED
            and amount is not None
            and self.filled(client_order_id) >= amount
        ):
            return S.FILLED
        return status

    def is_closed(self, client_order_id: str, amount: Decimal) -> bool:
        status = self.status(client_order_id, amount)
        return status is not None and not status.is_open

    def problems(self) -> list[str]:
        """What no venue may ever report, whatever the test did: one execution reported
        twice (a trade id seen again), a fill of nothing or at no price."""
        found, seen = [], set()
        for fill in self.fills():
            if fill.trade_id in seen:
                found.append(f"trade {fill.trade_id} reported twice")
            seen.add(fill.trade_id)
            if fill.amount <= 0 or fill.price <= 0 or fill.fee < 0:
                found.append(f"impossible fill {fill}")
        return found

    def describe(self) -> str:
        """All reports, one per line, for assertion messages."""
        lines = []
        for r in self.reports:
            extra: list[Any] = [x for x in (r.reason, r.detail) if x]
            if r.fill is not None:
                f = r.fill
                extra = [f"{f.side} {f.amount} @ {f.price} fee {f.fee} {f.fee_asset} {f.liquidity}"]
            if r.kind == "modified":
                extra = [f"amount {r.amount} price {r.price}"]
            lines.append(f"  {r.kind:<16} {r.client_order_id} {' '.join(map(str, extra))}")
        return "\n".join(lines) or "  (no reports)"
