"""BracketOrderExecution: an entry, then a take-profit and a stop-loss linked as one OCO."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO, ceil_to_step, floor_to_step, format_decimal
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.clock import Timer
from trading_bot.execution.base import ExecutionAlgorithm, OrderPlacer
from trading_bot.execution.leg_cancels import HeldBack, LegCancels
from trading_bot.execution.slicing import size_children

_STOP = OrderType.STOP_MARKET
_REJECTED, _CANCELED = OrderStatus.REJECTED, OrderStatus.CANCELED
_PENDING_CANCEL = OrderStatus.PENDING_CANCEL


class BracketParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profit_target: Decimal | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="without a signal take_profit: this share beyond the entry's fill price",
    )
    stop_loss: Decimal | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="without a signal stop_loss: this share against the entry's fill price",
    )
    protection_timeout_s: Decimal = Field(
        default=Decimal(10), gt=0, description="longest a filled amount may stay unprotected"
    )
    on_unprotected: Literal["close", "alert"] = Field(
        default="close", description="past the timeout: close the unprotected amount at market"
    )


@dataclass(slots=True, eq=False)
class _Bracket:
    """One signal's entry and the protection placed for it; dropped once nothing of it is
    open or pending."""

    placer: OrderPlacer
    market: Market
    entry: Order
    exit_side: Side
    take_profit: Decimal | None  # absolute prices from the signal, else from the fill price
    stop_loss: Decimal | None
    has_stop: bool  # a stop-loss level (signal or params): only a stop then counts as protection
    closing: Decimal = ZERO  # the first part of the entry only closes a position: no legs
    protected_for: Decimal = ZERO  # entry amount protection was placed for
    released: Decimal = ZERO  # closed by later orders that took over from this protection
    groups: list[tuple[Order, ...]] = field(default_factory=list)
    closes: list[Order] = field(default_factory=list)
    check: Timer | None = None
    alerted: bool = False  # one alert (and close) per bracket
    # the venue refused a stop beside its take-profit (no OCO: each leg holds the base on its
    # own): from then on the stop goes alone, once the take-profits in `making_room` are gone
    stop_only: bool = False
    making_room: list[Order] = field(default_factory=list)

    @property
    def opened(self) -> Decimal:
        """What the entry filled beyond the part that only closed an earlier position."""
        return max(self.entry.filled_amount - self.closing, ZERO)

    @property
    def position(self) -> Decimal:
        """What the entry opened, less what the legs, the closes and later orders took back."""
        exits = sum((o.filled_amount for g in self.groups for o in g), ZERO)
        closed = sum((o.filled_amount for o in self.closes), ZERO)
        return self.opened - exits - closed - self.released

    @property
    def protected(self) -> Decimal:
        """Amount still covered by a live protective leg (both legs of a group cover the same
        amount). With a stop-loss level only the stop counts: a take-profit alone limits no
        loss, and a group whose stop the venue refused must read as unprotected."""
        return sum(
            (
                max(
                    (
                        o.remaining
                        for o in g
                        if o.is_open and (o.order_type is _STOP or not self.has_stop)
                    ),
                    default=ZERO,
                )
                for g in self.groups
            ),
            ZERO,
        )

    @property
    def done(self) -> bool:
        orders = (self.entry, *(o for g in self.groups for o in g), *self.closes)
        return self.check is None and not any(o.is_open for o in orders)


class BracketOrderExecution(ExecutionAlgorithm):
    """The entry is a market order (a limit order at the signal's price for a limit signal).
    Protection goes out only once the entry fills, sized to what filled: each fill (a partial
    one too) gets a take-profit limit and a stop-market sharing one OCO group, so one leg
    is canceled when the other fills or triggers. The levels are the signal's
    `take_profit` / `stop_loss`, else `profit_target` / `stop_loss` (shares) from the entry's
    average fill price; either leg may be left out, not both. Levels are rounded on the price
    grid toward the entry. A buy's stop must be below the entry and its take-profit above it
    (the reverse for a sell), checked against the expected entry price before anything is sent
    and again against the fill price before the legs are placed.

    Any filled amount not covered by an open stop (by an open take-profit when there is no stop
    level) for `protection_timeout_s` (a leg rejected, levels the fill price made invalid, a
    rest below the market minimum) is logged at ERROR as an unprotected position, raised
    through `alarm` and, with `on_unprotected: close`, closed at market (once per bracket: a
    close the venue refuses is not retried in a loop). A venue that does not link the legs
    (no OCO) holds the base for the leg that arrives first and refuses the other: the stop is
    sent first, and a stop refused anyway while the take-profit holds the base gets the
    take-profit canceled and is placed alone (`_stop_refused`): a trader keeps the loss limit
    before the profit target. Where such a venue takes both legs, the order manager links them
    (`orders/oco.py`): a fill or trigger of one cancels or reduces the other.

    Protection legs outlive the signal's expiry. Restarts: which legs belong to which entry is
    kept in memory only; after a restart the legs already placed stay at the venue and stay
    linked (by the venue, or by the order manager from the OCO group stored on them), but an
    entry that fills after the restart gets no protection and no timeout check. A known
    limitation.

    An order against a protected position (a sell while a bracketed long is held) takes over
    from that position's protection: the legs are canceled first, and the order is sent once
    the venue has confirmed the cancels (`LegCancels`: until then the legs hold the base it
    sells; a refused cancel is asked again). If it
    only closes, it goes without legs of its own; if it goes further (a reversal's open), it is
    bracketed the other way. The unprotected-position close never exceeds what is still held.
    """

    Params = BracketParams
    params: BracketParams
    places_protection: ClassVar[bool] = True
    follows_orders: ClassVar[bool] = True

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._by_order: dict[str, _Bracket] = {}
        self._legs = LegCancels(self)
        # insertion-ordered (oldest first): a set of id-hashed objects iterates in memory order,
        # which made which position a close takes over from vary from run to run
        self.active: dict[_Bracket, None] = {}

    def execute(self, intent: TradeIntent, placer: OrderPlacer) -> Rejection | None:
        sized = size_children(intent, self.context.market(intent.symbol))
        if isinstance(sized, Rejection):
            return sized
        market, price, expected, amount = sized.market, sized.price, sized.valued_at, sized.total
        signal = placer.signal
        take_profit, stop_loss = signal.take_profit, signal.stop_loss
        if (take_profit is None and self.params.profit_target is None) and (
            stop_loss is None and self.params.stop_loss is None
        ):
            return Rejection(
                RejectionReason.INVALID_PROTECTION,
                "a bracket needs a take_profit or stop_loss (signal) or profit_target or "
                "stop_loss (params)",
            )
        closing = self._closing_part(intent.symbol, intent.side, amount)
        if closing < amount and expected is not None:
            levels = self._levels(intent.side, expected, take_profit, stop_loss)
            if isinstance(levels, Rejection):
                return levels

        canceling, left = self._release(intent.symbol, intent.side, closing)

        def send() -> None:
            self._reprotect(left)  # what it leaves of the positions it takes over from
            if closing >= amount:
                # it only closes a position: the exit itself needs no take-profit or stop
                placer.place(
                    side=intent.side, order_type=intent.order_type, amount=amount, price=price
                )
                return
            entry = placer.place(
                side=intent.side, order_type=intent.order_type, amount=amount, price=price
            )
            bracket = _Bracket(
                placer=placer,
                market=market,
                entry=entry,
                exit_side=Side.SELL if intent.side is Side.BUY else Side.BUY,
                take_profit=take_profit,
                stop_loss=stop_loss,
                has_stop=stop_loss is not None or self.params.stop_loss is not None,
                closing=closing,
            )
            self.active[bracket] = None
            self._by_order[entry.client_order_id] = bracket
            self.on_order_event(entry)  # the venue may have answered inside `place`

        self._legs.once_gone(HeldBack(canceling, send), intent.symbol, intent.side, amount)
        return None

    def stop(self) -> None:
        """The run is over (end of a backtest): open legs are about to be canceled with the
        rest, which must not read as positions losing their protection."""
        for bracket in list(self.active):
            if bracket.check is not None:
                bracket.check.cancel()
                bracket.check = None
            bracket.alerted = True

    def _release(
        self, symbol: str, side: Side, amount: Decimal
    ) -> tuple[list[Order], list[tuple[_Bracket, Decimal]]]:
        """A new order that closes `amount` of protected positions (selling a protected long)
        takes over that much from their protection, oldest first: their legs are canceled, so
        they neither hold the balance the new order needs nor fire on what it closes, and what
        is left of each position is to get fresh legs (`_reprotect`). Returns the legs whose
        cancel the venue has not confirmed yet (they still hold the base: a real venue refuses
        a sell of it, so the new order and the fresh legs wait for them, `HeldBack`), and
        (bracket, amount its old legs covered) for each position left."""
        canceling: list[Order] = []
        left: list[tuple[_Bracket, Decimal]] = []
        for bracket in [b for b in self.active if b.market.symbol == symbol]:
            if amount <= 0:
                break
            if bracket.exit_side is not side or bracket.position <= 0:
                continue
            taken = min(amount, bracket.position)
            amount -= taken
            covered = bracket.protected
            canceling += self._legs.cancel_open(o for group in bracket.groups for o in group)
            bracket.released += taken
            if bracket.position > 0:
                left.append((bracket, covered))
            else:
                if bracket.check is not None:
                    bracket.check.cancel()
                    bracket.check = None
                bracket.alerted = True
                self._drop(bracket)
        return canceling, left

    def _reprotect(self, left: list[tuple[_Bracket, Decimal]]) -> None:
        """Fresh legs for what is left of each released position, up to what its old legs
        covered (never more than is still held: a leg may have filled meanwhile)."""
        for bracket, covered in left:
            keep = bracket.market.round_amount(min(covered, bracket.position))
            if keep > 0:
                self._place_legs(bracket, keep)

    def _closing_part(self, symbol: str, side: Side, amount: Decimal) -> Decimal:
        """How much of an order on `side` only closes the position, counting the firm orders
        already open (a reversal's close is sent just before its open)."""
        held = self.context.portfolio.position_quantity(symbol)
        buys, sells = self.context.orders.open_exposure(symbol)
        projected = held - sells if side is Side.SELL else -(held + buys)
        return min(amount, max(projected, ZERO))

    def _levels(
        self,
        side: Side,
        entry_price: Decimal,
        take_profit: Decimal | None,
        stop_loss: Decimal | None,
    ) -> tuple[Decimal | None, Decimal | None] | Rejection:
        """(take-profit, stop-loss) for an entry at `entry_price`, or why they are wrong."""
        sign = 1 if side is Side.BUY else -1
        if take_profit is None and self.params.profit_target is not None:
            take_profit = entry_price * (1 + sign * self.params.profit_target)
        if stop_loss is None and self.params.stop_loss is not None:
            stop_loss = entry_price * (1 - sign * self.params.stop_loss)
        wrong = []
        if take_profit is not None and (take_profit - entry_price) * sign <= 0:
            wrong.append(f"take_profit {take_profit}")
        if stop_loss is not None and (entry_price - stop_loss) * sign <= 0:
            wrong.append(f"stop_loss {stop_loss}")
        if wrong:
            where = "below" if side is Side.BUY else "above"
            return Rejection(
                RejectionReason.INVALID_PROTECTION,
                f"for a {side} at {entry_price}: {' and '.join(wrong)} on the wrong side (the stop "
                f"must be {where} the entry, the take-profit on the other side)",
            )
        return take_profit, stop_loss

    # -- following the orders -----------------------------------------------------------------

    def on_order_event(self, order: Order) -> None:
        if not order.is_open:
            self._legs.order_closed(order)
        bracket = self._by_order.get(order.client_order_id)
        if bracket is None:
            return
        if order is bracket.entry and bracket.opened > bracket.protected_for:
            self._protect(bracket)
        elif (
            order.status is _REJECTED
            and order.order_type is _STOP
            and order.reject_reason is RejectionReason.INSUFFICIENT_BALANCE
        ):
            self._stop_refused(bracket, order)
        elif order.status is _CANCELED and order.order_type is _STOP:
            self._stop_canceled(bracket, order)
        elif any(o is order for o in bracket.making_room) and not any(
            o.is_open for o in bracket.making_room
        ):
            bracket.making_room.clear()
            self._cover_rest(bracket)
        self._review(bracket)

    def on_request_refused(self, order: Order, request: str) -> None:
        self._legs.request_refused(order, request)

    def _stop_canceled(self, bracket: _Bracket, stop: Order) -> None:
        """A venue that links the legs itself cancels the stop as soon as the take-profit fills
        in part (Binance does), which leaves the rest of the take-profit's amount without a
        loss limit. Cancel that rest too and, once it is gone, protect what is left of the
        position with fresh legs of its size. A stop canceled on the bot's own request (its
        take-profit is then being canceled too) is left alone."""
        group = next((g for g in bracket.groups if stop in g), ())
        rest = [o for o in group if o is not stop and o.is_open and o.status is not _PENDING_CANCEL]
        if not rest or not any(o.filled_amount > 0 for o in rest):
            return
        bracket.making_room.extend(rest)
        logger.warning(
            "bracket of signal {}: the venue canceled stop-loss {} when take-profit {} filled "
            "in part; re-placing both legs for the rest of the position",
            bracket.placer.signal.signal_id,
            stop.client_order_id,
            rest[0].client_order_id,
        )
        for order in rest:
            self.context.orders.cancel(order)

    def _stop_refused(self, bracket: _Bracket, stop: Order) -> None:
        """A venue without OCO holds each leg's base on its own: a take-profit that arrived
        first (though sent second) holds what the stop needs, and the stop is refused. A take-profit is no
        protection, so keep the stop instead: cancel the group's take-profit and place the
        stop alone once the cancel is confirmed (`_cover_rest`); from then on this bracket's
        legs are stops alone. Raised as an alarm: the position is unprotected until then."""
        group = next((g for g in bracket.groups if stop in g), ())
        holding = [o for o in group if o is not stop and o.is_open]
        if bracket.stop_only or not holding:
            return  # nothing of ours holds its base: the timeout check closes what is left
        bracket.stop_only = True
        bracket.making_room.extend(holding)
        self._raise_alarm(
            bracket,
            f"UNPROTECTED POSITION: signal {bracket.placer.signal.signal_id}: the venue refused "
            f"stop-loss {stop.client_order_id} ({stop.reject_reason}: {stop.reject_detail}) "
            f"while take-profit {holding[0].client_order_id} holds the {bracket.market.base} it "
            "needs (the venue does not link them as one OCO); canceling the take-profit to "
            "place the stop alone",
        )
        for order in holding:
            self.context.orders.cancel(order)

    def _cover_rest(self, bracket: _Bracket) -> None:
        """The take-profits canceled to make room are gone: protect what is still uncovered,
        with a stop alone after a refused stop (the take-profit is given up, the loss limit
        kept), else with both legs again."""
        amount = bracket.market.round_amount(bracket.position - bracket.protected)
        if amount <= 0 or not self._place_legs(bracket, amount):
            return
        if bracket.stop_only:
            logger.warning(
                "bracket of signal {}: stop-loss for {} {} placed alone, without its "
                "take-profit (the venue cannot hold both)",
                bracket.placer.signal.signal_id,
                format_decimal(amount),
                bracket.market.base,
            )

    def _raise_alarm(self, bracket: _Bracket, text: str) -> None:
        """An ERROR line, and an alert when the service wired `alarm` to its Alerter: an
        unprotected position needs a human now, not a line among warnings."""
        logger.error(text)
        if self.alarm is not None:
            self.alarm(f"UNPROTECTED POSITION on {bracket.market.symbol}", text)

    def _protect(self, bracket: _Bracket) -> None:
        """Place a linked take-profit and stop-loss for what opened since the last ones."""
        amount = bracket.market.round_amount(bracket.opened - bracket.protected_for)
        if amount > 0 and self._place_legs(bracket, amount):
            bracket.protected_for += amount

    def _place_legs(self, bracket: _Bracket, amount: Decimal) -> bool:
        """A take-profit and a stop-loss of `amount` sharing one OCO group (linked by the venue,
        or by the order manager on a venue without OCO). False when the
        levels are wrong for the fill price or `amount` is too small for the market (the
        unprotected-position check deals with it); a leg the venue refuses is left to it too."""
        entry, market = bracket.entry, bracket.market
        fill_price = entry.average_fill_price
        if fill_price is None:
            return False
        levels = self._levels(entry.side, fill_price, bracket.take_profit, bracket.stop_loss)
        if isinstance(levels, Rejection):
            logger.error("bracket of signal {}: {}", bracket.placer.signal.signal_id, levels.detail)
            return False
        take_profit, stop_loss = self._on_grid(entry.side, market, *levels)
        if bracket.stop_only and stop_loss is not None:
            take_profit = None  # the venue cannot hold both legs: the stop is the one kept
        for level in (take_profit, stop_loss):
            if level is not None and market.check_order(amount, level) is not None:
                return False  # too small to protect alone: later fills may add to it
        group = f"{entry.client_order_id}-p{len(bracket.groups)}"
        legs: list[Order] = []
        placer = bracket.placer
        try:
            # the stop first: a venue that does not link the legs (no OCO) holds the base for
            # the first to arrive, and the one it then refuses had better be the take-profit
            if stop_loss is not None:
                legs.append(
                    placer.place(
                        side=bracket.exit_side,
                        order_type=OrderType.STOP_MARKET,
                        amount=amount,
                        trigger_price=stop_loss,
                        oco_group=group if take_profit is not None else None,
                        outlives_signal=True,
                    )
                )
            if take_profit is not None:
                legs.append(
                    placer.place(
                        side=bracket.exit_side,
                        order_type=OrderType.LIMIT,
                        amount=amount,
                        price=take_profit,
                        oco_group=group if stop_loss is not None else None,
                        outlives_signal=True,
                    )
                )
        except Exception:  # the timeout check deals with what stays unprotected
            logger.exception("protection of signal {} not placed", placer.signal.signal_id)
        bracket.groups.append(tuple(legs))
        for leg in legs:
            self._by_order[leg.client_order_id] = bracket
        return True

    @staticmethod
    def _on_grid(
        side: Side, market: Market, take_profit: Decimal | None, stop_loss: Decimal | None
    ) -> tuple[Decimal | None, Decimal | None]:
        """Round the levels toward the entry: a long's take-profit down, its stop up."""
        step = market.price_step
        toward_entry_from_above, toward_entry_from_below = floor_to_step, ceil_to_step
        if side is Side.SELL:
            toward_entry_from_above, toward_entry_from_below = ceil_to_step, floor_to_step
        return (
            toward_entry_from_above(take_profit, step) if take_profit is not None else None,
            toward_entry_from_below(stop_loss, step) if stop_loss is not None else None,
        )

    def _review(self, bracket: _Bracket) -> None:
        """Start the protection clock when some of the position is uncovered; forget the
        bracket when nothing of it is open any more."""
        if bracket.check is None and not bracket.alerted and bracket.position > bracket.protected:
            delay = int(self.params.protection_timeout_s * 1000)
            bracket.check = self.context.clock.schedule_after(
                delay, lambda: self._check_protection(bracket)
            )
        if bracket.done:
            self._drop(bracket)

    def _check_protection(self, bracket: _Bracket) -> None:
        bracket.check = None
        held = self.context.portfolio.position_quantity(bracket.market.symbol)
        still_held = held if bracket.exit_side is Side.SELL else -held
        # never more than the position still there: something else (a flatten, a later
        # signal) may have closed it, and closing it again would open the other way
        uncovered = min(bracket.position - bracket.protected, max(still_held, ZERO))
        if uncovered <= 0:
            self._review(bracket)
            return
        placer, market = bracket.placer, bracket.market
        amount = market.round_amount(uncovered)
        closing = self.params.on_unprotected == "close" and amount > 0
        bracket.alerted = True  # once: a close the venue refuses must not loop
        self._raise_alarm(
            bracket,
            f"UNPROTECTED POSITION: signal {placer.signal.signal_id}: {uncovered} {market.base} "
            f"of {market.symbol} bought/sold by order {bracket.entry.client_order_id} has had "
            f"no stop-loss/take-profit for {self.params.protection_timeout_s} s; "
            + (f"closing {amount} at market" if closing else "left open (on_unprotected: alert)"),
        )
        if closing:
            # a take-profit left without its stop protects nothing and holds the base the
            # close sells; groups with a live stop keep both legs for the amount they cover.
            # The close goes once those cancels are confirmed.
            canceling: list[Order] = []
            for group in bracket.groups:
                if not any(
                    o.is_open and (o.order_type is _STOP or not bracket.has_stop) for o in group
                ):
                    canceling += self._legs.cancel_open(group)
            close = HeldBack(canceling, lambda: self._close_unprotected(bracket, amount))
            self._legs.once_gone(close, market.symbol, bracket.exit_side, amount)
        if bracket.done:
            self._drop(bracket)

    def _close_unprotected(self, bracket: _Bracket, amount: Decimal) -> None:
        placer = bracket.placer
        try:
            close = placer.place(
                side=bracket.exit_side,
                order_type=OrderType.MARKET,
                amount=amount,
                outlives_signal=True,
            )
        except Exception:
            logger.exception(
                "closing the unprotected position of {} failed", placer.signal.signal_id
            )
        else:
            bracket.closes.append(close)
            self._by_order[close.client_order_id] = bracket

    def _drop(self, bracket: _Bracket) -> None:
        self.active.pop(bracket, None)
        orders = (bracket.entry, *(o for g in bracket.groups for o in g), *bracket.closes)
        for order in orders:
            self._by_order.pop(order.client_order_id, None)
