"""Intake paused while the venue is unwell: nothing is taken, nothing is lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.intake.bench_gate import gate_bench, signal
from tests.intake.webhook_rig import running_webhook
from tests.intake.webhook_rig import signal as webhook_signal
from trading_bot.intake.gate import IntakeOutcome


def test_a_signal_offered_while_paused_is_refused_with_a_retry_hint_and_not_recorded() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("ws", default_source="det")
    bench.gate.pause("the venue is failing")
    result = channel.offer(json.dumps(signal("a")), "1")
    assert result.outcome is IntakeOutcome.PAUSED
    assert result.problems == ("intake paused: the venue is failing",)
    assert not bench.kernel.ledger.seen(("det", "a"))
    assert bench.kernel.ledger.invalid == []  # not a bad input: no dead letter
    bench.gate.resume()
    assert channel.offer(json.dumps(signal("a")), "2").outcome is IntakeOutcome.ACCEPTED


async def test_a_pulling_source_waits_while_paused_and_goes_on_after_resume() -> None:
    bench = gate_bench()
    channel = bench.gate.channel("broker")
    bench.gate.pause("breaker open")
    waiting = asyncio.ensure_future(channel.capacity())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    bench.gate.resume()
    await asyncio.wait_for(waiting, 1)


async def test_the_webhook_answers_503_with_retry_after_while_paused(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, source="det") as hook:
        hook.rig.gate.pause("the venue is failing (circuit breaker open)")
        refused = await hook.post(webhook_signal("p1"))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert "intake paused" in refused.json()["reason"]
        hook.rig.gate.resume()
        accepted = await hook.post(webhook_signal("p1"))
        assert accepted.status_code == 202
