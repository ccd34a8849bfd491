"""Signals per second and latency through the intake transports, end to end.

    python bench/intake_throughput.py --signals 20000 --rate 1000 --seconds 10 --markdown

The paper bot runs in this process exactly as `trading-bot run` builds it (SQLite store in a
temporary directory, write-ahead journal, paper venue with durable books), with one intake
source: Redis Streams or the HMAC-signed webhook. The detector is a separate process on the
same 2 cores.

- Throughput: Redis: `--signals` entries are already in the stream when the source starts;
  webhook: `--connections` keep-alive clients post `--signals` requests as fast as the bot
  answers (each answer comes after the signal is recorded). Clock: first signal taken (Redis)
  or sent (webhook) to the last order accepted by the venue.
- Latency at a fixed rate: the detector sends `--rate` signals/s for `--seconds`, stamping
  each with its send time. Two latencies per signal: send -> order handed to the venue (signal
  parsed, validated, recorded, intent committed, order sent: the bot's own work), and send ->
  order accepted by the simulated venue (its books committed, the acceptance reported back).
  The paper venue replays 1-minute candles 6,000x faster (one every 10 ms); it acknowledges a
  market order on arrival, checked against the last close, and fills it at the next candle's
  open (no look-ahead). The first 10% are left out as warm-up.

`--repeat N` runs every row N times and reports the median of each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from trading_bot.config.loader import load_config_data
from trading_bot.domain.events import OrderAccepted, OrderSubmitted
from trading_bot.intake.http_auth import signed_headers
from trading_bot.monitoring.logging import configure_logging
from trading_bot.service.bot_service import BotService

REPO = Path(__file__).resolve().parents[1]
CANDLES = REPO / "examples" / "data" / "BTC-USD_1m_2022-01-01.csv"
REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "bench-secret-0123456789abcdef"


def signal(i: int, run: str) -> dict[str, Any]:
    return {
        "signal_id": f"{run}-{i}",
        "asset": "BTC/USD",
        "side": "buy" if i % 2 == 0 else "sell",
        "size": "0.001",
        "source": "bench",
        "metadata": {"sent_ns": time.time_ns()},
    }


def config(store: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "paper",
        "exchange": {
            "class": "simulated",
            "params": {
                "balances": {"USD": "1000000000", "BTC": "100000"},
                "fees": {"taker": "0.001"},
            },
        },
        "paper": {
            "market_data": {"BTC/USD": str(CANDLES)},
            "replay_speed": 6000,
            "horizon_hours": 1,
        },
        "store": {"url": f"sqlite:///{store}"},
        "recovery": {"reconcile_interval_s": 0, "snapshot_interval_s": 3600},
        "logging": {"level": "WARNING"},
        "intake": {"sources": [source]},
    }


# -- the detector (a separate process) -------------------------------------------------------


def redis_fill(stream: str, count: int, run: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(stream, {"data": json.dumps(signal(i, run))})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def redis_paced(stream: str, rate: float, seconds: float, run: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        while (wait := due - time.perf_counter()) > 0:
            time.sleep(min(wait, 0.001))
        client.xadd(stream, {"data": json.dumps(signal(i, run))})


def webhook_load(port: int, count: int, connections: int, rate: float | None, run: str) -> None:
    asyncio.run(_webhook_load(port, count, connections, rate, run))


async def _webhook_load(
    port: int, count: int, connections: int, rate: float | None, run: str
) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    start = time.perf_counter()

    async def feed() -> None:
        for i in range(count):
            if rate is not None:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            queue.put_nowait(i)
        for _ in range(connections):
            queue.put_nowait(-1)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (i := await queue.get()) >= 0:
            body = json.dumps(signal(i, run)).encode()
            headers = signed_headers(SECRET, body)
            head = (
                f"POST /signals HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nX-Timestamp: {headers['X-Timestamp']}\r\n"
                f"X-Signature: {headers['X-Signature']}\r\n\r\n"
            )
            writer.write(head.encode() + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 202"):
                raise SystemExit(f"unexpected answer {status!r}")
        writer.close()

    await asyncio.gather(feed(), *(client() for _ in range(connections)))


# -- the bot -------------------------------------------------------------------------------


async def measure(source: dict[str, Any], expected: int, start_detector: Any) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_config_data(config(f"{tmp}/bench.sqlite", source), source="bench", environ={})
        configure_logging(loaded.config.logging)  # as `trading-bot run` does: WARNING and up
        service = BotService(loaded)
        await service.start()
        assert service.running is not None
        latencies: list[float] = []  # sent -> order accepted by the venue
        to_venue: list[float] = []  # sent -> order handed to the venue (intent committed)
        kernel = service.running.bot.kernel
        first: list[float] = []

        def since_sent(event: OrderSubmitted | OrderAccepted, into: list[float]) -> None:
            now = time.time_ns()
            record = kernel.ledger.get((event.order.source, event.order.signal_id))
            if record is not None and record.signal is not None:
                into.append((now - int(record.signal.metadata["sent_ns"])) / 1e6)

        kernel.bus.subscribe(OrderSubmitted, lambda event: since_sent(event, to_venue))
        kernel.bus.subscribe(OrderAccepted, lambda event: since_sent(event, latencies))
        detector = start_detector()
        started = time.perf_counter()
        while len(latencies) < expected:
            await asyncio.sleep(0.01)
            if not first and kernel.ledger.records():
                first.append(time.perf_counter())
            if time.perf_counter() - started > 600:
                raise SystemExit(f"only {len(latencies)} of {expected} orders accepted")
        elapsed = time.perf_counter() - (first[0] if first else started)
        detector.join()
        await service.stop()
    kept = sorted(latencies[len(latencies) // 10 :])
    sent = sorted(to_venue[len(to_venue) // 10 :])
    return {
        "signals": expected,
        "seconds": elapsed,
        "per_s": expected / elapsed,
        "p50": statistics.median(kept),
        "p99": kept[int(len(kept) * 0.99) - 1],
        "venue_p50": statistics.median(sent),
        "venue_p99": sent[int(len(sent) * 0.99) - 1],
    }


def process(target: Any, *args: Any) -> multiprocessing.Process:
    proc = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    proc.start()
    return proc


def redis_source(stream: str) -> dict[str, Any]:
    return {"class": "redis", "params": {"url": REDIS_URL, "stream": stream, "batch": 500}}


def webhook_source(port: int) -> dict[str, Any]:
    return {"class": "webhook", "params": {"port": port, "hmac_secret": SECRET}}


async def bench_redis_throughput(count: int) -> dict[str, float]:
    stream = f"bench-{time.time_ns()}"
    redis_fill(stream, count, stream)
    try:
        return await measure(redis_source(stream), count, lambda: process(time.sleep, 0))
    finally:
        redis.Redis.from_url(REDIS_URL).delete(stream)


async def bench_redis_latency(rate: float, seconds: float) -> dict[str, float]:
    stream = f"bench-{time.time_ns()}"
    try:
        return await measure(
            redis_source(stream),
            int(rate * seconds),
            lambda: process(redis_paced, stream, rate, seconds, stream),
        )
    finally:
        redis.Redis.from_url(REDIS_URL).delete(stream)


async def bench_webhook(count: int, connections: int, rate: float | None) -> dict[str, float]:
    port = free_port()
    run = f"w{time.time_ns()}"
    return await measure(
        webhook_source(port),
        count,
        lambda: process(webhook_load, port, count, connections, rate, run),
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row (median reported)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    paced = f"{args.rate:,.0f}/s for {args.seconds:g} s"
    fast = f"as fast as possible, {args.connections} connections"
    rows = [
        ("Redis Streams", "as fast as possible", lambda: bench_redis_throughput(args.signals)),
        ("webhook (HMAC)", fast, lambda: bench_webhook(args.signals, args.connections, None)),
        ("Redis Streams", paced, lambda: bench_redis_latency(args.rate, args.seconds)),
        (
            "webhook (HMAC)",
            paced,
            lambda: bench_webhook(int(args.rate * args.seconds), args.connections, args.rate),
        ),
    ]
    if args.markdown:
        print(
            "| transport | load | signals | signals/s | to venue p50 ms | to venue p99 ms "
            "| accepted p50 ms | accepted p99 ms |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
    for transport, load, run in rows:
        runs = [asyncio.run(run()) for _ in range(args.repeat)]
        r = {key: statistics.median(one[key] for one in runs) for key in runs[0]}
        if args.markdown:
            print(
                f"| {transport} | {load} | {r['signals']:,.0f} | {r['per_s']:,.0f} | "
                f"{r['venue_p50']:.1f} | {r['venue_p99']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} |"
            )
        else:
            print(transport, load, {k: round(v, 2) for k, v in r.items()})


if __name__ == "__main__":
    main()
