"""CombinedStrategy: detector signals confirmed by the strategy's own analysis of the market.

Each detector signal gets a combined score, (1 - internal_weight) x its confidence +
internal_weight x the internal agreement (the strength of `analyze_market` when it points the
signal's way, else 0), and trades only with a score of at least `min_confidence`. With
`require_confirmation`, a signal the analysis does not confirm yet waits in a bounded buffer
and is re-checked on the clock until it is confirmed or its time runs out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.enums import Side
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.clock import Timer
from trading_bot.engine.intents import expected_position
from trading_bot.strategy.base import DEFERRED, Decision, Deferred, Strategy
from trading_bot.strategy.market_analysis import AnalysisParams, MarketView, analyze_market

_ONE = Decimal(1)


class CombinedParams(AnalysisParams):
    model_config = ConfigDict(extra="forbid")

    min_confidence: Decimal = Field(
        default=Decimal(0), ge=0, le=1, description="lowest combined score that trades"
    )
    internal_weight: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=1,
        description="share of the combined score given to the internal analysis",
    )
    require_confirmation: bool = Field(
        default=True,
        description="hold a signal the analysis does not confirm until it does (or expires); "
        "false: score it as it is, with an agreement of 0",
    )
    buffer_max: int = Field(
        default=100, ge=1, description="signals waiting for confirmation at most (oldest out)"
    )
    buffer_ttl_s: Decimal = Field(
        default=Decimal(300), gt=0, description="how long a signal may wait for confirmation"
    )
    recheck_interval_s: Decimal = Field(
        default=Decimal(60),
        ge=Decimal("0.001"),
        description="waiting signals are re-checked at every multiple of this on the clock "
        "(the default, with bar_interval_s 60, is just as each 1m bar closes)",
    )
    on_insufficient_data: Literal["reject", "detector_only"] = Field(
        default="reject",
        description="too little data for the analysis: reject (insufficient_data), or score "
        "the signal on its confidence alone",
    )


@dataclass(slots=True)
class _Waiting:
    signal: Signal
    expires_ms: int
    expiry_is_signals: bool  # the signal's own expiry comes before the buffer's ttl
    last_view: MarketView


class CombinedStrategy(Strategy):
    """See the module docstring. Signals are never changed in place: a signal that trades is
    a copy whose `confidence` is its combined score."""

    Params = CombinedParams
    params: CombinedParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._waiting: OrderedDict[tuple[str, str], _Waiting] = OrderedDict()
        self._timer: Timer | None = None

    @property
    def waiting(self) -> int:
        """How many signals wait for confirmation now."""
        return len(self._waiting)

    def analyze_market(self, symbol: str) -> MarketView:
        """The internal signal for `symbol` from the closes known at the clock's now."""
        context = self.context
        return analyze_market(context.prices, symbol, context.clock.now_ms(), self.params)

    def process_signal(self, signal: Signal) -> Decision | Deferred:
        if self.context.market(signal.asset) is None:
            return [signal]  # sizing rejects it as unknown_asset, the reason that applies
        direction = self._direction(signal)
        if direction == 0:
            return [signal]  # a target already held: sizing says nothing_to_do
        params = self.params
        view = self.analyze_market(signal.asset)
        if view.insufficient is not None:
            if params.on_insufficient_data == "reject":
                return Rejection(RejectionReason.INSUFFICIENT_DATA, view.insufficient)
            return self._scored(signal, signal.confidence, f"detector alone: {view.describe()}")
        agreement = view.strength if view.direction == direction else Decimal(0)
        if agreement > 0 or not params.require_confirmation:
            return self._scored(signal, self._score(signal, agreement), view.describe())
        best = self._score(signal, _ONE)
        if best < params.min_confidence:
            return Rejection(
                RejectionReason.LOW_CONFIDENCE,
                f"even full agreement would score {best} < min_confidence {params.min_confidence}",
            )
        self._wait(signal, view)
        return DEFERRED

    def stop(self) -> None:
        """Reject every waiting signal (`not_confirmed`): the run ends before confirmation."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting:
            _, entry = self._waiting.popitem(last=False)
            self.decide_later(
                entry.signal,
                Rejection(
                    RejectionReason.NOT_CONFIRMED,
                    f"the run ended before confirmation; last analysis: {entry.last_view.describe()}",
                ),
            )

    # -- scoring --------------------------------------------------------------------------------

    def _direction(self, signal: Signal) -> int:
        """+1 for a buy, -1 for a sell; a target's direction is that of the trade it needs."""
        if signal.side is not None:
            return 1 if signal.side is Side.BUY else -1
        assert signal.target_position is not None  # the signal contract guarantees one
        delta = signal.target_position - expected_position(self.context, signal.asset)
        return (delta > 0) - (delta < 0)

    def _score(self, signal: Signal, agreement: Decimal) -> Decimal:
        weight = self.params.internal_weight
        return (_ONE - weight) * signal.confidence + weight * agreement

    def _scored(self, signal: Signal, score: Decimal, why: str) -> Decision:
        if score < self.params.min_confidence:
            return Rejection(
                RejectionReason.LOW_CONFIDENCE,
                f"combined score {score} < min_confidence {self.params.min_confidence} ({why})",
            )
        if score == signal.confidence:
            return [signal]
        return [signal.model_copy(update={"confidence": score})]

    # -- the confirmation buffer ----------------------------------------------------------------

    def _wait(self, signal: Signal, view: MarketView) -> None:
        now = self.context.clock.now_ms()
        expires = now + int(self.params.buffer_ttl_s * 1000)
        own = signal.expiry_ms
        self._waiting[signal.dedup_key] = _Waiting(
            signal,
            min(expires, own) if own is not None else expires,
            own is not None and own < expires,
            view,
        )
        if len(self._waiting) > self.params.buffer_max:
            _, oldest = self._waiting.popitem(last=False)
            self.decide_later(
                oldest.signal,
                Rejection(
                    RejectionReason.BUFFER_FULL,
                    f"pushed out by a newer signal: buffer_max {self.params.buffer_max} waiting",
                ),
            )
        self._schedule()

    def _recheck(self) -> None:
        """Timer callback: settle every waiting signal that expired or is now confirmed."""
        self._timer = None
        now = self.context.clock.now_ms()
        views: dict[str, MarketView] = {}
        for key, entry in list(self._waiting.items()):
            signal = entry.signal
            if now >= entry.expires_ms:
                del self._waiting[key]
                self.decide_later(signal, self._expiry_rejection(entry))
                continue
            view = views.get(signal.asset)
            if view is None:
                view = views[signal.asset] = self.analyze_market(signal.asset)
            entry.last_view = view
            direction = self._direction(signal)
            if direction == 0:  # the position already is the target: let sizing say so
                del self._waiting[key]
                self.decide_later(signal, [signal])
                continue
            if view.insufficient is not None or view.direction != direction:
                continue
            score = self._score(signal, view.strength)
            if score >= self.params.min_confidence:
                del self._waiting[key]
                self.decide_later(signal, self._scored(signal, score, view.describe()))
        self._schedule()

    def _expiry_rejection(self, entry: _Waiting) -> Rejection:
        if entry.expiry_is_signals:
            return Rejection(
                RejectionReason.EXPIRED,
                f"expired at {entry.expires_ms} while waiting for confirmation",
            )
        return Rejection(
            RejectionReason.NOT_CONFIRMED,
            f"not confirmed within buffer_ttl_s {self.params.buffer_ttl_s}; "
            f"last analysis: {entry.last_view.describe()}",
        )

    def _schedule(self) -> None:
        """Keep one timer, at the next re-check (a multiple of `recheck_interval_s`, so in step
        with bar closes) or the earliest expiry if sooner, while anything waits."""
        if not self._waiting:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        clock = self.context.clock
        now = clock.now_ms()
        step = int(self.params.recheck_interval_s * 1000)
        due = min(
            now - now % step + step, min(entry.expires_ms for entry in self._waiting.values())
        )
        if self._timer is not None:
            if self._timer.at_ms <= due:
                return
            self._timer.cancel()
        self._timer = clock.schedule_at(due, self._recheck)
