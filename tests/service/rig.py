"""A paper bot on a SQLite store and a simulated clock: restartable in-process, so recovery
cases can be staged exactly (the subprocess crash test covers the real thing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from tests.conftest import T0, loaded_config, make_bars
from trading_bot.engine.clock import SimulatedClock
from trading_bot.service.assembly import RunningBot
from trading_bot.service.paper_venue import assemble_paper_bot
from trading_bot.store.database import open_engine, upgrade_to_head

OPENS = ["100", "101", "102", "103", "104", "105", "106", "107", "108", "109"]


def paper_config(**overrides: Any) -> Any:
    data: dict[str, Any] = {
        "mode": "paper",
        "exchange": {
            "class": "simulated",
            "params": {
                "balances": {"USDT": "10000", "BTC": "1"},
                "fees": {"maker": "0.001", "taker": "0.001"},
            },
        },
    }
    data.update(overrides)
    return loaded_config(**data)


def store(tmp_path: Path) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade_to_head(engine)
    return engine


def start(engine: Engine, clock: SimulatedClock, **config: Any) -> RunningBot:
    """A (re)started bot: everything it knows comes from the store."""
    bars = make_bars("BTC/USDT", OPENS, start=T0)
    return assemble_paper_bot(
        paper_config(**config), engine, clock, {"BTC/USDT": bars}, schedule=None
    )


def launch_run(config: Path) -> subprocess.Popen[bytes]:
    """A real `trading-bot run` process, returned once its start-up is over (it logged that
    the paper bot runs), so a SIGTERM then stops it cleanly."""
    bot = subprocess.Popen(
        [sys.executable, "-m", "trading_bot", "run", "-c", str(config)], stderr=subprocess.PIPE
    )
    assert bot.stderr is not None
    seen = b""
    deadline = time.monotonic() + 30
    while b"bot running: mode" not in seen and time.monotonic() < deadline:
        line = bot.stderr.readline()
        if not line:
            break
        seen += line
    assert b"bot running: mode" in seen, seen.decode()
    return bot


# -- a real `trading-bot run` process killed and restarted (the crash tests) --------------------


def alternating_signal(i: int, asset: str = "BTC/USD") -> str:
    """The i-th signal of a crash test: buys and sells taking turns, sizes 0.01 to 0.05."""
    return json.dumps(
        {
            "signal_id": f"sig-{i:03d}",
            "asset": asset,
            "side": "buy" if i % 2 == 0 else "sell",
            "size": f"0.0{1 + i % 5}",
            "source": "crash-test",
            "strategy": "alternating",
        }
    )


def start_run(
    config: Path, fault: str | None = None, *, stderr: IO[bytes] | int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    """`trading-bot run` in its own process; `fault` sets TRADING_BOT_FAULT (it kills itself
    there), never inherited from the test's environment."""
    env = {k: v for k, v in os.environ.items() if k != "TRADING_BOT_FAULT"}
    if fault:
        env["TRADING_BOT_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "trading_bot", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def sigkill(process: subprocess.Popen[bytes]) -> bytes:
    """Kill with SIGKILL (unless it died already); what it wrote to a piped stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    return stderr or b""


def append_lines(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
