"""The kernel: the one pipeline every mode runs.

signal -> dedup -> expiry -> strategy -> sizing -> trading state -> risk -> execution -> order
manager -> venue, and venue reports -> order manager -> events -> portfolio and signal ledger. The kernel is
synchronous and does no I/O; time comes from the clock it is given.

A strategy may defer a signal (answer `DEFERRED`, e.g. to wait for confirmation) and decide
later, from a timer it scheduled on the clock: the kernel then picks the signal up where it
left off (`_decided_later`), checking its expiry again at that moment.
"""

from __future__ import annotations

from typing import Final

from loguru import logger

from trading_bot.domain.enums import Side
from trading_bot.domain.events import (
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderRequestRefused,
    SignalReceived,
    SignalRejected,
)
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.bus import EventBus
from trading_bot.engine.context import TradingContext
from trading_bot.engine.flatten import flatten as flatten_positions
from trading_bot.engine.intents import build_intents, orders_past_target, unfunded_spot_sell
from trading_bot.engine.journal import Journal
from trading_bot.engine.placer import SignalOrders
from trading_bot.engine.signal_ledger import (
    InvalidSignal,
    SignalLedger,
    SignalRecord,
    SignalStatus,
)
from trading_bot.execution.base import ExecutionAlgorithm
from trading_bot.orders.manager import OrderManager
from trading_bot.portfolio.portfolio import Portfolio
from trading_bot.risk.base import RiskChain
from trading_bot.risk.trading_state import StateChange, TradingState, TradingSwitch
from trading_bot.strategy.base import Decision, Deferred, Strategy

# how far a detector's clock may run ahead of the bot's (created_at after the signal arrived)
MAX_CLOCK_AHEAD_MS: Final = 60_000
_FILLED: Final = OrderStatus.FILLED  # `OrderStatus.FILLED` is a slow class attribute lookup on 3.11
_SELL: Final = Side.SELL


class TradingKernel:
    def __init__(
        self,
        *,
        context: TradingContext,
        bus: EventBus,
        strategy: Strategy,
        risk: RiskChain,
        execution: ExecutionAlgorithm,
        journal: Journal | None = None,
        trading: TradingSwitch | None = None,
    ) -> None:
        self.context = context
        self.bus = bus
        self.strategy = strategy
        self.risk = risk
        self.execution = execution
        self.orders: OrderManager = context.orders
        self.portfolio: Portfolio = context.portfolio
        self.ledger = SignalLedger(journal)
        self.trading = trading or TradingSwitch(context.clock)
        self._flattens = 0
        self.unprotected_signals = 0  # executed without the stop_loss/take_profit they carried
        strategy.bind(context)
        strategy.set_decision_sink(self._decided_later)
        risk.bind(context)
        execution.bind(context)
        bus.subscribe(OrderFilled, self.portfolio.on_order_filled)
        bus.subscribe(OrderFilled, self._on_filled)
        bus.subscribe(OrderRejected, self._on_rejected)
        bus.subscribe(OrderCanceled, self._on_canceled)
        bus.subscribe(OrderExpired, self._on_expired)
        if execution.follows_orders:
            # after the portfolio and the ledger: the algorithm sees the position the fill made
            for event_type in (
                OrderFilled,
                OrderRejected,
                OrderCanceled,
                OrderExpired,
                OrderRequestRefused,
            ):
                bus.subscribe(event_type, self._to_execution)

    # -- intake ---------------------------------------------------------------------------------

    def submit_signal(self, signal: Signal) -> None:
        """Run one validated signal through the pipeline. Never raises for a bad signal."""
        now = self.context.clock.now_ms()
        key = signal.dedup_key
        if self.ledger.seen(key):
            self.ledger.duplicate(key, now)
            self.bus.publish(
                SignalRejected(signal.signal_id, signal.source, RejectionReason.DUPLICATE, "", now)
            )
            # debug: a broker redelivering a batch after a reconnect makes hundreds of these;
            # each is kept in the store (duplicate_signals) and counted per intake source
            logger.debug(
                "signal {} from '{}' is a duplicate: ignored", signal.signal_id, signal.source
            )
            return
        record = self.ledger.received(signal, now)
        if self.bus.wants(SignalReceived):
            self.bus.publish(SignalReceived(signal, now))
        try:
            rejection = self._process(signal, record, now)
        except Exception as error:  # a bug must not stop the bot; the signal says what happened
            logger.exception("internal error while handling signal {}", signal.signal_id)
            rejection = Rejection(
                RejectionReason.INTERNAL_ERROR, f"{type(error).__name__}: {error}"
            )
        self._settle(record, rejection, now)

    def _settle(self, record: SignalRecord, rejection: Rejection | None, now: int) -> None:
        if rejection is None:
            return
        if record.client_order_ids:
            # Orders are already out (a reversal's close, say, before its open was refused):
            # their outcomes decide the status, and the signal keeps why the rest was not sent
            logger.warning(
                "signal {} stopped after placing orders: {}: {}",
                record.signal_id,
                rejection.reason.value,
                rejection.detail,
            )
            self.ledger.stopped(record, rejection.reason, rejection.detail)
        else:
            self._reject(record, rejection, now)

    def reject_invalid(self, invalid: InvalidSignal) -> None:
        """Keep a payload that failed validation as a dead letter and count it."""
        self.ledger.dead_letter(invalid, self.context.clock.now_ms())
        logger.warning("invalid signal at {}: {}", invalid.location, "; ".join(invalid.errors))
        self.bus.publish(
            SignalRejected(
                "",
                "",
                RejectionReason.INVALID_SIGNAL,
                "; ".join(invalid.errors),
                self.context.clock.now_ms(),
            )
        )

    def resume(self, record: SignalRecord) -> bool:
        """Finish a signal that was received before a restart but placed nothing (the crash
        came before its first order). True if it was run again."""
        if (
            record.status is not SignalStatus.PENDING
            or record.client_order_ids
            or record.signal is None
        ):
            return False
        now = self.context.clock.now_ms()
        try:
            rejection = self._process(record.signal, record, now)
        except Exception as error:  # a bug must not stop recovery; the signal says what happened
            logger.exception("internal error while resuming signal {}", record.signal_id)
            rejection = Rejection(
                RejectionReason.INTERNAL_ERROR, f"{type(error).__name__}: {error}"
            )
        if rejection is not None and not record.client_order_ids:
            self._reject(record, rejection, now)
        return True

    # -- pipeline -------------------------------------------------------------------------------

    def _process(self, signal: Signal, record: SignalRecord, now: int) -> Rejection | None:
        expired = self._expired(signal, record, now)
        if expired is not None:
            return expired
        decided = self.strategy.process_signal(signal)
        if isinstance(decided, Deferred):
            return None  # pending until the strategy calls back
        return self._act(decided, record)

    @staticmethod
    def _expired(signal: Signal, record: SignalRecord, now: int) -> Rejection | None:
        created = signal.created_at
        if created is not None and created - record.received_ms > MAX_CLOCK_AHEAD_MS:
            # its ttl would run from a time still to come: staleness could not be judged
            ahead_s = (created - record.received_ms) / 1000
            return Rejection(
                RejectionReason.CREATED_IN_FUTURE,
                f"created_at {created} is {ahead_s:g} s ahead of the bot's clock (at most "
                f"{MAX_CLOCK_AHEAD_MS // 1000} s is taken); check the detector's clock",
            )
        expiry = signal.expiry_from(record.received_ms)
        if expiry is not None and now >= expiry:
            return Rejection(RejectionReason.EXPIRED, f"expired at {expiry}, now {now}")
        return None

    def _act(self, decided: Decision, record: SignalRecord) -> Rejection | None:
        if isinstance(decided, Rejection):
            return decided
        if not decided:
            return Rejection(RejectionReason.NOTHING_TO_DO, "the strategy produced no order")
        first_rejection: Rejection | None = None
        for derived in decided:
            outcome = self._execute(derived, record)
            if outcome is not None and first_rejection is None:
                first_rejection = outcome
        return first_rejection

    def _decided_later(self, signal: Signal, decided: Decision) -> None:
        """The strategy's decision on a signal it deferred: act on it as `_process` would
        have, unless the signal has meanwhile expired or been settled."""
        record = self.ledger.get(signal.dedup_key)
        if record is None or record.status is not SignalStatus.PENDING or record.client_order_ids:
            logger.warning("decision on signal {} ignored: not pending", signal.signal_id)
            return
        now = self.context.clock.now_ms()
        try:
            rejection = self._expired(signal, record, now) or self._act(decided, record)
        except Exception as error:  # a bug must not stop the bot; the signal says what happened
            logger.exception("internal error while acting on deferred signal {}", signal.signal_id)
            rejection = Rejection(
                RejectionReason.INTERNAL_ERROR, f"{type(error).__name__}: {error}"
            )
        self._settle(record, rejection, now)

    def _execute(self, signal: Signal, record: SignalRecord) -> Rejection | None:
        """Size, check and execute one signal. A reversal is two intents, close then open:
        if the close is refused the open is not tried (it would not open the wanted side).
        A spot sell the account's free base cannot deliver is refused before execution, for
        every venue alike (`unfunded_spot_sell`)."""
        target = signal.target_position
        past = () if target is None else orders_past_target(self.context, signal.asset, target)
        intents, refusal = build_intents(signal, self.context, past)
        for order in past:  # the target overrides them (measured without them above)
            logger.info(
                "signal {}: canceling order {}, which would take {} past the target {}",
                signal.signal_id,
                order.client_order_id,
                signal.asset,
                target,
            )
            self.orders.cancel(order)
        for intent in intents:
            admitted = self.trading.admit(self.context, intent)
            approved = admitted if isinstance(admitted, Rejection) else self.risk.evaluate(admitted)
            if isinstance(approved, Rejection):
                logger.info("risk check blocked signal {}: {}", signal.signal_id, approved.detail)
                self._breached(approved)
                return approved
            if approved.side is _SELL and ":" not in approved.symbol:
                unfunded = unfunded_spot_sell(self.context, approved)
                if unfunded is not None:
                    return unfunded
            outcome = self.execution.execute(approved, SignalOrders(self, signal, record))
            if outcome is not None:
                return outcome
        if refusal is not None:
            return refusal
        if not self.execution.places_protection and (
            signal.stop_loss is not None or signal.take_profit is not None
        ):
            if not self.unprotected_signals:
                logger.warning(
                    "signal {} has stop_loss/take_profit, which the {} execution does not place; "
                    "its position is unprotected",
                    signal.signal_id,
                    type(self.execution).__name__,
                )
            self.unprotected_signals += 1
        return None

    def _reject(self, record: SignalRecord, rejection: Rejection, now: int) -> None:
        self.ledger.reject(record, rejection.reason, rejection.detail)
        self.bus.publish(
            SignalRejected(record.signal_id, record.source, rejection.reason, rejection.detail, now)
        )
        logger.info(
            "signal {} rejected: {} ({})", record.signal_id, rejection.reason, rejection.detail
        )

    # -- kill switch ----------------------------------------------------------------------------

    def halt_trading(self, reason: str, *, flatten: bool | None = None) -> StateChange:
        """HALTED: no new order passes, cancels still do. `flatten` (default: the config's
        `risk.flatten_on_halt`) also cancels open orders and closes the bot's positions."""
        change = self.trading.set(TradingState.HALTED, reason)
        if self.trading.flatten_on_halt if flatten is None else flatten:
            self.flatten()
        return change

    def reduce_trading(self, reason: str) -> StateChange:
        """REDUCING: only the part of an order that shrinks a position passes."""
        return self.trading.set(TradingState.REDUCING, reason)

    def resume_trading(self, reason: str = "resumed by command") -> StateChange:
        """Back to ACTIVE: the only way out of REDUCING or HALTED."""
        return self.trading.set(TradingState.ACTIVE, reason)

    def flatten(self) -> list[Order]:
        """Cancel every open order and close the bot's positions at market."""
        self._flattens += 1
        return flatten_positions(self.context, self.orders, self._flattens)

    def _breached(self, rejection: Rejection) -> None:
        change = self.trading.breached(rejection)
        halted = change is not None and change.state is TradingState.HALTED
        if halted and self.trading.flatten_on_halt:
            self.flatten()

    def _may_replace(self, order: Order, signal: Signal) -> bool:
        """Whether the trading state lets a timed-out order's remainder be placed again: in
        REDUCING only when all of it shrinks a position."""
        if self.trading.state is TradingState.ACTIVE:
            return True
        intent = TradeIntent(
            signal, order.symbol, order.side, order.remaining, order.order_type, order.price
        )
        return self.trading.admit(self.context, intent) == intent

    # -- order outcomes -------------------------------------------------------------------------

    def _on_filled(self, event: OrderFilled) -> None:
        self.ledger.order_filled(event.order.client_order_id, final=event.order.status is _FILLED)

    def _on_rejected(self, event: OrderRejected) -> None:
        self.ledger.order_closed(event.order.client_order_id, event.reason, event.detail)

    def _on_canceled(self, event: OrderCanceled) -> None:
        order = event.order
        if order.timed_out and order.remaining > 0:
            self._after_timeout(order)
        self.ledger.order_closed(
            order.client_order_id,
            RejectionReason.TIMED_OUT if order.timed_out else RejectionReason.UNFILLED,
            event.detail,
        )

    def _after_timeout(self, order: Order) -> None:
        """Let the execution re-place what a timed-out order left (before the ledger closes
        the old order, so the signal stays pending if a new leg goes out)."""
        record = self.ledger.get((order.source, order.signal_id))
        if record is None or record.signal is None:
            return
        if not self._may_replace(order, record.signal):
            logger.info(
                "timed-out order {} not placed again: trading is {}",
                order.client_order_id,
                self.trading.state.value,
            )
            return
        try:
            self.execution.on_timeout(order, SignalOrders(self, record.signal, record))
        except Exception:  # a bug must not stop the bot; the old order is closed anyway
            logger.exception("internal error re-placing timed-out order {}", order.client_order_id)

    def _to_execution(
        self,
        event: OrderFilled | OrderRejected | OrderCanceled | OrderExpired | OrderRequestRefused,
    ) -> None:
        try:
            if isinstance(event, OrderRequestRefused):
                self.execution.on_request_refused(event.order, event.request)
            else:
                self.execution.on_order_event(event.order)
        except Exception:  # a bug must not stop the bot; the order's own outcome stands
            logger.exception(
                "internal error in the execution following order {}", event.order.client_order_id
            )

    def _on_expired(self, event: OrderExpired) -> None:
        self.ledger.order_closed(event.order.client_order_id, event.reason, event.detail)
