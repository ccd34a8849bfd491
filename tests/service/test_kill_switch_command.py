"""`trading-bot halt|reduce|resume` from another shell, against a running `trading-bot run`
(the command travels through the store), and against a store whose bot is down."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.service.rig import launch_run
from tests.service.test_run_command import write_config

CLI = [sys.executable, "-m", "trading_bot"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def _stop(bot: subprocess.Popen[bytes]) -> str:
    bot.send_signal(signal.SIGTERM)
    _, stderr = bot.communicate(timeout=30)
    assert bot.returncode == 0, stderr.decode()
    return stderr.decode()


def _send(tmp_path: Path, signal_id: str) -> None:
    line = {"signal_id": signal_id, "asset": "BTC/USD", "side": "buy", "size": "0.001"}
    with (tmp_path / "signals.jsonl").open("a", encoding="utf-8") as signals:
        signals.write(json.dumps(line) + "\n")


def _status(tmp_path: Path, signal_id: str) -> tuple[str, str | None] | None:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        with engine.connect() as c:
            row = c.execute(
                text("SELECT status, reason FROM signals WHERE signal_id = :s"), {"s": signal_id}
            ).first()
    finally:
        engine.dispose()
    return (row.status, row.reason) if row is not None else None


def _wait_for(tmp_path: Path, signal_id: str) -> tuple[str, str | None]:
    deadline = time.monotonic() + 20
    while (status := _status(tmp_path, signal_id)) is None or status[0] == "pending":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def test_halt_and_resume_reach_the_running_bot(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bot = launch_run(config)
    try:
        halted = _cli("halt", "-c", str(config), "--reason", "desk says stop")
        assert halted.returncode == 0, halted.stderr
        assert halted.stdout.strip() == "halt applied: halted: desk says stop"
        report = _cli("report", "-c", str(config))
        assert "trading: HALTED since" in report.stdout
        assert "(command: desk says stop)" in report.stdout
        _send(tmp_path, "while-halted")
        assert _wait_for(tmp_path, "while-halted") == ("rejected", "trading_halted")
        resumed = _cli("resume", "-c", str(config))
        assert resumed.returncode == 0, resumed.stderr
        _send(tmp_path, "after-resume")
        assert _wait_for(tmp_path, "after-resume") == ("executed", None)
    finally:
        _stop(bot)
    report = json.loads(_cli("report", "-c", str(config), "--json").stdout)
    assert report["trading_state"]["state"] == "active"
    assert report["trading_state"]["trigger"] == "command"


def test_a_halt_written_while_the_bot_is_down_applies_when_it_starts(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    _stop(launch_run(config))  # the store exists now
    pending = _cli("halt", "-c", str(config), "--reason", "weekend", "--wait", "0.5")
    assert pending.returncode == 1
    assert "no running bot confirmed it" in pending.stderr
    bot = launch_run(config)
    try:
        _send(tmp_path, "s1")
        assert _wait_for(tmp_path, "s1") == ("rejected", "trading_halted")
    finally:
        _stop(bot)


def test_a_command_for_a_store_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    refused = _cli("reduce", "-c", str(write_config(tmp_path)))
    assert refused.returncode == 2
    assert "has the bot run yet?" in refused.stderr
