"""DetectorDrivenStrategy: act on the detector's signals as they are."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.strategy.base import Strategy


class DetectorDrivenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_confidence: Decimal = Field(default=Decimal(0), ge=0, le=1)
    scale_by_confidence: bool = Field(
        default=False,
        description="multiply size/notional by the signal's confidence (target positions too)",
    )


class DetectorDrivenStrategy(Strategy):
    """Forwards each signal whose confidence is at least `min_confidence`; drops the rest
    with reason `low_confidence`. With `scale_by_confidence`, a 0.5-confidence signal trades
    half its size."""

    Params = DetectorDrivenParams
    params: DetectorDrivenParams

    def process_signal(self, signal: Signal) -> list[Signal] | Rejection:
        if signal.confidence < self.params.min_confidence:
            return Rejection(
                RejectionReason.LOW_CONFIDENCE,
                f"confidence {signal.confidence} < min_confidence {self.params.min_confidence}",
            )
        if not self.params.scale_by_confidence or signal.confidence == 1:
            return [signal]
        field = next(
            f for f in ("size", "notional", "target_position") if getattr(signal, f) is not None
        )
        scaled = getattr(signal, field) * signal.confidence
        if field != "target_position" and scaled <= 0:
            return Rejection(
                RejectionReason.LOW_CONFIDENCE, "confidence 0 scales the size to nothing"
            )
        return [signal.model_copy(update={field: scaled})]
