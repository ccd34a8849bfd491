"""Inputs a demanding user gave that once produced a traceback or a silently wrong answer."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import (
    EXAMPLES,
    MINUTE,
    T0,
    build_test_bot,
    loaded_config,
    make_bars,
    make_signal,
)
from tests.orders.test_manager import fill, new_order
from trading_bot.backtest.runner import run_backtest
from trading_bot.backtest.summary import build_summary
from trading_bot.cli import app
from trading_bot.domain.ids import client_order_id
from trading_bot.domain.order_status import OrderStatus
from trading_bot.intake.signal_file import RecordedSignal, read_signal_file
from trading_bot.market_data.candle_csv import load_candles_csv
from trading_bot.market_data.errors import DataFileError

D = Decimal
DATA = f"BTC/USD={EXAMPLES / 'data' / 'BTC-USD_1m_2022-01-01.csv'}"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_unwritable_log_file_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text(
        (EXAMPLES / "minimal.yaml").read_text() + "logging: {file: /proc/nope/x.log}\n"
    )
    code, output = run_cli(
        "backtest",
        "-c",
        str(config),
        "-d",
        DATA,
        "-s",
        str(EXAMPLES / "signals.jsonl"),
        "--no-progress",
    )
    assert code == 2
    assert "logging.file: cannot open" in output


@pytest.mark.parametrize("ts", ["99999999999999999999", "1640991660000000"])
def test_timestamps_in_micro_or_nanoseconds_are_refused(tmp_path: Path, ts: str) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(f"timestamp_ms,open,high,low,close,volume\n{ts},1,1,1,1,1\n")
    with pytest.raises(DataFileError, match="after the year 2100"):
        load_candles_csv(path, "BTC/USDT")


def test_broken_csv_signal_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "signals.csv"
    path.write_text(
        'signal_id,asset,side,size,created_at\na,BTC/USDT,buy,"' + "x" * 200_000 + '",1\n'
    )
    with pytest.raises(DataFileError, match=r"line .*unreadable CSV"):
        list(read_signal_file(path))


def test_strict_refuses_a_signal_without_created_at(tmp_path: Path) -> None:
    signals = tmp_path / "s.jsonl"
    signals.write_text('{"signal_id": "a", "asset": "BTC/USD", "side": "buy", "size": "0.1"}\n')
    code, output = run_cli(
        "backtest",
        "-c",
        str(EXAMPLES / "backtest.yaml"),
        "-d",
        DATA,
        "-s",
        str(signals),
        "--strict",
    )
    assert code == 2
    assert f"{signals}:1: created_at: required" in output


def test_client_order_ids_cannot_collide_through_the_separator() -> None:
    assert client_order_id("a\x1fb", "c") != client_order_id("a", "b\x1fc")
    assert client_order_id("ab", "c") != client_order_id("a", "bc")


def test_every_signal_ends_executed_or_rejected() -> None:
    bars = make_bars("BTC/USDT", ["100"] * 5)
    signals = [
        RecordedSignal(make_signal(signal_id="c", source="a\x1fb", created_at=T0 + i), i)
        for i in range(1)
    ] + [RecordedSignal(make_signal(signal_id="b\x1fc", source="a", created_at=T0 + 1), 1)]
    summary = build_summary(run_backtest(loaded_config(), [bars], signals))
    assert (
        summary["signals"]["executed"] + summary["signals"]["rejected"]
        == summary["signals"]["total"]
        == 2
    )


def test_a_market_quoted_in_an_unpriced_currency_does_not_fake_drawdown() -> None:
    usd = make_bars("BTC/USD", ["100"] * 6)
    eur = make_bars("BTC/EUR", ["90", "95", "100", "50", "60", "100"])
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USD": "1000", "EUR": "1000"}, "fees": {"taker": "0.001"}},
        },
        backtest={"valuation_currency": "USD"},
    )
    signals = [RecordedSignal(make_signal(asset="BTC/EUR", size="5", created_at=T0), 0)]
    summary = build_summary(run_backtest(loaded, [usd, eur], signals))
    assert summary["max_drawdown"] == 0.0
    assert "EUR" in summary["unpriced_assets"]
    assert summary["fees_by_asset"] == {"EUR": "0.45"}


def test_big_balances_stay_exact_past_28_digits() -> None:
    bars = make_bars("SHIB/USDT", ["0.000012345678"] * 3)
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "1000000000.123456789"}, "fees": {"taker": "0.001"}},
        }
    )
    bot = build_test_bot(loaded, bars)
    bot.kernel.submit_signal(make_signal(asset="SHIB/USDT", size="123456789.12345678"))
    bot.clock.advance_to(T0 + 5 * MINUTE)
    cost = D("123456789.12345678") * D("0.000012345678")
    assert bot.portfolio.balance("USDT") == D("1000000000.123456789") - cost - cost * D("0.001")
    assert bot.venue.balances()["USDT"] == bot.portfolio.balance("USDT")


def test_the_same_trade_id_on_two_orders_is_two_fills() -> None:
    bot = build_test_bot(loaded_config(), make_bars("BTC/USDT", ["100"] * 3))
    for coid in ("a", "b"):
        bot.orders.submit(new_order(coid))
    bot.orders.order_filled(fill("t1", "1", coid="a"))
    bot.orders.order_filled(fill("t1", "1", coid="b"))
    assert bot.portfolio.balance("BTC") == D(2)


def test_a_fill_after_the_cancel_was_confirmed_is_applied_and_flagged() -> None:
    bot = build_test_bot(loaded_config(), make_bars("BTC/USDT", ["100"] * 3))
    order = new_order("a")
    bot.orders.submit(order)
    bot.orders.order_accepted("a", "1")
    bot.orders.order_canceled("a", "canceled")
    bot.orders.order_filled(fill("late", "1", coid="a"))
    assert order.status is OrderStatus.CANCELED
    assert bot.portfolio.balance("BTC") == D(1)
    assert "after order a was canceled" in bot.orders.anomalies[-1]


def test_market_rules_for_a_symbol_without_data_are_warned_about(tmp_path: Path) -> None:
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "10"}, "markets": {"ETH/USDT": {"min_notional": "5"}}},
        }
    )
    summary = build_summary(run_backtest(loaded, [make_bars("BTC/USDT", ["1", "2"])], []))
    assert any("markets.ETH/USDT has no market data" in w for w in summary["warnings"])


def test_jsonl_lines_split_only_on_newlines(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    signal = {
        "signal_id": "a",
        "asset": "BTC/USDT",
        "side": "buy",
        "size": "1",
        "created_at": T0,
        "metadata": {"note": "x\u2028y"},
    }
    path.write_text(json.dumps(signal, ensure_ascii=False) + "\n", encoding="utf-8")
    (item,) = list(read_signal_file(path))
    assert isinstance(item, RecordedSignal)


def test_a_signal_long_before_the_data_is_not_filled_on_its_first_bar() -> None:
    bars = make_bars("BTC/USDT", ["100", "101"])
    signals = [RecordedSignal(make_signal(created_at=T0 - 11 * 86_400_000), 0)]
    summary = build_summary(run_backtest(loaded_config(), [bars], signals))
    assert summary["rejected_signals"] == {"no_market_data": 1}


def test_iso_dates_outside_2000_to_2100_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="before the year 2000"):
        make_signal(created_at="0001-01-01T00:00:00Z")


def test_symbols_with_a_settle_suffix_are_valued_in_their_quote() -> None:
    bars = make_bars("BTC/USDT:USDT", ["100", "110"])
    signals = [RecordedSignal(make_signal(asset="BTC/USDT:USDT", size="1", created_at=T0), 0)]
    summary = build_summary(run_backtest(loaded_config(), [bars], signals))
    assert summary["unpriced_assets"] == []
    assert summary["final_equity"] == str(D("10000") - D("100.1") + D("110"))


def test_an_unreadable_env_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"KEY=\xff\xfe\n")
    config = tmp_path / "bot.yaml"
    config.write_text((EXAMPLES / "minimal.yaml").read_text())
    code, output = run_cli("validate-config", str(config))
    assert code == 2
    assert "cannot read the .env file" in output


def test_a_signal_at_the_millisecond_of_a_trade_is_sized_before_it() -> None:
    from tests.venues.simulated.test_trade_matching import synthetic

    trades = synthetic(["100", "200", "300"], step_ms=10)

    signals = [RecordedSignal(make_signal(size=None, notional="200", created_at=T0 + 10), 0)]
    summary = build_summary(run_backtest(loaded_config(), [trades], signals))
    # sized at the last trade before it (100): 2 units, filled at the trade at its time (200)
    assert summary["positions"]["BTC/USDT"]["quantity"] == "2"


def test_the_earlier_of_ttl_and_expires_at_wins() -> None:
    signal = make_signal(ttl_s="10", expires_at=T0 + 60_000)
    assert signal.expiry_ms == T0 + 10_000


def test_valuation_currency_must_be_a_quote_of_the_data() -> None:
    from trading_bot.backtest.runner import BacktestSetupError

    loaded = loaded_config(backtest={"valuation_currency": "xyz"})
    with pytest.raises(BacktestSetupError, match="no market in the data is quoted in XYZ"):
        run_backtest(loaded, [make_bars("BTC/USDT", ["1", "2"])], [])
    with pytest.raises(Exception, match="asset code"):
        loaded_config(backtest={"valuation_currency": "USDT/BTC"})


def test_balances_named_twice_in_different_case_are_refused() -> None:
    with pytest.raises(Exception, match="USDT is given twice"):
        loaded_config(
            exchange={"class": "simulated", "params": {"balances": {"USDT": "1", "usdt": "5"}}}
        )


def test_volume_starved_orders_end_unfilled_not_no_market_data() -> None:
    bars = make_bars("BTC/USDT", ["100", "100", "100"])  # volume 100 per bar
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "100000"}, "fills": {"max_volume_share": "0.01"}},
        }
    )
    signals = [RecordedSignal(make_signal(size="5", created_at=T0), 0)]
    summary = build_summary(run_backtest(loaded, [bars], signals))
    assert summary["fills"] == 3  # 1 per bar
    assert summary["signals"]["executed"] == 1
    bigger = [RecordedSignal(make_signal(signal_id="b", size="1", created_at=T0), 0)]
    crowded = [RecordedSignal(make_signal(signal_id="a", size="5", created_at=T0), 0), *bigger]
    summary = build_summary(run_backtest(loaded, [bars], crowded))
    assert summary["rejected_signals"] == {"unfilled": 1}


def test_several_signal_files_are_merged(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.csv"
    a.write_text(
        '{"signal_id": "a1", "asset": "BTC/USD", "side": "buy", "size": "0.1", "created_at": 1641000000000}\n'
    )
    b.write_text("signal_id,asset,side,size,created_at\nb1,BTC/USD,sell,0.1,1641003600000\n")
    out = tmp_path / "s.json"
    code, output = run_cli(
        "backtest", "-c", str(EXAMPLES / "backtest.yaml"), "-d", DATA, "-s", str(a), "-s", str(b),
        "--json", str(out), "--no-progress",
    )  # fmt: skip
    assert code == 0, output
    assert json.loads(out.read_text())["signals"] == {"total": 2, "executed": 2, "rejected": 0}


def test_json_and_trades_cannot_share_a_file(tmp_path: Path) -> None:
    same = str(tmp_path / "out")
    code, output = run_cli(
        "backtest", "-c", str(EXAMPLES / "backtest.yaml"), "-d", DATA, "-s", str(EXAMPLES / "signals.jsonl"),
        "--json", same, "--trades", same,
    )  # fmt: skip
    assert code == 2
    assert "both name" in output


def test_odd_inputs_that_used_to_pass_silently(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="same asset"):
        make_signal(asset="USDT/USDT")
    dup = tmp_path / "dup.csv"
    dup.write_text("signal_id,asset,side,size,size,created_at\na,BTC/USD,buy,1,2,1641000000000\n")
    with pytest.raises(DataFileError, match="column size appears more than once"):
        list(read_signal_file(dup))
    bars = tmp_path / "bars.csv"
    bars.write_text(
        "timestamp_ms,open,high,low,close,volume\n1640991660000,1_000,1000,1000,1000,1\n"
    )
    with pytest.raises(DataFileError, match="open is '1_000', expected a number"):
        load_candles_csv(bars, "BTC/USDT")
    arabic = tmp_path / "arabic.csv"
    arabic.write_text(
        "timestamp_ms,open,high,low,close,volume\n1640991660000,\u0661,1,1,1,1\n", encoding="utf-8"
    )
    with pytest.raises(DataFileError, match="expected a number"):
        load_candles_csv(arabic, "BTC/USDT")
