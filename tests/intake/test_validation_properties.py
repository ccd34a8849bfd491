"""Properties of the validation path every source shares (`IntakeChannel.offer`,
`parse_json_signal`, `validate_signal`): whatever arrives, nothing raises, and each payload is
either recorded as a signal or kept as a dead letter with at least one reason; what is
accepted (or dead-lettered) can be written to the store."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import T0
from tests.intake.bench_gate import VALID, gate_bench
from tests.service.rig import start
from trading_bot.domain.signal import Signal
from trading_bot.engine.clock import SimulatedClock
from trading_bot.intake.gate import IntakeChannel, IntakeGate, IntakeOutcome, IntakeResult
from trading_bot.intake.parsing import parse_json_signal, validate_signal
from trading_bot.store.database import open_engine, upgrade_to_head

# Bounded for a loaded 2-core CI: no deadline, a few hundred small examples per property.
FAST = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FULL: dict[str, Any] = {
    **VALID,
    "created_at": T0 + 1,
    "ttl_s": "60",
    "confidence": "0.9",
    "order_type": "market",
    "stop_loss": "90",
    "take_profit": "120",
    "strategy": "s",
    "metadata": {"user": "u", "expected_price": "100"},
}
SPECIAL_TEXT = ["NaN", "-NaN", "Infinity", "-Infinity", "inf", "sNaN", "1e999", "-1e999"]
SPECIAL_TEXT += ["0x10", " 1 ", "１", "1_000", "", "0", "-0", "1e-999", "\u0000", "𝟙"]
SPECIAL_NUMBERS = [float("nan"), float("inf"), -float("inf"), 10**400, -(10**30), 1e308, 0]
ASSETS = ["ETH/USDT", "BTC/BTC", "btc/usdt", "BTCUSDT", "BTC/USDT:USDT", "BTC/", "/USDT"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(SPECIAL_TEXT)
    | st.sampled_from(SPECIAL_NUMBERS)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@st.composite
def mutated_signals(draw: st.DrawFn) -> dict[str, Any]:
    """A valid signal with some fields removed, replaced, retyped or pushed to extremes."""
    payload = dict(FULL)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        field = draw(st.sampled_from([*sorted(FULL), "size", "notional", "target_position", "x"]))
        change = draw(st.sampled_from(["drop", "value", "retype", "asset", "deep", "unicode"]))
        if change == "drop":
            payload.pop(field, None)
        elif change == "value":
            payload[field] = draw(json_values)
        elif change == "retype":
            old = payload.get(field)
            payload[field] = (
                str(old)
                if not isinstance(old, str)
                else draw(st.sampled_from([1, 1.5, [old], {"v": old}]))
            )
        elif change == "asset":
            payload["asset"] = draw(st.sampled_from(ASSETS) | st.text(max_size=12))
        elif change == "deep":
            payload["metadata"] = {"n": nested(draw(st.integers(min_value=1, max_value=400)))}
        else:
            payload[field] = draw(st.text(min_size=1, max_size=12))
    return payload


MARK = "surrogate-goes-here"


def escaped(payload: dict[str, Any], draw: st.DrawFn) -> str:
    """The payload as JSON text, sometimes with a key given twice or a lone surrogate escape
    (valid JSON, but text UTF-8 cannot encode)."""
    trick = draw(st.sampled_from(["none", "duplicate", "surrogate", "bom", "truncate"]))
    if trick == "surrogate":
        where = draw(st.sampled_from(["signal_id", "strategy", "metadata", "metadata key"]))
        if where == "metadata":
            payload = {**payload, "metadata": {"note": MARK}}
        elif where == "metadata key":
            payload = {**payload, "metadata": {MARK: 1}}
        else:
            payload = {**payload, where: MARK}
    text = json.dumps(payload, default=str)
    if trick == "surrogate":
        text = text.replace(MARK, "a\\ud800b")
    elif trick == "duplicate" and text.startswith("{") and len(text) > 2:
        text = '{"signal_id": "twice", ' + text[1:]
    elif trick == "bom":
        text = "\ufeff" + text
    elif trick == "truncate":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text


@st.composite
def payloads(draw: st.DrawFn) -> object:
    kind = draw(
        st.sampled_from(["bytes", "text", "json", "value", "signal", "signal-text", "deep"])
    )
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "text":
        return draw(st.text(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values), default=str)
    if kind == "value":
        return draw(json_values)
    if kind == "deep":
        depth = draw(st.integers(min_value=1, max_value=5000))
        return "[" * depth + "]" * depth
    signal = draw(mutated_signals())
    if kind == "signal":
        return signal
    text = escaped(signal, draw)
    return text.encode("utf-8", errors="surrogatepass") if draw(st.booleans()) else text


def is_reason_list(problems: object) -> bool:
    return (
        isinstance(problems, list | tuple)
        and len(problems) > 0
        and all(isinstance(p, str) and p.strip() for p in problems)
    )


def check_outcome(gate: IntakeGate, channel: IntakeChannel, payload: object) -> IntakeResult:
    """Offer `payload` and check the outcome is told and kept as it says."""
    ledger = gate.kernel.ledger
    dead_before, duplicates_before = len(ledger.invalid), len(ledger.duplicates)
    result = channel.offer(payload, "p")
    if result.outcome in (IntakeOutcome.ACCEPTED, IntakeOutcome.DUPLICATE):
        record = ledger.get((result.source or "", result.signal_id or ""))
        assert record is not None and record.signal is not None
        record.signal.model_dump_json().encode("utf-8")  # what the store writes
        assert len(ledger.invalid) == dead_before
        grew = len(ledger.duplicates) - duplicates_before
        assert grew == (1 if result.outcome is IntakeOutcome.DUPLICATE else 0)
    else:
        assert result.outcome is IntakeOutcome.INVALID
        assert is_reason_list(result.problems)
        assert len(ledger.invalid) == dead_before + 1
        dead = ledger.invalid[-1]
        assert dead.errors == result.problems
        (dead.raw + dead.location + "".join(dead.errors)).encode("utf-8")
    return result


_BENCH = gate_bench()
_CHANNEL = _BENCH.gate.channel("prop", default_source="det")


# Payloads that once got through: kept as fixed examples so they are tried on every run.
KNOWN = [
    None,
    [json.dumps(VALID)],
    json.dumps({**VALID, "signal_id": "k1", "metadata": {"note": MARK}}).replace(MARK, "\\udfff"),
    {**VALID, "signal_id": "k2", "metadata": {"n": nested(300)}},
    {**VALID, "signal_id": "k3", "strategy": "\ud800"},
    {**VALID, "signal_id": "k4\u0000"},
    {**VALID, "signal_id": "k5", "metadata": {"user": "a\u0000b"}},
    b'{"signal_id": "k6"}\x00',
]


def known_examples(test: Any) -> Any:
    for payload in KNOWN:
        test = example(payload)(test)
    return test


@FAST
@known_examples
@given(payloads())
def test_any_payload_is_recorded_or_dead_lettered_with_reasons(payload: object) -> None:
    check_outcome(_BENCH.gate, _CHANNEL, payload)


@FAST
@given(payloads())
def test_the_parser_never_raises_and_always_says_why(payload: object) -> None:
    if isinstance(payload, str | bytes):
        result = parse_json_signal(payload)
    else:
        result = validate_signal(payload)
    assert isinstance(result, Signal) or is_reason_list(result)


@FAST
@given(mutated_signals())
def test_a_signal_for_another_asset_is_never_accepted(payload: dict[str, Any]) -> None:
    payload = {**payload, "asset": "ETH/USDT"}
    assert check_outcome(_BENCH.gate, _CHANNEL, payload).outcome is IntakeOutcome.INVALID


def test_whatever_the_gate_takes_the_store_can_write(store_url: str) -> None:
    """Against a real store (SQLite, and PostgreSQL when it runs): each outcome is committed
    before the next payload, so a payload the store cannot write (a NUL, a lone surrogate,
    metadata too deep to serialize) fails here instead of blocking a running bot's store."""
    engine = open_engine(store_url)
    upgrade_to_head(engine)
    running = start(engine, SimulatedClock(T0 + 1))
    gate = IntakeGate(running.bot.kernel, running.journal)
    channel = gate.channel("store", default_source="det")

    @settings(FAST, max_examples=120)
    @known_examples
    @given(payloads())
    def offered_and_committed(payload: object) -> None:
        check_outcome(gate, channel, payload)
        assert running.journal.flush(), "the store refused what the gate took"

    try:
        offered_and_committed()
    finally:
        engine.dispose()
