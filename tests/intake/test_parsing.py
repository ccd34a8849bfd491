"""The shared validation path never raises, whatever arrives."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from trading_bot.domain.signal import Signal
from trading_bot.intake.parsing import MAX_PAYLOAD_BYTES, parse_json_signal, validate_signal

VALID = {
    "signal_id": "x",
    "asset": "BTC/USDT",
    "side": "buy",
    "size": "1",
    "created_at": 1640995200000,
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def is_outcome(result: object) -> bool:
    return isinstance(result, Signal) or (
        isinstance(result, list) and all(isinstance(p, str) and p for p in result) and result
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_random_bytes_are_accepted_or_rejected_with_a_reason(payload: str | bytes) -> None:
    assert is_outcome(parse_json_signal(payload))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID)) | st.text(max_size=12), json_values)
def test_mutated_valid_payloads_never_raise(field: str, value: object) -> None:
    payload = dict(VALID)
    payload[field] = value
    assert is_outcome(validate_signal(payload))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(VALID)))
def test_a_payload_missing_a_required_field_says_which(field: str) -> None:
    payload = {k: v for k, v in VALID.items() if k != field}
    result = validate_signal(payload)
    if field in {"signal_id", "asset"}:
        assert isinstance(result, list)
        assert any(p.startswith(field) for p in result)


def test_oversized_payload_is_rejected_before_parsing() -> None:
    payload = json.dumps({**VALID, "metadata": {"pad": "x" * MAX_PAYLOAD_BYTES}})
    (problem,) = parse_json_signal(payload)  # type: ignore[misc]
    assert "larger than" in problem


def test_deeply_nested_json_is_a_rejection_not_a_crash() -> None:
    assert is_outcome(parse_json_signal("[" * 30_000 + "]" * 30_000))


def test_a_key_given_twice_is_refused_not_last_one_wins() -> None:
    from trading_bot.intake.parsing import parse_json_signal

    assert parse_json_signal(
        '{"signal_id": "a", "signal_id": "b", "asset": "BTC/USDT", "side": "buy", "size": "1"}'
    ) == ["key 'signal_id' appears twice in one object"]
