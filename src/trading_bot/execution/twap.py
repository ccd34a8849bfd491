"""TWAPExecution: the intent spread evenly over a time window, in equal slices."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.execution.base import ExecutionAlgorithm, OrderPlacer
from trading_bot.execution.slicing import merge_small, size_children


class TWAPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_seconds: Decimal = Field(gt=0, description="the window the slices are spread over")
    slices: int = Field(default=10, ge=1, le=1000, description="how many child orders")


@dataclass(slots=True, eq=False)
class _Schedule:
    """One signal's TWAP in progress; dropped when every slice was sent and none is open."""

    placer: OrderPlacer
    side: Side
    order_type: OrderType
    price: Decimal | None
    total: Decimal
    symbol: str
    slices: deque[Decimal]  # not sent yet
    times: deque[int]  # when each of them is due (epoch ms)
    open: set[str] = field(default_factory=set)
    filled: Decimal = ZERO


class TWAPExecution(ExecutionAlgorithm):
    """Sends the intent in n slices over the whole window, the first at once and slice i at
    `i x duration_seconds / n` (on the clock), whether or not the earlier ones filled.

    n is `slices`, or fewer when an even share of the amount would be below the market's
    minimum amount or notional: the most slices the market accepts, still spread over the
    whole window (e.g. 5 slices of a 600 s window go out at 0, 120, 240, 360 and 480 s). The
    amounts are as even as the amount step allows: each is the share rounded down to the
    step, and the remainder (fewer steps than slices) adds one step to each of the last ones.

    Slices are market orders, or limit orders at the signal's price for a limit signal (a
    limit slice rests until it fills or the signal expires). The unfilled rest of a slice
    that is rejected, expires or is canceled is added to the next slice not yet sent; for the
    last slice it is given up and the signal's outcome says so. A signal that expires before
    a slice is due ends the TWAP the same way.

    Restarts: the schedule lives in memory only; after a restart the slices already sent are
    recovered with their fills, the rest are not sent (a known limitation, named at start as
    for the iceberg: `plans_in_memory`).
    """

    Params = TWAPParams
    params: TWAPParams
    follows_orders: ClassVar[bool] = True
    plans_in_memory: ClassVar[bool] = True

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._by_order: dict[str, _Schedule] = {}
        self.active: set[_Schedule] = set()

    def execute(self, intent: TradeIntent, placer: OrderPlacer) -> Rejection | None:
        sized = size_children(intent, self.context.market(intent.symbol))
        if isinstance(sized, Rejection):
            return sized
        market, price, valued_at, total = sized.market, sized.price, sized.valued_at, sized.total
        # merge_small is only a safety net: every even share already passes the market
        slices = merge_small(self.slice_amounts(total, market, valued_at), market, valued_at)
        start = self.context.clock.now_ms()
        slot_ms = self.params.duration_seconds * 1000 / len(slices)
        schedule = _Schedule(
            placer=placer,
            side=intent.side,
            order_type=intent.order_type,
            price=price,
            total=total,
            symbol=intent.symbol,
            slices=deque(slices),
            times=deque(start + int(i * slot_ms) for i in range(len(slices))),
        )
        self.active.add(schedule)
        self._send(schedule)
        return None

    def slice_amounts(
        self, total: Decimal, market: Market, price: Decimal | None = None
    ) -> list[Decimal]:
        """The most (at most `slices`) amounts the market accepts at `price` that add up to
        `total`, as even as the amount step allows: each the share rounded down to the step,
        one more step in each of the last ones until the remainder is used."""
        count, share = 1, total
        for candidate in range(self.params.slices, 1, -1):
            even = market.round_amount(total / candidate)
            if market.check_order(even, price) is None:
                count, share = candidate, even
                break
        step = market.amount_step
        if count == 1:
            return [total]
        if step <= 0:  # no grid: the division's rounding noise goes into the last slice
            return [share] * (count - 1) + [total - share * (count - 1)]
        extra = int((total - share * count) / step)  # fewer than `count` steps
        return [share] * (count - extra) + [share + step] * extra

    def _send(self, schedule: _Schedule) -> None:
        placer = schedule.placer
        schedule.times.popleft()
        amount = schedule.slices.popleft()
        expiry = placer.expiry_ms
        if expiry is not None and self.context.clock.now_ms() >= expiry:
            schedule.slices.appendleft(amount)
            self._give_up(schedule, RejectionReason.EXPIRED, f"the signal expired at {expiry}")
            return
        self.context.planned.drop(schedule)  # its own later slices do not count against it
        refused = placer.refusal(schedule.side, amount)
        if refused is not None:  # halted or reducing since the TWAP started
            schedule.slices.appendleft(amount)
            self._give_up(schedule, refused.reason, refused.detail)
            return
        if schedule.times:
            self.context.clock.schedule_at(schedule.times[0], lambda: self._send(schedule))
        self._note_planned(schedule)  # the slice leaves the plan: it becomes an open order
        try:
            order = placer.place(
                side=schedule.side,
                order_type=schedule.order_type,
                amount=amount,
                price=schedule.price,
            )
        except Exception as error:  # a failed placement is a failed slice, not a crash
            logger.exception("TWAP slice for signal {} not placed", placer.signal.signal_id)
            self._slice_failed(
                schedule, amount, RejectionReason.INTERNAL_ERROR, f"placing failed: {error!r}"
            )
            return
        schedule.open.add(order.client_order_id)
        self._by_order[order.client_order_id] = schedule
        if not order.is_open:  # the venue answered inside `place`, before the id was known
            self.on_order_event(order)

    def on_order_event(self, order: Order) -> None:
        if order.is_open:
            return
        schedule = self._by_order.pop(order.client_order_id, None)
        if schedule is None:
            return
        schedule.open.discard(order.client_order_id)
        schedule.filled += order.filled_amount
        if order.status is not OrderStatus.FILLED:
            detail = f"slice {order.client_order_id} was {order.status}"
            if order.reject_detail:
                detail += f": {order.reject_detail}"
            reason = order.reject_reason or RejectionReason.UNFILLED
            self._slice_failed(schedule, order.remaining, reason, detail)
        elif not schedule.slices and not schedule.open:
            self.active.discard(schedule)

    def _slice_failed(
        self, schedule: _Schedule, rest: Decimal, reason: RejectionReason, detail: str
    ) -> None:
        if schedule.slices:
            schedule.slices[0] += rest
            self._note_planned(schedule)
            logger.warning("{}; its rest {} joins the next slice", detail, rest)
            return
        self._give_up(schedule, reason, detail)

    def _give_up(self, schedule: _Schedule, reason: RejectionReason, why: str) -> None:
        """End the TWAP with what is left unsent or unfilled; the signal keeps why."""
        left = (
            schedule.total
            - schedule.filled
            - sum((self._open_remaining(cid) for cid in schedule.open), ZERO)
        )
        schedule.slices.clear()
        schedule.times.clear()
        self.context.planned.drop(schedule)
        if not schedule.open:
            self.active.discard(schedule)
        detail = (
            f"TWAP ended with {schedule.filled} of {schedule.total} filled, {left} given up: {why}"
        )
        logger.warning("signal {}: {}", schedule.placer.signal.signal_id, detail)
        schedule.placer.stopped(Rejection(reason, detail))

    def _note_planned(self, schedule: _Schedule) -> None:
        """Keep the slices not sent yet visible to risk checks as planned exposure."""
        unsent = sum(schedule.slices, ZERO)
        self.context.planned.set(schedule, schedule.symbol, schedule.side, unsent)

    def _open_remaining(self, client_order_id: str) -> Decimal:
        order = self.context.orders.get(client_order_id)
        return order.remaining if order is not None else ZERO
