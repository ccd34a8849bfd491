"""Cost per signal with persistence on: the paper bot (write-ahead journal + durable paper
venue books) on SQLite and PostgreSQL.

    python bench/persistence_throughput.py --signals 5000 --batch 100 --markdown

Signals are handed to the kernel `--batch` at a time per event-loop turn, as the file intake
does with what a detector appended; every order is a market order that fills at the next
replayed price (10 ms candles). The clock starts when the first signal goes in and stops when
the last one is executed and its fill committed, so the figure covers the whole path: signal
recorded, intent committed, order sent, venue books committed, fill and outcome committed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from trading_bot.config.loader import load_config_data
from trading_bot.domain.signal import Signal
from trading_bot.engine.clock import LiveClock
from trading_bot.market_data.loader import load_market_data
from trading_bot.service.paper_venue import assemble_paper_bot
from trading_bot.store.database import open_engine, upgrade_to_head

REPO = Path(__file__).resolve().parents[1]
CANDLES = REPO / "examples" / "data" / "BTC-USD_1m_2022-01-01.csv"
PG_ADMIN = "postgresql://localhost/postgres"


def config(url: str) -> dict:  # type: ignore[type-arg]
    return {
        "mode": "paper",
        "exchange": {
            "class": "simulated",
            "params": {
                "balances": {"USD": "100000000", "BTC": "1000"},
                "fees": {"taker": "0.001"},
            },
        },
        "paper": {
            "market_data": {"BTC/USD": str(CANDLES)},
            "replay_speed": 6000,
            "horizon_hours": 1,
        },
        "store": {"url": url},
    }


async def run_once(url: str, signals: int, batch: int) -> float:
    loaded = load_config_data(config(url), source="bench", environ={})
    engine = open_engine(url)
    upgrade_to_head(engine)
    loop = asyncio.get_running_loop()
    data = {"BTC/USD": load_market_data(CANDLES, "BTC/USD")}
    running = assemble_paper_bot(loaded, engine, LiveClock(loop), data, schedule=loop.call_soon)  # type: ignore[arg-type]
    kernel = running.bot.kernel
    items = [
        Signal.model_validate(
            {
                "signal_id": f"b{i}",
                "asset": "BTC/USD",
                "side": "buy" if i % 2 else "sell",
                "size": "0.01",
                "source": "bench",
            }
        )
        for i in range(signals)
    ]
    start = time.perf_counter()
    for offset in range(0, signals, batch):
        for signal in items[offset : offset + batch]:
            kernel.submit_signal(signal)
        running.journal.flush()
        await asyncio.sleep(0)
    while kernel.ledger.status_counts().get("executed", 0) < signals:
        await asyncio.sleep(0.001)
    running.journal.flush()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def postgres_url() -> tuple[str, str]:
    name = f"tb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://localhost/{name}", name


def drop_postgres(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = []
    for backend in ("sqlite", "postgresql"):
        times = []
        for _ in range(args.repeat):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    times.append(
                        asyncio.run(run_once(f"sqlite:///{tmp}/b.sqlite", args.signals, args.batch))
                    )
            else:
                url, name = postgres_url()
                try:
                    times.append(asyncio.run(run_once(url, args.signals, args.batch)))
                finally:
                    drop_postgres(name)
        median = statistics.median(times)
        rows.append(
            (backend, args.signals, median, args.signals / median, median / args.signals * 1e6)
        )
    if args.markdown:
        print("| store | signals | wall (s) | signals/s | µs per signal |")
        print("|---|---:|---:|---:|---:|")
        for backend, n, wall, rate, per in rows:
            print(f"| {backend} | {n:,} | {wall:.2f} | {rate:,.0f} | {per:,.0f} |")
    else:
        for row in rows:
            print(row)


if __name__ == "__main__":
    main()
