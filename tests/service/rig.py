"""A paper bot on a SQLite store and a simulated clock: restartable in-process, so recovery
cases can be staged exactly (the subprocess crash test covers the real thing)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tests.conftest import T0, loaded_config, make_bars
from trading_bot.engine.clock import SimulatedClock
from trading_bot.service.paper_bot import RunningBot, assemble_paper_bot
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
