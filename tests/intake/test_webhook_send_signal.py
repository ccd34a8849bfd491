"""`trading-bot send-signal` end to end against a running webhook (the CLI runs in a thread
while the bot serves in the test's event loop)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.intake.rig import eventually
from tests.intake.webhook_rig import SECRET, Hook, running_webhook, signal
from trading_bot.cli import app

ENV = {"WH_SECRET": SECRET}


async def send(hook: Hook | None, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """Run `send-signal` against the hook; (exit code, stdout + stderr)."""
    url = ["--url", hook.source.url] if hook is not None else []
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, app, ["send-signal", *url, *args], input=stdin, env=ENV
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


async def test_signal_from_options_is_executed_and_followed_with_wait(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, source="det") as hook:
        code, output = await send(
            hook,
            *("--asset", "BTC/USDT", "--side", "buy", "--size", "0.01", "--signal-id", "c1"),
            *("--secret-env", "WH_SECRET", "--wait", "10"),
        )
        assert code == 0, output
        assert "accepted: signal 'c1' from source 'det' is received" in output
        assert "signal 'c1' from source 'det' is executed" in output
        assert "buy 0.01 BTC/USDT market, filled, filled 0.01 at" in output
        # the outcome reaches the store with the next grouped commit, a moment after the API
        await eventually(lambda: hook.rig.signals() == {("det", "c1"): "executed"})
        assert len(hook.rig.orders_at_venue()) == 1


async def test_signal_from_stdin_and_its_duplicate(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        payload = json.dumps(signal("c2", source="cli"))
        args = ("--file", "-", "--secret-env", "WH_SECRET")
        code, output = await send(hook, *args, stdin=payload)
        assert (code, output.startswith("accepted: signal 'c2' from source 'cli'")) == (0, True)
        code, output = await send(hook, *args, stdin=payload)
        assert code == 0
        assert output.startswith("duplicate: signal 'c2'")
        assert hook.rig.duplicates() == 1


async def test_signal_id_is_generated_when_not_given(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        args = ("--asset", "BTC/USDT", "--side", "sell", "--size", "0.001")
        code, output = await send(hook, *args, "--secret-env", "WH_SECRET")
        assert code == 0, output
        ((_, signal_id),) = hook.rig.signals()
        assert len(signal_id) == 36  # a UUID


async def test_rejected_signal_exits_1_with_its_reason(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        args = ("--asset", "BTC/USDT", "--side", "buy", "--size", "1000", "--signal-id", "big")
        code, output = await send(hook, *args, "--secret-env", "WH_SECRET", "--wait", "10")
        assert code == 1, output
        assert "signal 'big' from source '' is rejected (" in output


async def test_invalid_signal_exits_1_with_the_fields_named(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        args = ("--asset", "ETH/USDT", "--side", "buy", "--size", "1")
        code, output = await send(hook, *args, "--secret-env", "WH_SECRET")
        assert code == 1
        assert "refused (HTTP 422 invalid_signal): asset: ETH/USDT is not traded" in output
        await eventually(lambda: len(hook.rig.dead_letters()) == 1)


async def test_missing_or_wrong_secret_exits_2_without_showing_it(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        args = ("--asset", "BTC/USDT", "--side", "buy", "--size", "0.01")
        code, output = await send(hook, *args)  # unsigned
        assert code == 2
        assert "refused (HTTP 401 missing_signature)" in output
        code, output = await send(hook, *args, "--secret-env", SECRET)  # the secret, not a name
        assert code == 2
        assert "--secret-env: no such environment variable" in output
        assert SECRET not in output
        assert hook.rig.signals() == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--asset", "BTC/USDT", "--side", "buy"), "missing --size (or notional)"),
        (("--asset", "BTC/USDT", "--size", "1", "--notional", "2"), "--size or --notional"),
        (("--file", "-", "--asset", "BTC/USDT"), "by --file or by options, not both"),
        (("--file", "nope.json"), "--file nope.json: cannot read it"),
        (("--url", "127.0.0.1:8080", "--file", "-"), "expected http://host:port"),
    ],
)
async def test_usage_errors_exit_2_with_a_message(args: tuple[str, ...], message: str) -> None:
    code, output = await send(None, *args, stdin="{}")
    assert code == 2
    assert message in output.replace("\n", " ")


def test_unreachable_bot_exits_2_with_a_message_and_no_traceback() -> None:
    options = ["--url", "http://127.0.0.1:9", "--asset", "BTC/USDT", "--side", "buy", "--size", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "trading_bot", "send-signal", *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot reach the bot at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
