"""`trading-bot run` and `report` from the command line: user errors are messages with exit 2,
a start the books cannot support is refused with exit 3, the report reads the store."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tests.conftest import EXAMPLES
from tests.service.rig import launch_run
from trading_bot.cli import app

runner = CliRunner()


def write_config(tmp_path: Path, **overrides: object) -> Path:
    config: dict[str, object] = {
        "mode": "paper",
        "exchange": {"class": "simulated", "params": {"balances": {"USD": "1000", "BTC": "1"}}},
        "paper": {
            "market_data": {"BTC/USD": str(EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv")},
            "replay_speed": 600,
        },
        "intake": {
            "sources": [
                {
                    "class": "file",
                    "params": {"path": str(tmp_path / "signals.jsonl"), "poll_interval_s": 0.05},
                }
            ]
        },
        "store": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    config.update(overrides)
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_run_refuses_a_backtest_config(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "-c", str(write_config(tmp_path, mode="backtest"))])
    assert result.exit_code == 2
    assert "`run` runs mode: paper or live" in result.output


def test_run_names_a_missing_market_data_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, paper={"market_data": {"BTC/USD": "nope.csv"}})
    result = runner.invoke(app, ["run", "-c", str(config)])
    assert result.exit_code == 2
    assert "paper.market_data.BTC/USD: nope.csv: file not found" in result.output


def test_a_venue_that_does_not_answer_at_start_exits_3_not_as_a_config_error(
    tmp_path: Path,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"127.0.0.1:{sock.getsockname()[1]}"
    venue = {
        "exchange": "binance",
        "api_url": f"http://{url}",
        "ws_url": f"ws://{url}",
        "credentials": {"api_key": "key", "secret": "secret"},
        "retry": {"attempts": 1},
    }
    config = write_config(tmp_path, exchange={"class": "ccxt", "params": venue})
    result = runner.invoke(app, ["run", "-c", str(config)])
    assert result.exit_code == 3, result.output
    assert f"cannot start on binance at http://{url}" in result.output
    live = {"exchange": "binance", "symbols": ["BTC/USDT"], "api_url": f"http://{url}"}
    dry_run = write_config(tmp_path, paper={"live_data": live})
    result = runner.invoke(app, ["run", "-c", str(dry_run)])
    assert result.exit_code == 3, result.output
    assert "paper.live_data: cannot load binance's markets" in result.output


def test_run_never_shows_the_store_password(tmp_path: Path) -> None:
    config = write_config(tmp_path, store={"url": "postgresql://bot:hunter2@127.0.0.1:1/db"})
    result = runner.invoke(app, ["run", "-c", str(config)])
    assert result.exit_code == 2
    assert "hunter2" not in result.output
    assert "***" in result.output


def test_unknown_key_in_a_new_section_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, recovery={"reconcile_every": 5})
    result = runner.invoke(app, ["run", "-c", str(config)])
    assert result.exit_code == 2
    assert "recovery.reconcile_every" in result.output


def test_paper_run_executes_signals_and_report_shows_agreeing_books(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    signals = tmp_path / "signals.jsonl"
    signals.write_text(
        "\n".join(
            json.dumps(
                {
                    "signal_id": f"r{i}",
                    "asset": "BTC/USD",
                    "side": "buy",
                    "size": "0.001",
                    "source": "t",
                    "strategy": "s",
                    "price": "46000",
                }
            )
            for i in range(3)
        )
        + "\nnot json\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_bot", "run", "-c", str(config)],
        stderr=subprocess.PIPE,
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    deadline = time.monotonic() + 30
    executed = 0
    while time.monotonic() < deadline and executed < 3:
        time.sleep(0.3)
        try:
            with engine.connect() as c:
                executed = c.execute(
                    text("SELECT count(*) FROM signals WHERE status = 'executed'")
                ).scalar()
        except Exception:
            executed = 0
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert b"recovery: ok" in stderr

    result = runner.invoke(app, ["report", "-c", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["signals"]["by_status"] == {"executed": 3}
    assert report["signals"]["invalid"] == 1
    assert report["books"]["agree"] is True
    (row,) = report["attribution"]
    assert (row["strategy"], row["source"], row["fill_ratio"]) == ("s", "t", "1.0000")
    assert row["slippage_bps"] is not None

    # the venue loses an order the bot knows: the next start is refused, with the reason
    with engine.begin() as c:
        c.execute(text("UPDATE paper_balances SET total = '5' WHERE asset = 'BTC'"))
    refused = subprocess.run(
        [sys.executable, "-m", "trading_bot", "run", "-c", str(config)],
        capture_output=True,
        timeout=60,
    )
    assert refused.returncode == 3
    assert b"UNEXPLAINED balance difference BTC" in refused.stderr


def test_sigterm_during_start_up_stops_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_bot", "run", "-c", str(config)],
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    seen = b""
    while b"restored" not in seen:  # start-up is under way: the store is open, the bot built
        line = process.stderr.readline()
        assert line, "the bot exited during start-up"
        seen += line
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode in (0, 130), (seen + stderr).decode()
    assert b"Traceback" not in seen + stderr


def test_sigterm_while_the_command_is_still_loading_stops_with_a_message(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_bot", "run", "-c", str(config)],
        stderr=subprocess.PIPE,
    )
    time.sleep(0.3)  # the interpreter is up, the command line's imports are still running
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr.decode()
    assert b"stopped while starting" in stderr or b"stopped during start-up" in stderr
    assert b"Traceback" not in stderr


def test_a_second_bot_on_the_same_store_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = launch_run(config)
    try:
        second = subprocess.run(  # a bot that wrongly starts is killed at the timeout
            [sys.executable, "-m", "trading_bot", "run", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert second.returncode == 2
        assert "another trading-bot is already running on the store" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
    again = subprocess.Popen(  # the first one's lock went with it
        [sys.executable, "-m", "trading_bot", "run", "-c", str(config)], stderr=subprocess.PIPE
    )
    time.sleep(0.5)
    again.send_signal(signal.SIGTERM)
    _, stderr = again.communicate(timeout=30)
    assert b"already running" not in stderr
