from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.conftest import T0, make_signal
from trading_bot.domain.enums import Side
from trading_bot.domain.signal import Signal
from trading_bot.intake.parsing import validate_signal


def errors_of(**fields: object) -> str:
    """The problems a user is shown for a signal with these fields (via the intake path)."""
    payload = {
        "signal_id": "s1",
        "asset": "BTC/USDT",
        "side": "buy",
        "size": "0.1",
        "created_at": T0,
    }
    payload.update(fields)
    result = validate_signal({k: v for k, v in payload.items() if v is not None})
    assert isinstance(result, list), f"expected a rejection, got {result!r}"
    return "; ".join(result)


def test_valid_signal_keeps_exact_decimals_and_normalizes_symbol_and_side() -> None:
    signal = make_signal(asset="btc/usdt", side="BUY", size="0.1", confidence=0.8)
    assert signal.asset == "BTC/USDT"
    assert signal.side is Side.BUY
    assert signal.size == Decimal("0.1")
    assert signal.confidence == Decimal("0.8")


def test_created_at_accepts_epoch_ms_and_iso_8601() -> None:
    assert make_signal(created_at=T0).created_at == T0
    assert make_signal(created_at=str(T0)).created_at == T0
    assert make_signal(created_at="2022-01-01T00:00:00Z").created_at == T0
    assert make_signal(created_at="2022-01-01T01:00:00+01:00").created_at == T0
    assert make_signal(created_at="2022-01-01T00:00:00").created_at == T0  # naive = UTC


def test_epoch_seconds_are_refused_with_a_hint() -> None:
    assert "not seconds" in errors_of(created_at=1_640_995_200)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"size": "-1"}, "size"),
        ({"size": "0"}, "greater than 0"),
        ({"confidence": "1.5"}, "confidence"),
        ({"side": "long"}, "side"),
        ({"asset": "BTCUSDT"}, "unified symbol"),
        ({"signal_id": ""}, "signal_id"),
        ({"size": "abc"}, "size"),
        ({"size": "NaN"}, "size"),
        ({"order_type": "limit"}, "needs a price"),
        ({"size": None}, "exactly one of size, notional or target_position"),
        ({"notional": "100"}, "got size, notional"),
        ({"side": None}, "side is required"),
        ({"side": "buy", "size": None, "target_position": "1"}, "side must be absent"),
        ({"stop_loss": "110", "take_profit": "100"}, "stop_loss"),
        ({"szie": "1"}, "szie: unknown field"),
        ({"created_at": "yesterday"}, "ISO-8601"),
        ({"ttl_s": "-5"}, "ttl_s"),
        ({"expires_at": T0 - 1}, "expires_at must be after created_at"),
    ],
)
def test_bad_field_is_rejected_with_its_name(fields: dict[str, object], fragment: str) -> None:
    message = errors_of(**fields)
    assert fragment in message


def test_all_bad_fields_are_reported_at_once() -> None:
    message = errors_of(size="-1", confidence="7", side="up")
    assert "size" in message
    assert "confidence" in message
    assert "side" in message


def test_target_position_signal_needs_no_side() -> None:
    signal = make_signal(side=None, size=None, target_position="-0.5")
    assert signal.target_position == Decimal("-0.5")
    assert signal.side is None


def test_expiry_comes_from_expires_at_or_ttl() -> None:
    assert make_signal(ttl_s="30").expiry_ms == T0 + 30_000
    assert make_signal(expires_at=T0 + 5).expiry_ms == T0 + 5
    assert make_signal().expiry_ms is None


def test_dedup_key_is_source_and_signal_id() -> None:
    assert make_signal(source="tv", signal_id="a").dedup_key == ("tv", "a")


def test_signals_are_immutable() -> None:
    signal = make_signal()
    with pytest.raises(ValidationError):
        signal.size = Decimal(5)  # type: ignore[misc]
    assert isinstance(signal, Signal)
