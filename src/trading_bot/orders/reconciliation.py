"""Reconciliation: make the bot's books agree with the venue's, or say exactly why they do not.

Run on start (after the store is loaded), on every reconnect and periodically. For each order
the bot holds open it asks the venue what became of it and applies what happened meanwhile
(fills, acknowledgement, cancel, expiry) through the same `VenueReports` path a live report
takes, so the portfolio and signal ledger follow. An order whose intent was written but which
the venue never received is sent now, under the same client order id: the venue's answer, not
a guess, decides that. Orders open at the venue that the bot never recorded are adopted and
reported. What cannot be explained (an acknowledged order the venue has no trace of, balances
that differ after every known fill) is listed; on start that refuses the bot.

A venue query that fails is retried, then raises: it is never read as "no orders".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loguru import logger
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from trading_bot.domain.enums import OrderType
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.venues.base import Venue, VenueOrderSnapshot, VenueQueryError

if TYPE_CHECKING:
    from trading_bot.engine.kernel import TradingKernel

S = OrderStatus
BALANCE_CHECKS = 5  # balances asked this often at most while orders are open and they differ
BALANCE_RECHECK_S = 0.25  # times the attempt number: about 2.5 s in all
_STOPS = {OrderType.STOP_MARKET, OrderType.STOP_LIMIT}


@dataclass(slots=True)
class ReconciliationReport:
    checked_orders: int = 0
    fills_applied: list[str] = field(default_factory=list)
    orders_updated: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    resumed_signals: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    missing_orders: list[str] = field(default_factory=list)  # acknowledged, unknown to the venue
    balance_differences: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    unprotected_positions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unexplained and not self.balance_differences

    def lines(self, *, unprotected: list[str] | None = None) -> list[str]:
        """The report as text; `unprotected` replaces the list of unprotected positions."""
        if unprotected is None:
            unprotected = self.unprotected_positions
        lines = [f"checked {self.checked_orders} open order(s) against the venue"]
        for label, items in (
            ("fill applied (missed while down)", self.fills_applied),
            ("order updated from the venue", self.orders_updated),
            ("sent (the venue never received it)", self.resent),
            ("adopted (open at the venue, unknown to the bot)", self.adopted),
            ("signal resumed", self.resumed_signals),
            ("position without a protective stop", unprotected),
            ("UNEXPLAINED", self.unexplained),
        ):
            lines += [f"{label}: {item}" for item in items]
        lines += [
            f"UNEXPLAINED balance difference {asset}: bot {bot}, venue {venue}"
            for asset, (bot, venue) in sorted(self.balance_differences.items())
        ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_orders": self.checked_orders,
            "fills_applied": self.fills_applied,
            "orders_updated": self.orders_updated,
            "resent": self.resent,
            "adopted": self.adopted,
            "resumed_signals": self.resumed_signals,
            "unexplained": self.unexplained,
            "balance_differences": {
                asset: {"bot": str(bot), "venue": str(venue)}
                for asset, (bot, venue) in self.balance_differences.items()
            },
            "unprotected_positions": self.unprotected_positions,
        }


class Reconciler:
    def __init__(
        self,
        kernel: TradingKernel,
        venue: Venue,
        *,
        attempts: int = 5,
        on_new_problems: Callable[[list[str]], None] | None = None,
    ) -> None:
        """`on_new_problems` hears each unexplained difference once, when it first appears
        (an alert); the log too says it once, and says when it is gone."""
        self._kernel = kernel
        self._venue = venue
        self._attempts = attempts
        self._on_new_problems = on_new_problems
        self._unprotected_seen: set[str] = set()
        self._problems_seen: set[str] = set()

    async def reconcile(self, *, at_start: bool = False) -> ReconciliationReport:
        report = ReconciliationReport()
        orders = self._kernel.orders
        for order in orders.open_orders():
            if not at_start and order.status in (S.INITIALIZED, S.SUBMITTED):
                continue  # in flight while running: its answer is on the way
            report.checked_orders += 1
            snapshot = await self._ask(self._venue.fetch_order, order.client_order_id, order.symbol)
            if snapshot is None:
                await self._not_at_venue(order, report)
            else:
                self._apply(order, snapshot, report)
        for snapshot in await self._ask(self._venue.fetch_open_orders):
            if orders.get(snapshot.client_order_id) is None:
                self._adopt(snapshot, report)
        if at_start:
            for record in self._kernel.ledger.records():
                if self._kernel.resume(record):
                    report.resumed_signals.append(f"{record.source}/{record.signal_id}")
        await self._compare_balances(report)
        self._find_unprotected(report)
        # an unprotected position is logged when it appears, not at every interval
        new = [p for p in report.unprotected_positions if p not in self._unprotected_seen]
        self._unprotected_seen = set(report.unprotected_positions)
        problems = {line for line in report.lines()[1:] if "UNEXPLAINED" in line}
        fresh = sorted(problems - self._problems_seen)
        for line in sorted(self._problems_seen - problems):
            logger.info("reconciliation: resolved: {}", line)
        self._problems_seen = problems
        for line in report.lines(unprotected=[])[1:]:
            if "UNEXPLAINED" not in line:
                logger.warning("reconciliation: {}", line)
            elif line in fresh:
                logger.error("reconciliation: {}", line)
        # a warning where the execution places stops (one is missing); with an execution that
        # never does, a position without one is the plan, not news
        level = "WARNING" if self._kernel.execution.places_protection else "INFO"
        for position in new:
            logger.log(level, "reconciliation: position without a protective stop: {}", position)
        if fresh and self._on_new_problems is not None:
            self._on_new_problems(fresh)
        return report

    def accept_venue_state(self, report: ReconciliationReport) -> list[str]:
        """Take the venue's word where the books cannot explain it (`run
        --accept-venue-state`): orders it has no record of are closed as canceled, balance
        differences become adjustments of the initial balances. What was done, as lines."""
        done: list[str] = []
        orders = self._kernel.orders
        for coid in report.missing_orders:
            order = orders.get(coid)
            if order is not None and order.is_open:
                orders.order_canceled(coid, "the venue has no record of it (accepted at start)")
                done.append(f"order {coid} closed as canceled: the venue has no record of it")
        portfolio = self._kernel.portfolio
        for asset, (ours, theirs) in sorted(report.balance_differences.items()):
            portfolio.adjust_balance(asset, theirs - ours)
            done.append(f"balance {asset} set to the venue's {theirs} (was {ours})")
        return done

    # -- one order ------------------------------------------------------------------------------

    async def _not_at_venue(self, order: Order, report: ReconciliationReport) -> None:
        orders = self._kernel.orders
        if order.status not in (S.INITIALIZED, S.SUBMITTED):
            report.unexplained.append(
                f"order {order.client_order_id} ({order.symbol}) is {order.status} in the store "
                "but the venue has no record of it"
            )
            report.missing_orders.append(order.client_order_id)
            return
        last_sent = max(order.created_ms, order.sent_ms or 0)
        wait_ms = last_sent + self._venue.lookup_settle_ms - self._kernel.context.clock.now_ms()
        if wait_ms > 0:
            # the first request may still reach the venue: ask again once it no longer can
            await asyncio.sleep(wait_ms / 1000)
            snapshot = await self._ask(self._venue.fetch_order, order.client_order_id, order.symbol)
            if snapshot is not None:
                self._apply(order, snapshot, report)
                return
        report.resent.append(order.client_order_id)
        orders.send_unacknowledged(order)

    def _apply(
        self, order: Order, snapshot: VenueOrderSnapshot, report: ReconciliationReport
    ) -> None:
        orders = self._kernel.orders
        coid = order.client_order_id
        before = (order.status, order.filled_amount, order.amount)
        if order.status is S.INITIALIZED:
            orders.mark_sent(order)
        if snapshot.status is S.SUBMITTED:
            return  # received, not acknowledged yet: its own report will come
        if (
            order.status is S.SUBMITTED
            and snapshot.venue_order_id
            and snapshot.status is not S.REJECTED
        ):
            orders.order_accepted(coid, snapshot.venue_order_id)
        limit_priced = order.order_type.has_limit_price
        venue_price = snapshot.price if limit_priced else snapshot.trigger_price
        if snapshot.amount != order.amount or venue_price != (
            order.price if limit_priced else order.trigger_price
        ):
            # a modify the venue applied (before any fills it allowed), whatever became of
            # the order since
            orders.order_modified(coid, snapshot.amount, venue_price)
        for fill in snapshot.fills:
            filled = order.filled_amount
            orders.order_filled(fill)
            if order.filled_amount != filled:
                report.fills_applied.append(
                    f"{coid} {fill.trade_id}: {fill.amount} at {fill.price}"
                )
        if snapshot.status is S.TRIGGERED and order.status in (
            S.ACCEPTED,
            S.PENDING_CANCEL,
            S.PENDING_UPDATE,
        ):
            orders.order_triggered(coid)  # while pending: remembered for after the request
        if order.is_open and not snapshot.status.is_open:
            self._close(order, snapshot)
        elif snapshot.status.is_open and order.status is S.PENDING_CANCEL:
            self._venue.cancel_order(order)  # the request may have been lost: ask again
        elif snapshot.status.is_open and order.status is S.PENDING_UPDATE:
            order.restore_after_pending()
            orders.record(order, "modify_unconfirmed", "the venue kept the order as it was")
        # more than the snapshot counts is not a contradiction: fills reported by the venue
        # since it answered (a live venue's streams) are already applied
        if order.filled_amount < snapshot.filled:
            report.unexplained.append(
                f"order {coid}: the venue reports {snapshot.filled} filled, its fills add up to "
                f"{order.filled_amount}"
            )
        if (order.status, order.filled_amount, order.amount) != before:
            report.orders_updated.append(f"{coid}: {before[0]} -> {order.status}")

    def _close(self, order: Order, snapshot: VenueOrderSnapshot) -> None:
        orders = self._kernel.orders
        coid = order.client_order_id
        detail = snapshot.detail or "closed at the venue while the bot was down"
        if snapshot.status is S.CANCELED:
            orders.order_canceled(coid, detail)
        elif snapshot.status is S.EXPIRED:
            orders.order_expired(coid, snapshot.reason or RejectionReason.EXPIRED, detail)
        elif snapshot.status is S.REJECTED:
            orders.order_rejected(coid, snapshot.reason or RejectionReason.INVALID_ORDER, detail)

    def _adopt(self, snapshot: VenueOrderSnapshot, report: ReconciliationReport) -> None:
        order = Order(
            client_order_id=snapshot.client_order_id,
            symbol=snapshot.symbol,
            side=snapshot.side,
            order_type=snapshot.order_type,
            amount=snapshot.amount,
            created_ms=self._kernel.context.clock.now_ms(),
            signal_id="",
            source="(adopted)",
            price=snapshot.price,
            trigger_price=snapshot.trigger_price,
        )
        self._kernel.orders.adopt(order)
        self._venue.follow(order)  # its fills and its end are reported like any other order's
        report.adopted.append(
            f"{snapshot.client_order_id} {snapshot.symbol} {snapshot.side} {snapshot.amount}"
        )
        self._apply(order, snapshot, ReconciliationReport())

    # -- the account ----------------------------------------------------------------------------

    async def _compare_balances(self, report: ReconciliationReport) -> None:
        """Balances differ while the venue has executed a fill the bot has not heard of yet:
        an order just sent (recovery sends some itself) whose answer is on its way, or a
        resting order filling now. A live venue's answers arrive asynchronously, so while
        orders are open a difference is checked again after asking the venue about each of
        them; only a difference that outlasts that is reported."""
        for attempt in range(BALANCE_CHECKS):
            venue = await self._ask(self._venue.fetch_balances)
            report.balance_differences.clear()
            bot = self._kernel.portfolio.balances
            for asset in sorted(set(bot) | set(venue)):
                ours, theirs = bot.get(asset, Decimal(0)), venue.get(asset, Decimal(0))
                if ours != theirs:
                    report.balance_differences[asset] = (ours, theirs)
            open_orders = self._kernel.orders.open_orders()
            if not report.balance_differences or not open_orders:
                return
            if attempt == BALANCE_CHECKS - 1:
                return
            await asyncio.sleep(BALANCE_RECHECK_S * (attempt + 1))
            for order in open_orders:
                if order.is_open:
                    snapshot = await self._ask(
                        self._venue.fetch_order, order.client_order_id, order.symbol
                    )
                    if snapshot is not None:
                        self._apply(order, snapshot, report)

    def _find_unprotected(self, report: ReconciliationReport) -> None:
        orders = self._kernel.orders
        for position in self._kernel.portfolio.open_positions():
            covered = sum(
                (
                    o.remaining
                    for o in orders.open_orders(position.symbol)
                    if o.order_type in _STOPS
                    and (o.side.value == "sell") == (position.quantity > 0)
                ),
                ZERO,
            )
            if not covered:
                report.unprotected_positions.append(f"{position.symbol} {position.quantity}")
            elif covered < abs(position.quantity):  # stops for part of it only
                report.unprotected_positions.append(
                    f"{position.symbol} {position.quantity} (stops cover {covered})"
                )

    async def _ask(self, query: Any, *args: Any) -> Any:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception_type(VenueQueryError),
            reraise=True,
            before_sleep=_warn_retry,
        ):
            with attempt:
                return await query(*args)
        raise AssertionError("unreachable: tenacity re-raises the last error")


def _warn_retry(state: RetryCallState) -> None:
    """A warning: the query is asked again; only the last failure is the caller's error."""
    error = state.outcome.exception() if state.outcome is not None else None
    logger.warning("venue query failed (attempt {}), retrying: {}", state.attempt_number, error)
