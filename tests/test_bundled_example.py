"""The README's bundled backtest, checked against an independent hand calculation.

The expected balances are recomputed here from the raw CSV and JSONL with plain Decimal
arithmetic and the rules written in the README (fill at the next bar's open, taker fee in
quote, amount step, position limit), without any of the bot's code.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import yaml

from tests.conftest import EXAMPLES

DATA = EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv"
SIGNALS = EXAMPLES / "signals.jsonl"
CONFIG = EXAMPLES / "backtest.yaml"


def run_readme_backtest(tmp_path: Path) -> dict:
    summary = tmp_path / "summary.json"
    trades = tmp_path / "trades.csv"
    command = [
        sys.executable, "-m", "trading_bot", "backtest",
        "--config", str(CONFIG), "--data", f"BTC/USD={DATA}", "--signals", str(SIGNALS),
        "--json", str(summary), "--trades", str(trades), "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Backtest summary" in done.stdout
    result = json.loads(summary.read_text())
    with trades.open() as handle:
        result["_trades"] = list(csv.DictReader(handle))
    return result


def hand_calculation() -> dict:
    config = yaml.safe_load(CONFIG.read_text())
    params = config["exchange"]["params"]
    rules = params["markets"]["BTC/USD"]
    taker = Decimal(params["fees"]["taker"])
    step = Decimal(rules["amount_step"])
    min_notional = Decimal(rules["min_notional"])
    min_confidence = Decimal(str(config["strategy"]["params"]["min_confidence"]))
    limit = Decimal(config["risk"]["checks"][0]["params"]["max_position_size"])
    balances = {asset: Decimal(v) for asset, v in params["balances"].items()}

    with DATA.open() as handle:
        bars = [
            (int(r["timestamp_ms"]), Decimal(r["open"]), Decimal(r["close"]))
            for r in csv.DictReader(handle)
        ]
    signals = [json.loads(line) for line in SIGNALS.read_text().splitlines() if line.strip()]
    signals.sort(key=lambda s: s["created_at"])  # stable: file order breaks ties

    seen: set[tuple[str, str]] = set()
    rejected: Counter[str] = Counter()
    position = Decimal(0)
    fees = Decimal(0)
    fills = 0
    last_fill_time = 0
    for s in signals:
        t = s["created_at"]
        assert t > last_fill_time, "the example keeps signals apart so no order is in flight"
        key = (s.get("source", ""), s["signal_id"])
        if key in seen:
            rejected["duplicate"] += 1
            continue
        seen.add(key)
        if Decimal(str(s.get("confidence", "1"))) < min_confidence:
            rejected["low_confidence"] += 1
            continue
        if s["asset"] != "BTC/USD":
            rejected["unknown_asset"] += 1
            continue
        closed = [close for ts, _, close in bars if ts + 60_000 <= t]
        reference = closed[-1] if closed else None
        if "target_position" in s:
            delta = Decimal(s["target_position"]) - position
            side, amount = ("buy" if delta > 0 else "sell"), abs(delta)
        elif "notional" in s:
            side, amount = s["side"], Decimal(s["notional"]) / reference
        else:
            side, amount = s["side"], Decimal(s["size"])
        signed = amount if side == "buy" else -amount
        reduces = (position > 0 > signed or position < 0 < signed) and amount <= abs(position)
        if not reduces and abs(position + signed) > limit:
            same_way = (position >= 0) == (side == "buy")
            room = limit - abs(position) if same_way else limit + abs(position)
            if room <= 0:
                rejected["position_limit"] += 1
                continue
            amount = room
        amount = (amount / step).to_integral_value(rounding=ROUND_FLOOR) * step
        if reference is not None and amount * reference < min_notional:
            rejected["below_min_notional"] += 1
            continue
        fill_bar = next(((ts, o) for ts, o, _ in bars if ts >= t), None)
        if fill_bar is None:
            rejected["no_market_data"] += 1
            continue
        ts, price = fill_bar
        notional = amount * price
        fee = notional * taker
        if side == "buy":
            if notional + fee > balances["USD"]:
                rejected["insufficient_balance"] += 1
                continue
            balances["BTC"] += amount
            balances["USD"] -= notional + fee
            position += amount
        else:
            if amount > balances["BTC"]:
                rejected["insufficient_balance"] += 1
                continue
            balances["BTC"] -= amount
            balances["USD"] += notional - fee
            position -= amount
        fees += fee
        fills += 1
        last_fill_time = ts
    return {"balances": balances, "rejected": rejected, "fees": fees, "fills": fills}


def test_bundled_backtest_matches_a_hand_calculation_to_the_last_decimal(tmp_path: Path) -> None:
    result = run_readme_backtest(tmp_path)
    expected = hand_calculation()
    assert {k: Decimal(v) for k, v in result["final_balances"].items()} == expected["balances"]
    assert result["final_balances"] == result["venue_balances"]
    assert Decimal(result["total_fees"]) == expected["fees"]
    assert result["fills"] == expected["fills"] == len(result["_trades"])
    assert result["rejected_signals"] == dict(expected["rejected"])
    total = result["signals"]["total"]
    assert total == len(SIGNALS.read_text().splitlines())
    assert result["signals"]["executed"] + result["signals"]["rejected"] == total


def test_bundled_example_exercises_the_interesting_paths(tmp_path: Path) -> None:
    result = run_readme_backtest(tmp_path)
    assert {
        "duplicate",
        "low_confidence",
        "unknown_asset",
        "no_market_data",
        "position_limit",
    } <= set(result["rejected_signals"])
    trade = result["_trades"][0]
    assert trade["client_order_id"].startswith("tb-")
    assert trade["fee_asset"] == "USD"
    assert Decimal(trade["fee"]) == Decimal(trade["notional"]) * Decimal("0.0007")
