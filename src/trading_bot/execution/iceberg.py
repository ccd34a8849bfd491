"""IcebergExecution: a large order shown to the market one chunk at a time."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.clock import Timer
from trading_bot.execution.base import ExecutionAlgorithm, OrderPlacer
from trading_bot.execution.slicing import merge_small, seeded_rng, size_children

_PER_MILLE = Decimal(1000)


class IcebergParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunk_size: Decimal = Field(gt=0, description="base amount per chunk (before randomizing)")
    interval_seconds: Decimal = Field(
        default=Decimal(0), ge=0, description="wait after a chunk fills before the next is sent"
    )
    randomize: bool = Field(default=False, description="vary chunk sizes and intervals")
    randomize_pct: Decimal = Field(
        default=Decimal("0.2"), ge=0, lt=1, description="how much: up to +-this share"
    )
    seed: int = Field(default=0, description="mixed with the signal's id to seed the variation")
    on_chunk_failure: Literal["stop", "retry"] = Field(
        default="stop", description="after a chunk is rejected, expires or is canceled"
    )
    max_retries: int = Field(default=2, ge=0, le=100, description="retries per chunk")


@dataclass(slots=True, eq=False)
class _Plan:
    """One signal's iceberg in progress; dropped when it is done or stopped."""

    placer: OrderPlacer
    side: Side
    order_type: OrderType
    price: Decimal | None  # the chunks' limit price (None: market chunks)
    valued_at: Decimal | None  # the price minimum notionals are checked at
    market: Market
    symbol: str
    total: Decimal
    chunks: deque[Decimal]  # still to be filled, the first one being the current chunk
    intervals: deque[int]  # ms to wait before each later chunk
    filled: Decimal = ZERO
    retries: int = 0
    current: Order | None = None
    timer: Timer | None = field(default=None)


class IcebergExecution(ExecutionAlgorithm):
    """Splits the intent into chunks of `chunk_size` (rounded down to the amount step) and
    sends one at a time: the next goes out `interval_seconds` (on the clock) after the
    previous one filled, so the market only ever sees one chunk. The last chunk carries the
    remainder, and a chunk the market would refuse (below its minimum amount or notional) is
    merged into its neighbour, so the chunks always add up to the whole rounded amount.

    Chunks are market orders for a market signal and limit orders at the signal's price for a
    limit signal. `randomize` varies each chunk size and interval by up to +-`randomize_pct`
    with a generator seeded from `seed` and the signal's source and id: the same signal gets
    the same chunks in every run.

    A chunk that is rejected, expires or is canceled unfilled (or partly filled) either stops
    the iceberg (`on_chunk_failure: stop`): nothing more is sent, the waiting timer is
    canceled and the signal's outcome says which chunk failed, why, and how much was left;
    or is re-sent for its unfilled rest after the interval (`retry`), at most `max_retries`
    times in a row. A signal that expires between chunks stops the same way.

    Restarts: the plan (which chunks are left) lives in memory only. After a restart the
    chunks already sent are recovered with their fills, but the rest is not sent: the signal
    ends partly executed. That is a known limitation; the start names each such signal at
    WARNING with the amount given up (`plans_in_memory`, service/assembly.py).
    """

    Params = IcebergParams
    params: IcebergParams
    follows_orders: ClassVar[bool] = True
    plans_in_memory: ClassVar[bool] = True

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._by_order: dict[str, _Plan] = {}  # the current chunk's id -> its plan
        self.active: set[_Plan] = set()

    def execute(self, intent: TradeIntent, placer: OrderPlacer) -> Rejection | None:
        sized = size_children(intent, self.context.market(intent.symbol))
        if isinstance(sized, Rejection):
            return sized
        market, price, valued_at, total = sized.market, sized.price, sized.valued_at, sized.total
        signal = placer.signal
        rng = seeded_rng(self.params.seed, signal.source, signal.signal_id)
        chunks = merge_small(self.chunk_sizes(total, market, rng), market, valued_at)
        plan = _Plan(
            placer=placer,
            side=intent.side,
            order_type=intent.order_type,
            price=price,
            valued_at=valued_at,
            market=market,
            symbol=intent.symbol,
            total=total,
            chunks=deque(chunks),
            intervals=deque(self._interval_ms(rng) for _ in chunks[1:]),
        )
        self.active.add(plan)
        self._send(plan)
        return None

    def chunk_sizes(self, total: Decimal, market: Market, rng: random.Random) -> list[Decimal]:
        """Chunk amounts adding up to `total`: `chunk_size` each (varied when randomizing),
        rounded down to the amount step, the last one whatever is left."""
        chunks: list[Decimal] = []
        rest = total
        while rest > 0:
            size = market.round_amount(self.params.chunk_size * self._factor(rng))
            if size <= 0 or size >= rest:
                chunks.append(rest)
                break
            chunks.append(size)
            rest -= size
        return chunks

    def _factor(self, rng: random.Random) -> Decimal:
        if not self.params.randomize:
            return Decimal(1)
        return 1 + self.params.randomize_pct * Decimal(rng.randint(-1000, 1000)) / _PER_MILLE

    def _interval_ms(self, rng: random.Random) -> int:
        return int(self.params.interval_seconds * 1000 * self._factor(rng))

    # -- the chunk loop ---------------------------------------------------------------------------

    def _send(self, plan: _Plan) -> None:
        plan.timer = None
        placer = plan.placer
        expiry = placer.expiry_ms
        if expiry is not None and self.context.clock.now_ms() >= expiry:
            self._stop(plan, RejectionReason.EXPIRED, f"the signal expired at {expiry}")
            return
        # the chunk is judged as before the plan was pending: its own later chunks, which go
        # out after it, must not count against it (a reducing close would look like an open)
        self.context.planned.drop(plan)
        refused = placer.refusal(plan.side, plan.chunks[0])
        if refused is not None:  # halted or reducing since the iceberg started
            self._stop(plan, refused.reason, refused.detail)
            return
        # the chunk leaves the plan: once placed it is an open order the checks see
        self._note_planned(plan, sum(list(plan.chunks)[1:], ZERO))
        try:
            order = placer.place(
                side=plan.side, order_type=plan.order_type, amount=plan.chunks[0], price=plan.price
            )
        except Exception as error:  # a bug or a refused submit must not leave the plan hanging
            logger.exception("iceberg chunk for signal {} not placed", placer.signal.signal_id)
            self._stop(plan, RejectionReason.INTERNAL_ERROR, f"placing a chunk failed: {error!r}")
            return
        plan.current = order
        self._by_order[order.client_order_id] = plan
        if not order.is_open:  # the venue answered inside `place`, before the id was known
            self.on_order_event(order)

    def on_order_event(self, order: Order) -> None:
        if order.is_open:
            return  # a partial fill: the chunk is still working
        plan = self._by_order.pop(order.client_order_id, None)
        if plan is None:
            return
        plan.current = None
        plan.filled += order.filled_amount
        if order.status is OrderStatus.FILLED:
            plan.chunks.popleft()
            plan.retries = 0
            if not plan.chunks:
                self.active.discard(plan)
                self.context.planned.drop(plan)
                return
            self._schedule(plan, plan.intervals.popleft())
            return
        self._chunk_failed(plan, order)

    def _chunk_failed(self, plan: _Plan, order: Order) -> None:
        reason = order.reject_reason or RejectionReason.UNFILLED
        what = f"chunk {order.client_order_id} ({order.amount}) was {order.status}"
        if order.reject_detail:
            what += f": {order.reject_detail}"
        plan.chunks[0] -= order.filled_amount
        if self.params.on_chunk_failure == "stop" or plan.retries >= self.params.max_retries:
            self._stop(plan, reason, what)
            return
        plan.retries += 1
        # a rest too small to send alone joins the next chunk (or, last, the one before)
        plan.chunks = deque(merge_small(plan.chunks, plan.market, plan.valued_at))
        if plan.market.check_order(plan.chunks[0], plan.valued_at) is not None:
            self._stop(plan, reason, f"{what}; its rest {plan.chunks[0]} is too small to send")
            return
        logger.warning("{}; retry {} of {}", what, plan.retries, self.params.max_retries)
        self._schedule(plan, int(self.params.interval_seconds * 1000))

    def _schedule(self, plan: _Plan, delay_ms: int) -> None:
        self._note_planned(plan, sum(plan.chunks, ZERO))  # every chunk left waits to be sent
        plan.timer = self.context.clock.schedule_after(delay_ms, lambda: self._send(plan))

    def _note_planned(self, plan: _Plan, unsent: Decimal) -> None:
        """Keep the chunks not sent yet visible to risk checks as planned exposure."""
        self.context.planned.set(plan, plan.symbol, plan.side, unsent)

    def _stop(self, plan: _Plan, reason: RejectionReason, why: str) -> None:
        """Give up on the rest: nothing more is sent, and the signal keeps why."""
        if plan.timer is not None:
            plan.timer.cancel()
            plan.timer = None
        self.active.discard(plan)
        self.context.planned.drop(plan)
        left = sum(plan.chunks, ZERO)
        detail = f"iceberg stopped with {plan.filled} of {plan.total} filled, {left} left unexecuted: {why}"
        logger.warning("signal {}: {}", plan.placer.signal.signal_id, detail)
        plan.placer.stopped(Rejection(reason, detail))
