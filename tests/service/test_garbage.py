"""Handling a signal makes no reference cycles: what a signal leaves behind is freed by
reference counting alone, so the collector's passes (which stall the event loop) stay few and
short however many signals the bot handles."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.conftest import EXAMPLES, config_data
from trading_bot.config.loader import load_config_data
from trading_bot.engine.signal_ledger import SignalStatus
from trading_bot.service.bot_service import BotService

ROOT = Path(__file__).resolve().parents[2]
CANDLES = EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv"


def paper_bot(store: Path) -> BotService:
    data = config_data(
        mode="paper",
        exchange={
            "class": "simulated",
            "params": {"balances": {"USD": "1000000", "BTC": "10"}, "fees": {"taker": "0.001"}},
        },
        # limit orders at the last price (or the signal's), re-placed once after 50 ms, then
        # canceled: timers, cancels and re-prices on top of fills
        execution={
            "class": "limit",
            "params": {"timeout_s": "0.05", "on_timeout": "reprice", "max_reprices": 1},
        },
        risk={"checks": [{"class": "position_limits", "params": {"max_position_size": "1"}}]},
        paper={"market_data": {"BTC/USD": str(CANDLES)}, "replay_speed": 6000, "horizon_hours": 1},
        store={"url": f"sqlite:///{store}"},
        recovery={"reconcile_interval_s": 0},
        logging={"level": "WARNING"},
    )
    return BotService(load_config_data(data, source="bot.yaml", environ={}))


def signal(signal_id: str, **fields: object) -> str:
    return json.dumps({"signal_id": signal_id, "asset": "BTC/USD", "side": "buy", **fields})


async def handle_signals_with_the_collector_off(store: Path) -> dict[str, object]:
    """Run the bot, push every kind of signal through it with the collector off, and say
    what cyclic garbage they left (none expected) and how they ended."""
    service = paper_bot(store)
    await service.start()
    assert service.running is not None
    ledger = service.running.bot.kernel.ledger
    try:
        for i in range(5):  # warm up: first uses build caches that live on
            await service.send_signal(signal(f"warm-{i}", size="0.001"))
        await asyncio.sleep(0.05)
        gc.collect()
        gc.disable()
        try:
            payloads = [
                signal(f"m-{i}", size="0.001", side=("buy", "sell")[i % 2]) for i in range(40)
            ]
            payloads += [
                signal(f"l-{i}", size="0.001", order_type="limit", price="1000") for i in range(5)
            ]
            payloads += [signal("too-big", size="5"), signal("m-0", size="0.001"), "{not json"]
            for payload in payloads:
                await service.send_signal(payload)
            for _ in range(300):  # fills come at candles (every 10 ms), timeouts after 50 ms
                if not any(r.status is SignalStatus.PENDING for r in ledger.records()):
                    break
                await asyncio.sleep(0.01)
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            left = Counter(type(o).__qualname__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        return {
            "garbage": dict(left),
            "statuses": dict(Counter(r.status.value for r in ledger.records())),
            "duplicates": ledger.duplicate_count,
            "invalid": ledger.invalid_count,
        }
    finally:
        assert await service.stop() == 0


def test_signals_leave_no_reference_cycles_behind(tmp_path: Path) -> None:
    # in a fresh interpreter: what earlier tests left (engines a cache lets go of later) must
    # not count as this bot's garbage
    done = subprocess.run(
        [sys.executable, "-m", "tests.service.test_garbage", str(tmp_path / "store.sqlite")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.splitlines()[-1])
    statuses = outcome["statuses"]
    assert statuses.get("pending", 0) == 0
    assert statuses["executed"] >= 5
    assert statuses["rejected"] >= 5  # the limits far below the market
    assert outcome["duplicates"] == 1 and outcome["invalid"] == 1
    assert outcome["garbage"] == {}


async def test_the_start_up_heap_is_left_out_of_collections_while_the_bot_runs(
    tmp_path: Path,
) -> None:
    frozen_before = gc.get_freeze_count()
    service = paper_bot(tmp_path / "store.sqlite")
    await service.start()
    assert gc.get_freeze_count() > frozen_before
    assert await service.stop() == 0
    assert gc.get_freeze_count() == 0  # collected as usual once the bot is gone


if __name__ == "__main__":
    print(json.dumps(asyncio.run(handle_signals_with_the_collector_off(Path(sys.argv[1])))))
