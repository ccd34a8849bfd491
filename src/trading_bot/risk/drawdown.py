"""DrawdownProtection: scale new exposure down as equity falls from its recent peak, halt it
past the limit.

Equity is the whole account marked to market in the valuation currency at the clock's now
(the last price known then, never a later one), not a running sum of trade P&L: fees, open
positions and price moves all count, and the drawdown is a fraction of the peak, not P&L
mistaken for a return.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.base import RiskCheck, RiskDecision
from trading_bot.risk.holdings import closing_part, mark_to_market, round_down, valuation_currency

_HOUR_MS = 3_600_000
# the window is kept as at most this many bucket maxima, whatever the sampling rate
WINDOW_BUCKETS = 256


class DrawdownParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_drawdown_pct: Decimal = Field(
        default=Decimal("0.15"),
        gt=0,
        lt=1,
        description="fall from the peak, as a fraction (0.15 = 15%), at which new exposure halts",
    )
    window_hours: float = Field(
        default=24, gt=0, le=24 * 366, description="how far back the peak is looked for"
    )
    reduce_from: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=1,
        description="fraction of max_drawdown_pct from which new exposure is scaled down "
        "linearly (to nothing at the limit); 1 disables the scaling",
    )


class RollingPeak:
    """The highest value sampled over the last `window_ms`, in bounded memory.

    A deque of (time, value) with values strictly falling from front to back: a sample
    removes every older one it is not below (they can never be the peak again). Samples in the
    same bucket of `window_ms / WINDOW_BUCKETS` share one entry holding their highest value
    and latest time, so the deque never holds more than WINDOW_BUCKETS + 2 entries; the peak
    may thus be kept up to one bucket longer than the window, never dropped early.
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._bucket_ms = max(1, window_ms // WINDOW_BUCKETS)
        self._entries: deque[tuple[int, Decimal]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, now_ms: int, value: Decimal) -> Decimal:
        """Record `value` at `now_ms` and return the peak of the window ending now."""
        entries = self._entries
        while entries and entries[-1][1] <= value:
            entries.pop()
        if entries and entries[-1][0] // self._bucket_ms == now_ms // self._bucket_ms:
            entries[-1] = (now_ms, entries[-1][1])
        else:
            entries.append((now_ms, value))
        horizon = now_ms - self.window_ms
        while entries[0][0] < horizon:
            entries.popleft()
        return entries[0][1]


class DrawdownProtection(RiskCheck):
    """drawdown = (peak - equity) / peak, peak being the highest equity sampled in the last
    `window_hours` (default 24). Equity is sampled each time the check judges an intent,
    rejected ones included, so a peak reached and lost between two intents is not seen: the
    check measures the fall since it last looked, not along every mark. Assets with no
    `ASSET/<currency>` price are left out of equity (as in the backtest summary).

    - below `reduce_from` x `max_drawdown_pct` (defaults 0.5 x 0.15): approved as is;
    - from there to the limit: the new exposure is scaled down linearly, from all of it to
      none at the limit;
    - at or past the limit: new exposure is rejected with `drawdown_limit`.

    The part of an order that only shrinks a position always passes (an order that would
    flip a position is cut to the part that closes it). Resume rule: trading resumes as soon
    as the drawdown is back under the limit, because equity recovered or because the peak
    aged out of the window (it then is the highest equity sampled in the last
    `window_hours`, the current equity included).
    """

    Params = DrawdownParams
    params: DrawdownParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._window_ms = int(self.params.window_hours * _HOUR_MS)
        # one peak per currency: only one is ever used once a valuation currency is set
        self._peaks: dict[str, RollingPeak] = {}

    def drawdown(self, currency: str) -> tuple[Decimal, Decimal, Decimal]:
        """(drawdown, equity, peak) now, the current equity recorded as a sample."""
        equity = mark_to_market(self.context, currency).total
        peak_window = self._peaks.get(currency)
        if peak_window is None:
            peak_window = self._peaks[currency] = RollingPeak(self._window_ms)
        peak = peak_window.add(self.context.clock.now_ms(), equity)
        if peak <= 0:
            return Decimal(1), equity, peak  # nothing left to lose: treat as a full drawdown
        return (peak - equity) / peak, equity, peak

    def check(self, intent: TradeIntent) -> RiskDecision:
        currency = valuation_currency(self.context, intent.symbol)
        drawdown, equity, peak = self.drawdown(currency)
        closing = closing_part(self.context, intent)
        opening = intent.amount - closing
        if opening == 0:
            return RiskDecision.approve()
        limit = self.params.max_drawdown_pct
        start = limit * self.params.reduce_from
        if drawdown <= start and drawdown < limit:
            return RiskDecision.approve()
        where = f"drawdown {drawdown:.2%} (equity {equity} {currency}, peak {peak})"
        if drawdown >= limit:
            if closing > 0:
                return RiskDecision.resize(
                    closing, f"{where} is past max_drawdown_pct {limit:.2%}: only the close passes"
                )
            return RiskDecision.reject(
                RejectionReason.DRAWDOWN_LIMIT,
                f"{where} is past max_drawdown_pct {limit:.2%}: new exposure halted",
            )
        factor = (limit - drawdown) / (limit - start)
        amount = round_down(self.context, intent.symbol, closing + opening * factor)
        if amount <= 0:
            return RiskDecision.reject(
                RejectionReason.DRAWDOWN_LIMIT,
                f"{where} scales the order to nothing (factor {factor:.4f})",
            )
        return RiskDecision.resize(
            amount, f"{where}: new exposure scaled by {factor:.4f} to {amount}"
        )
