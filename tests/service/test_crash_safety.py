"""Crash safety, end to end: a real `trading-bot run` process in paper mode, killed with
SIGKILL over and over while signals stream in, must end with every signal executed exactly
once and its books equal to the paper venue's to the last decimal.

Kills come from outside at random moments and from inside at the two windows that matter
most (TRADING_BOT_FAULT): right after an order intent is committed but before the venue has
it, and right after the venue committed a fill but before the bot recorded it.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

from tests.conftest import EXAMPLES
from tests.service.rig import alternating_signal, append_lines, sigkill, start_run

SIGNALS = 60
KILLS = 22
DEADLINE_S = 240


def _config(tmp_path: Path, store_url: str) -> Path:
    config = {
        "mode": "paper",
        "exchange": {
            "class": "simulated",
            "params": {
                "balances": {"USD": "100000", "BTC": "1"},
                "fees": {"maker": "0.0002", "taker": "0.0007"},
                "markets": {"BTC/USD": {"amount_step": "0.0001", "price_step": "1"}},
            },
        },
        "paper": {
            "market_data": {"BTC/USD": str(EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv")},
            "replay_speed": 600,  # a 1-minute candle every 100 ms: fills come quickly
        },
        "intake": {
            "sources": [
                {
                    "class": "file",
                    "params": {"path": str(tmp_path / "signals.jsonl"), "poll_interval_s": 0.05},
                }
            ]
        },
        "store": {"url": store_url},
        "recovery": {"reconcile_interval_s": 0.7, "snapshot_interval_s": 1},
        "logging": {"level": "INFO", "file": str(tmp_path / "bot.log")},
    }
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _done(url: str) -> bool:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as c:
            executed = c.execute(
                text("SELECT count(*) FROM signals WHERE status = 'executed'")
            ).scalar()
            open_orders = c.execute(
                text(
                    "SELECT count(*) FROM paper_orders WHERE status NOT IN "
                    "('filled','canceled','rejected','expired')"
                )
            ).scalar()
            return executed == SIGNALS and open_orders == 0
    except Exception:
        return False
    finally:
        engine.dispose()


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    store_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20261125)
    config = _config(tmp_path, store_url)
    signals_file = tmp_path / "signals.jsonl"
    signals_file.touch()
    pending = [alternating_signal(i) for i in range(SIGNALS)]
    sent: list[str] = []
    duplicates = 0
    faults = ["after_intent_commit:1", "after_venue_commit:1", "after_intent_commit:2",
              "after_venue_commit:3", None, None, None]  # fmt: skip
    kills = 0
    while kills < KILLS:
        fault = faults[kills % len(faults)]
        batch = [pending.pop(0) for _ in range(min(len(pending), rng.randint(1, 3)))]
        if sent and rng.random() < 0.4:
            batch.append(rng.choice(sent))  # a detector re-sending: must be a duplicate
            duplicates += 1
        if fault:
            # the signals are there at start: the process kills itself at the fault point
            append_lines(signals_file, batch)
            process = start_run(config, fault)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=6)
        else:
            process = start_run(config)
            time.sleep(rng.uniform(0.0, 1.5))  # sometimes still starting, sometimes running
            append_lines(signals_file, batch)
            time.sleep(rng.uniform(0.05, 1.0))
        sent += [line for line in batch if line not in sent]
        stderr = sigkill(process)
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")
        kills += 1
    append_lines(signals_file, pending)
    sent += pending

    process = start_run(config)
    assert process.stderr is not None
    started = b""
    while b"bot running: mode" not in started:  # past start-up: SIGTERM then stops it cleanly
        line = process.stderr.readline()
        assert line, "the final run exited during start-up"
        started += line
    deadline = time.monotonic() + DEADLINE_S
    while not _done(store_url) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    log = (started + stderr).decode(errors="replace")
    assert process.returncode == 0, log
    assert _done(store_url), log

    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        statuses = dict(
            c.execute(text("SELECT status, count(*) FROM signals GROUP BY status")).all()
        )
        assert statuses == {"executed": SIGNALS}
        venue_orders = c.execute(
            text("SELECT client_order_id, status, filled, amount FROM paper_orders")
        ).all()
        bot_orders = c.execute(text("SELECT client_order_id, signal_id, status FROM orders")).all()
        # exactly one order per signal at the venue, every one filled in full
        assert len(venue_orders) == SIGNALS
        assert all(
            o.status == "filled" and Decimal(o.filled) == Decimal(o.amount) for o in venue_orders
        )
        assert {o.client_order_id for o in venue_orders} == {o.client_order_id for o in bot_orders}
        assert len({o.signal_id for o in bot_orders}) == SIGNALS
        recorded_duplicates = c.execute(text("SELECT count(*) FROM duplicate_signals")).scalar()
        assert recorded_duplicates == duplicates
        # the bot's ledger (initial balances + its fills) equals the venue's balances exactly
        initial = json.loads(
            c.execute(text("SELECT value FROM state WHERE key = 'bot_initial_balances'")).scalar()
        )
        books = {k: Decimal(v) for k, v in initial.items()}
        for f in c.execute(text("SELECT side, amount, price, fee, fee_asset FROM fills")):
            sign = 1 if f.side == "buy" else -1
            books["BTC"] += sign * Decimal(f.amount)
            books["USD"] -= sign * Decimal(f.amount) * Decimal(f.price)
            books[f.fee_asset] -= Decimal(f.fee)
        venue = {
            r.asset: Decimal(r.total)
            for r in c.execute(text("SELECT asset, total FROM paper_balances"))
        }
        assert books == venue
        venue_fills = c.execute(text("SELECT count(*) FROM paper_fills")).scalar()
        bot_fills = c.execute(text("SELECT count(*) FROM fills")).scalar()
        assert venue_fills == bot_fills
        # the risky windows were really hit: some intent was sent by recovery, not before
        reports = [
            json.loads(r) for r in c.execute(text("SELECT report FROM recovery_runs")).scalars()
        ]
        assert any(r["resent"] for r in reports)
        assert all(r["ok"] for r in reports)
    engine.dispose()
