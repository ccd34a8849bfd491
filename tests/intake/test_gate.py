"""`IntakeGate` / `IntakeChannel`: what every source relies on when it offers a payload."""

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import T0
from tests.intake.bench_gate import gate_bench, signal
from tests.intake.rig import live_bot
from trading_bot.domain.enums import LiquiditySide, Side
from trading_bot.domain.fill import Fill
from trading_bot.intake.gate import IntakeOutcome
from trading_bot.intake.raw_text import KEPT_RAW_BYTES


def test_a_payload_without_source_gets_the_channel_default() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("ws", default_source="det")
    plain = channel.offer(json.dumps(signal("a")), "1")
    own = channel.offer(json.dumps(signal("b", source="other")), "2")
    assert (plain.outcome, plain.source) == (IntakeOutcome.ACCEPTED, "det")
    assert (own.outcome, own.source) == (IntakeOutcome.ACCEPTED, "other")
    assert bench.kernel.ledger.seen(("det", "a"))
    assert bench.kernel.ledger.seen(("other", "b"))


def test_a_channel_without_default_leaves_source_empty() -> None:
    bench = gate_bench()
    result = bench.gate.channel("ws").offer(signal("a"), "1")
    assert result.source == ""


def test_the_same_signal_twice_is_a_duplicate_done_once() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("ws", default_source="det")
    first = channel.offer(json.dumps(signal("a")), "1")
    again = channel.offer(json.dumps(signal("a")), "2")
    assert first.outcome is IntakeOutcome.ACCEPTED
    assert again.outcome is IntakeOutcome.DUPLICATE
    assert again.to_dict()["signal_id"] == "a"
    assert [d[:2] for d in bench.kernel.ledger.duplicates] == [("det", "a")]
    assert len(bench.kernel.ledger.records()) == 1
    assert channel.counts == {"received": 2, "accepted": 1, "duplicate": 1}


def test_an_asset_the_venue_does_not_trade_is_rejected_with_the_reason() -> None:
    bench = gate_bench()
    result = bench.gate.channel("ws").offer(signal("a", asset="ETH/USDT"), "7")
    assert result.outcome is IntakeOutcome.INVALID
    assert result.problems == ("asset: ETH/USDT is not traded on this venue",)
    (dead,) = bench.kernel.ledger.invalid
    assert dead.location == "ws:7"
    assert not bench.kernel.ledger.records()


def test_offer_refuses_over_the_rate_limit_and_keeps_a_dead_letter() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("hook", rate_per_s=2, burst=2)
    outcomes = [channel.offer(signal(f"s{i}"), str(i)).outcome for i in range(3)]
    assert outcomes == [IntakeOutcome.ACCEPTED, IntakeOutcome.ACCEPTED, IntakeOutcome.RATE_LIMITED]
    (dead,) = bench.kernel.ledger.invalid
    assert dead.errors == ("rate limit of 2 signals/s for hook exceeded",)
    assert '"s2"' in dead.raw
    bench.clock.advance_to(bench.clock.now_ms() + 500)  # one token back
    assert channel.offer(signal("s3"), "3").outcome is IntakeOutcome.ACCEPTED


async def test_capacity_waits_for_the_rate_limit_instead_of_refusing() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("pull", rate_per_s=1000, burst=1)
    assert channel.offer(signal("a"), "1").outcome is IntakeOutcome.ACCEPTED
    waiting = asyncio.create_task(channel.capacity())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the bot's clock has not moved: no token yet
    bench.clock.advance_to(bench.clock.now_ms() + 1)
    await asyncio.wait_for(waiting, 2)
    assert channel.offer(signal("b"), "2").outcome is IntakeOutcome.ACCEPTED
    assert not bench.kernel.ledger.invalid


async def test_capacity_without_a_rate_limit_returns_at_once() -> None:
    await asyncio.wait_for(gate_bench().gate.channel("pull").capacity(), 1)


def test_a_dead_letter_masks_secrets_in_raw_and_problems() -> None:
    secret = "tok-9f8e7d6c5b4a"
    bench = gate_bench(secrets=[secret])
    payload = signal("a", asset=f"X{secret}", metadata={"auth": secret})
    result = bench.gate.channel("ws").offer(json.dumps(payload), "1")
    assert result.outcome is IntakeOutcome.INVALID
    (dead,) = bench.kernel.ledger.invalid
    assert secret not in dead.raw
    assert secret not in " ".join(dead.errors) + " ".join(result.problems)
    assert "***" in dead.raw


def test_an_oversized_payload_is_cut_in_its_dead_letter_and_a_secret_at_the_cut_is_masked() -> None:
    secret = "tok-0123456789abcdef"
    bench = gate_bench(secrets=[secret])
    text = "x" * (KEPT_RAW_BYTES - 5) + secret + "y" * 1000
    result = bench.gate.channel("ws").offer(text, "1")
    assert result.outcome is IntakeOutcome.INVALID
    assert "larger than the" in result.problems[0]
    (dead,) = bench.kernel.ledger.invalid
    assert len(dead.raw) < KEPT_RAW_BYTES + 100
    assert dead.raw.endswith("more characters not kept]")
    assert secret[:5] not in dead.raw  # not even the part of the secret before the cut


def test_a_text_of_multibyte_characters_is_measured_in_bytes() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("ws", max_bytes=1024)
    payload = json.dumps(signal("a", metadata={"note": "€" * 400}), ensure_ascii=False)
    assert len(payload) < 1024 < len(payload.encode())
    result = channel.offer(payload, "1")
    assert result.outcome is IntakeOutcome.INVALID
    assert result.problems[0].startswith(f"payload is {len(payload.encode())} bytes")


@pytest.mark.parametrize("value", [[1, 2], 5, None, 1.5, True, "text", [signal("a")]])
def test_a_decoded_value_that_is_not_an_object_is_a_dead_letter_not_an_exception(
    value: object,
) -> None:
    bench = gate_bench()
    result = bench.gate.channel("ws").offer(value, "1")
    assert result.outcome is IntakeOutcome.INVALID
    assert result.problems and all(result.problems)
    assert len(bench.kernel.ledger.invalid) == 1


def test_an_unprintably_deep_value_is_still_a_dead_letter() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    bench = gate_bench()
    result = bench.gate.channel("ws").offer({"signal_id": "a", "metadata": deep}, "1")
    assert result.outcome is IntakeOutcome.INVALID
    assert len(bench.kernel.ledger.invalid) == 1


async def test_payloads_with_lone_surrogates_do_not_block_the_store(tmp_path: Path) -> None:
    """A `\\ud800` escape is valid JSON but not encodable text: neither the accepted signal
    nor the dead letter may reach the store with it, or every later write would fail."""
    async with live_bot(tmp_path) as rig:
        channel = rig.gate.channel("ws", default_source="det")
        in_metadata = json.dumps(signal("a", metadata={"note": "\ud800"}))
        decoded = {**signal("b"), "strategy": "\udfff", "metadata": {"\ud800": 1}}
        results = [channel.offer(in_metadata, "1"), channel.offer(decoded, "2")]
        assert [r.outcome for r in results] == [IntakeOutcome.INVALID] * 2
        assert "not valid Unicode" in results[0].problems[0]
        assert channel.offer(signal("c"), "3").outcome is IntakeOutcome.ACCEPTED
        await asyncio.wait_for(channel.recorded(), 5)
        assert set(rig.signals()) == {("det", "c")}
        assert len(rig.dead_letters()) == 2


def test_the_status_shows_an_average_fill_price_to_twelve_significant_digits() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("ws", default_source="det")
    channel.offer(signal("a", size="3"), "1")  # open until the first bar, which never comes
    (order,) = bench.kernel.orders.open_orders()
    for trade_id, amount, price in (("t1", "1", "100"), ("t2", "2", "101")):
        bench.kernel.orders.order_filled(
            Fill(
                trade_id,
                order.client_order_id,
                "BTC/USDT",
                Side.BUY,
                Decimal(amount),
                Decimal(price),
                Decimal(0),
                "USDT",
                LiquiditySide.MAKER,
                T0,
            )
        )
    status = bench.gate.signal_status("det", "a")
    assert status is not None
    assert status["orders"][0]["average_price"] == "100.666666667"  # 302 / 3
