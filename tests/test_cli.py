"""The command line as a user meets it: clear messages and exit code 2 for bad input, never a
traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLES
from trading_bot import __version__
from trading_bot.cli import app

DATA = f"BTC/USD={EXAMPLES / 'data' / 'BTC-USD_1m_2022-01-01.csv'}"
runner = CliRunner()
TEST_DATA = Path(__file__).resolve().parent / "data"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def backtest(
    *extra: str,
    config: Path = EXAMPLES / "backtest.yaml",
    signals: Path = EXAMPLES / "signals.jsonl",
) -> tuple[int, str]:
    return invoke(
        "backtest",
        "--config",
        str(config),
        "--data",
        DATA,
        "--signals",
        str(signals),
        "--no-progress",
        *extra,
    )


def test_version() -> None:
    assert invoke("--version") == (0, f"trading-bot {__version__}\n")


@pytest.mark.parametrize("name", ["backtest.yaml", "minimal.yaml"])
def test_validate_config_says_ok_for_the_examples(name: str) -> None:
    code, output = invoke("validate-config", str(EXAMPLES / name))
    assert code == 0
    assert output.startswith("OK")


def test_validate_config_lists_every_error_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "mode: backtest\n"
        "exchange: {class: simulated, params: {balances: {USDT: '${MISSING_BALANCE}'}}}\n"
        "strategy: {class: detector_driven, params: {min_confidence: 3}}\n"
        "risk: {checks: [{class: position_limits, params: {max_position_size: -5}}]}\n"
        "execution: {class: nope.Nothing}\n"
    )
    code, output = invoke("validate-config", str(path))
    assert code == 2
    assert "4 config error(s)" in output
    for fragment in (
        "exchange.params.balances.USDT: environment variable MISSING_BALANCE is not set",
        "strategy.params.min_confidence:",
        "risk.checks[0].params.max_position_size:",
        "execution.class: cannot import 'nope.Nothing'",
    ):
        assert fragment in output
    assert "Traceback" not in output


def test_backtest_writes_json_and_trades(tmp_path: Path) -> None:
    code, output = backtest("--json", str(tmp_path / "s.json"), "--trades", str(tmp_path / "t.csv"))
    assert code == 0, output
    summary = json.loads((tmp_path / "s.json").read_text())
    for key in (
        "final_balances",
        "orders",
        "fills",
        "rejected_signals",
        "total_fees",
        "realized_pnl",
        "final_equity",
        "max_drawdown",
        "sharpe",
    ):
        assert key in summary
    assert (tmp_path / "t.csv").read_text().startswith("time,timestamp_ms,signal_id")


def test_invalid_rows_are_reported_and_strict_refuses_to_run(tmp_path: Path) -> None:
    signals = tmp_path / "signals.jsonl"
    signals.write_text(
        (EXAMPLES / "signals.jsonl").read_text()
        + '{"signal_id": "oops", "asset": "BTC/USD", "side": "buy", "size": "-1", "created_at": 1641000000000}\n'
    )
    code, output = backtest("--json", str(tmp_path / "s.json"), signals=signals)
    assert code == 0
    assert "invalid signal" in output
    assert f"{signals}:45" in output
    assert json.loads((tmp_path / "s.json").read_text())["rejected_signals"]["invalid_signal"] == 1
    code, output = backtest("--strict", signals=signals)
    assert code == 2
    assert "size: Input should be greater than 0" in output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--data", "BTC/USD"], "expected SYMBOL=path.csv"),
        (["--data", "btcusd=x.csv"], "is not a unified symbol"),
        (["--data", "BTC/USD=/nope/x.csv"], "file not found"),
    ],
)
def test_bad_data_arguments_are_clear_errors(args: list[str], fragment: str) -> None:
    code, output = invoke(
        "backtest",
        "--config",
        str(EXAMPLES / "backtest.yaml"),
        "--signals",
        str(EXAMPLES / "signals.jsonl"),
        *args,
    )
    assert code == 2
    assert fragment in output


def test_bad_candle_file_names_the_line(tmp_path: Path) -> None:
    csv_path = tmp_path / "bars.csv"
    csv_path.write_text(
        "timestamp_ms,open,high,low,close,volume\n1640991660000,1,1,1,1,1\n1640991720000,x,1,1,1,1\n"
    )
    code, output = invoke(
        "backtest", "--config", str(EXAMPLES / "backtest.yaml"), "--data", f"BTC/USD={csv_path}",
        "--signals", str(EXAMPLES / "signals.jsonl"),
    )  # fmt: skip
    assert code == 2
    assert "line 3: open is 'x', expected a number" in output


def test_missing_signal_file_and_missing_config_are_clear_errors(tmp_path: Path) -> None:
    code, output = backtest(signals=tmp_path / "none.jsonl")
    assert (code, "file not found" in output) == (2, True)
    code, output = backtest(config=tmp_path / "none.yaml")
    assert (code, "file not found" in output) == (2, True)


def test_planned_modules_validate_with_a_warning_but_do_not_run(tmp_path: Path) -> None:
    config = tmp_path / "live.yaml"
    config.write_text("mode: live\nexchange: {class: futures, params: {exchange: binance}}\n")
    code, output = invoke("validate-config", str(config))
    assert code == 0
    assert output.startswith("OK") or "\nOK" in output
    assert "'futures' (FuturesVenue) is not available in this version yet" in output
    code, output = backtest(config=config)
    assert code == 2
    assert "exchange.class: 'futures' (FuturesVenue) is not available in this version yet" in output


def test_the_guides_complete_config_example_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BINANCE_API_KEY", "BINANCE_SECRET"):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    monkeypatch.setenv(
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    )
    code, output = invoke("validate-config", str(TEST_DATA / "guide_complete_config.yaml"))
    assert code == 0, output
    for shipped in (
        "CCXTVenue",
        "IcebergExecution",
        "CombinedStrategy",
        "PositionLimitCheck",
        "DrawdownProtection",
        "CorrelationLimit",
    ):
        assert shipped not in output
    assert "test-binance_api_key" not in output


def test_the_guides_example_with_a_variable_unset_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    code, output = invoke("validate-config", str(TEST_DATA / "guide_complete_config.yaml"))
    assert code == 2
    assert (
        "exchange.params.credentials.apikey: environment variable BINANCE_API_KEY is not set"
        in output
    )


def test_the_installed_command_runs_without_a_traceback_on_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: [\n")
    done = subprocess.run(
        [sys.executable, "-m", "trading_bot", "validate-config", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "invalid YAML at line" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, output = backtest("--json", str(blocker / "summary.json"))
    assert code == 2
    assert "cannot write" in output


def test_backtest_with_the_progress_bar_on(tmp_path: Path) -> None:
    code, output = invoke(
        "backtest", "--config", str(EXAMPLES / "backtest.yaml"), "--data", DATA,
        "--signals", str(EXAMPLES / "signals.jsonl"), "--json", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert code == 0, output
    assert json.loads((tmp_path / "s.json").read_text())["fills"] > 0


@pytest.mark.parametrize(
    ("data_file", "start_ms"),
    [
        ("BTCUSDT_trades_binance_2021-01-08.csv", 1610064000278),
        ("BTCUSDT_book25_binance-futures_2020-09-01.csv", 1598918403696),
        ("BTCUSDT_depth_binance-futures_2022-11-01.csv", 1667346579146),
    ],
)
def test_backtest_on_trades_and_order_book_files(
    tmp_path: Path, data_file: str, start_ms: int
) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text(
        "mode: backtest\n"
        "exchange: {class: simulated, params: {balances: {USDT: '100000', BTC: '1'},"
        " fees: {maker: '0.0002', taker: '0.0004'}}}\n"
    )
    signals = tmp_path / "signals.jsonl"
    rows = [
        {
            "signal_id": f"s{i}",
            "asset": "BTC/USDT",
            "side": side,
            "size": "0.05",
            "created_at": start_ms + 50 + i * 100,
        }
        for i, side in enumerate(["sell", "buy", "sell"])
    ]
    signals.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, output = invoke(
        "backtest", "-c", str(config), "-d", f"BTC/USDT={TEST_DATA / data_file}", "-s", str(signals),
        "--json", str(tmp_path / "s.json"), "--trades", str(tmp_path / "t.csv"), "--no-progress",
    )  # fmt: skip
    assert code == 0, output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["signals"]["executed"] >= 2
    assert summary["final_balances"] == summary["venue_balances"]
    assert summary["signals"]["executed"] + summary["signals"]["rejected"] == 3
