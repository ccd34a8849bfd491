from decimal import Decimal

import pytest

from tests.conftest import make_signal
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.strategy.detector_driven import DetectorDrivenStrategy


def test_signals_below_min_confidence_are_dropped_with_a_reason() -> None:
    strategy = DetectorDrivenStrategy({"min_confidence": "0.6"})
    result = strategy.process_signal(make_signal(confidence="0.59"))
    assert isinstance(result, Rejection)
    assert result.reason is RejectionReason.LOW_CONFIDENCE
    assert "0.59 < min_confidence 0.6" in result.detail


def test_signals_at_or_above_min_confidence_pass_unchanged() -> None:
    strategy = DetectorDrivenStrategy({"min_confidence": "0.6"})
    signal = make_signal(confidence="0.6")
    assert strategy.process_signal(signal) == [signal]


def test_scale_by_confidence_scales_a_copy_and_leaves_the_input_alone() -> None:
    strategy = DetectorDrivenStrategy({"scale_by_confidence": True})
    signal = make_signal(size="2", confidence="0.25")
    (scaled,) = strategy.process_signal(signal)  # type: ignore[misc]
    assert scaled.size == Decimal("0.5")
    assert signal.size == Decimal("2")
    (target,) = strategy.process_signal(  # type: ignore[misc]
        make_signal(side=None, size=None, target_position="-4", confidence="0.5")
    )
    assert target.target_position == Decimal("-2")


def test_zero_confidence_with_scaling_is_dropped_not_sent_as_zero() -> None:
    strategy = DetectorDrivenStrategy({"scale_by_confidence": True})
    result = strategy.process_signal(make_signal(confidence="0"))
    assert isinstance(result, Rejection)


def test_a_module_used_before_it_is_bound_says_so() -> None:
    strategy = DetectorDrivenStrategy({})
    with pytest.raises(RuntimeError, match="DetectorDrivenStrategy is not bound"):
        _ = strategy.context.portfolio
