"""examples/full.yaml: every module at once, run as the README says, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES
from trading_bot.config.loader import load_config
from trading_bot.risk.base import RiskCheck

FULL = EXAMPLES / "full.yaml"
DATA = EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv"
SIGNALS = EXAMPLES / "signals.jsonl"
# every risk check the bot ships, by its built-in name
SHIPPED_CHECKS = {
    "position_limits",
    "price_band",
    "exposure",
    "drawdown",
    "correlation",
    "loss_cooldown",
    "order_rate",
}


def test_the_full_example_uses_the_combined_strategy_and_every_risk_check() -> None:
    loaded = load_config(FULL)
    config = loaded.config
    assert config.strategy.class_path == "combined"
    assert {check.class_path for check in config.risk.checks} == SHIPPED_CHECKS
    checks = [module.build() for module in loaded.risk_checks]
    assert len(checks) == len(SHIPPED_CHECKS)
    assert all(isinstance(check, RiskCheck) for check in checks)
    assert [reason.value for reason in config.risk.halt_on] == ["drawdown_limit"]


def test_the_full_example_runs_as_a_backtest_from_the_readme(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    command = [
        sys.executable, "-m", "trading_bot", "backtest",
        "-c", str(FULL), "-d", f"BTC/USD={DATA}", "-s", str(SIGNALS),
        "--json", str(summary_path), "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Backtest summary" in done.stdout
    assert "UNPROTECTED" not in done.stderr  # the legs canceled at the end are no alarm
    summary = json.loads(summary_path.read_text())
    assert summary["signals"] == {"total": 44, "executed": 30, "rejected": 14}
    # the combined strategy's own confirmation turns most away; after losing brackets the
    # loss cooldown acts too
    assert summary["rejected_signals"] == {
        "duplicate": 1,
        "loss_cooldown": 1,
        "low_confidence": 1,
        "not_confirmed": 9,
        "nothing_to_do": 1,
        "unknown_asset": 1,
    }
    # entries with their take-profit/stop-loss pairs, plus sells that only close a
    # protected position (no legs of their own: they cancel the position's)
    assert (summary["orders"], summary["fills"]) == (88, 45)
    assert summary["positions"]["BTC/USD"]["quantity"] == "0"  # every bracket closed
    assert summary["final_balances"]["BTC"] == "0.5"
