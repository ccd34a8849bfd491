from decimal import Decimal

import pytest

from tests.conftest import MINUTE, T0, config_data, loaded_config, make_bars, make_signal
from tests.risk.helpers import bot_with_checks, intent, only_check, trade
from trading_bot.app import Bot
from trading_bot.backtest.runner import run_backtest
from trading_bot.backtest.summary import build_summary
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import load_config_data
from trading_bot.domain.enums import Side
from trading_bot.domain.rejections import RejectionReason
from trading_bot.intake.signal_file import RecordedSignal
from trading_bot.risk.drawdown import WINDOW_BUCKETS, DrawdownProtection, RollingPeak

D = Decimal
HOUR = 60 * MINUTE

# closes known at T0+1m: 100, +2m: 100, +3m: 84, +4m: 84, +5m: 70, +6m: 70, +7m: 100
CRASH = ["100", "100", "100", "84", "84", "70", "70", "100", "100"]


def long_50_btc(opens: list[str], **params: object) -> tuple[Bot, DrawdownProtection]:
    """10000 USDT, then 50 BTC bought at 100 at T0: equity = 5000 + 50 x price."""
    bot = bot_with_checks([{"class": "drawdown", "params": params}], make_bars("BTC/USDT", opens))
    trade(bot, "entry", size="50")
    assert bot.portfolio.position_quantity("BTC/USDT") == 50
    return bot, only_check(bot, DrawdownProtection)


def at(bot: Bot, minutes: int) -> None:
    bot.clock.advance_to(T0 + minutes * MINUTE)


def test_no_drawdown_approves() -> None:
    _, check = long_50_btc(CRASH)
    assert check.check(intent(Side.BUY, "3")).amount is None
    assert check.drawdown("USDT") == (D(0), D(10000), D(10000))


def test_past_half_the_limit_new_exposure_is_scaled_down_linearly() -> None:
    bot, check = long_50_btc(CRASH, max_drawdown_pct="0.15")
    at(bot, 3)  # 84: equity 9200, drawdown 8%; scaling runs from 7.5% (x1) to 15% (x0)
    decision = check.check(intent(Side.BUY, "3"))
    # (0.15 - 0.08) / (0.15 - 0.075) = 14/15 of 3
    assert decision.amount == D("2.8")
    assert decision.rejection is None


def test_past_the_limit_new_exposure_is_rejected_with_drawdown_limit() -> None:
    bot, check = long_50_btc(CRASH, max_drawdown_pct="0.15")
    at(bot, 5)  # 70: equity 8500, drawdown exactly 15%
    decision = check.check(intent(Side.BUY, "1"))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.DRAWDOWN_LIMIT
    assert "15.00%" in decision.rejection.detail
    # and a short in another direction is new exposure too
    assert check.check(intent(Side.SELL, "1", "ETH/USDT")).rejection is not None


def test_past_the_limit_reducing_orders_pass_and_a_flip_is_cut_to_the_close() -> None:
    bot, check = long_50_btc(CRASH, max_drawdown_pct="0.15")
    at(bot, 5)
    assert check.check(intent(Side.SELL, "10")).amount is None
    flip = check.check(intent(Side.SELL, "60"))
    assert (flip.amount, flip.rejection) == (D("50"), None)


def test_trading_resumes_when_equity_recovers() -> None:
    bot, check = long_50_btc(CRASH)
    at(bot, 5)
    assert check.check(intent(Side.BUY, "1")).rejection is not None
    at(bot, 7)  # back at 100
    assert check.check(intent(Side.BUY, "1")).amount is None


def test_trading_resumes_when_the_peak_ages_out_of_the_window() -> None:
    opens = ["100", "100"] + ["70"] * 12  # 70 is known from T0+2m on
    bot, check = long_50_btc(opens, window_hours=0.1)  # six minutes
    at(bot, 1)
    assert check.check(intent(Side.BUY, "1")).amount is None  # equity 10000 sampled at T0+1m
    at(bot, 3)
    assert check.check(intent(Side.BUY, "1")).rejection is not None
    at(bot, 7)  # the peak sampled at T0+1m is exactly one window old: still counts
    assert check.check(intent(Side.BUY, "1")).rejection is not None
    bot.clock.advance_to(T0 + 7 * MINUTE + 1)
    assert check.check(intent(Side.BUY, "1")).amount is None
    assert check.drawdown("USDT") == (D(0), D(8500), D(8500))


def test_equity_uses_only_prices_known_now() -> None:
    bot, check = long_50_btc(CRASH)
    bot.clock.advance_to(T0 + 3 * MINUTE - 1)  # the 84 close is not known yet
    assert check.check(intent(Side.BUY, "1")).amount is None
    assert check.drawdown("USDT")[0] == 0


def test_never_mutates_the_intent() -> None:
    bot, check = long_50_btc(CRASH)
    at(bot, 3)
    original = intent(Side.BUY, "3")
    assert check.check(original).amount == D("2.8")
    assert original.amount == D("3")


def test_reduce_from_one_turns_scaling_off() -> None:
    bot, check = long_50_btc(CRASH, reduce_from="1")
    at(bot, 3)
    assert check.check(intent(Side.BUY, "3")).amount is None


def test_rolling_peak_keeps_the_highest_sample_of_the_window() -> None:
    peak = RollingPeak(window_ms=10 * MINUTE)
    assert peak.add(T0, D(100)) == D(100)
    assert peak.add(T0 + 1 * MINUTE, D(120)) == D(120)
    assert peak.add(T0 + 2 * MINUTE, D(90)) == D(120)
    assert peak.add(T0 + 11 * MINUTE, D(80)) == D(120)  # 120 is exactly 10 minutes old
    assert peak.add(T0 + 11 * MINUTE + 1, D(80)) == D(90)
    assert peak.add(T0 + 13 * MINUTE, D(70)) == D(80)


def test_rolling_peak_memory_is_bounded_however_often_it_is_sampled() -> None:
    peak = RollingPeak(window_ms=HOUR)
    for second in range(20_000):  # a falling equity sampled every second: no sample dominated
        peak.add(T0 + second * 1000, D(1_000_000 - second))
        assert len(peak) <= WINDOW_BUCKETS + 2
    # the peak is never dropped early: the highest sample of the last hour is at most one
    # bucket older than the window
    now = T0 + 19_999 * 1000
    result = peak.add(now, D(1))
    assert D(1_000_000 - 16_399) <= result <= D(1_000_000 - 16_399 + 15)


def test_selected_from_yaml_with_the_guides_class_path() -> None:
    loaded = loaded_config(
        risk={
            "checks": [
                {
                    "class": "modules.risk.drawdown.DrawdownProtection",
                    "params": {"max_drawdown_pct": 0.15, "window_hours": 24},
                }
            ]
        }
    )
    (module,) = loaded.risk_checks
    assert module.cls is DrawdownProtection
    check = module.build()
    assert check.params.max_drawdown_pct == D("0.15")
    assert check.params.reduce_from == D("0.5")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_drawdown_pct": 15}, "max_drawdown_pct: Input should be less than 1"),
        ({"max_drawdown_pct": 0}, "max_drawdown_pct: Input should be greater than 0"),
        ({"window_hours": 0}, "window_hours: Input should be greater than 0"),
        ({"reduce_from": 2}, "reduce_from: Input should be less than or equal to 1"),
        ({"max_drawdown": 0.1}, "max_drawdown: unknown key"),
    ],
)
def test_bad_params_are_config_errors_naming_the_key(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_data(
            config_data(risk={"checks": [{"class": "drawdown", "params": params}]}),
            source="bot.yaml",
            environ={},
        )
    assert any(message in str(issue) for issue in caught.value.issues), caught.value.issues


def test_backtest_halts_entries_past_the_limit_with_drawdown_limit() -> None:
    # all figures hand-computed, no fees: buy 50 @ 100 at T0 (equity 10000 = the peak);
    # T0+3m: 80 known, equity 9000, drawdown 10% -> buy 3 scaled by 0.05/0.075 to 2 (@ 80);
    # T0+5m: 70, equity 4840 + 52 x 70 = 8480, drawdown 15.2% -> buy rejected;
    # T0+6m: selling 10 reduces the position and passes; T0+7m: buying is still halted
    bars = make_bars("BTC/USDT", ["100", "100", "100", "80", "70", "70", "70", "70", "70"])
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "10000"}, "fees": {"maker": "0", "taker": "0"}},
        },
        risk={"checks": [{"class": "drawdown", "params": {"max_drawdown_pct": 0.15}}]},
    )
    signals = [
        make_signal(signal_id="entry", size="50", created_at=T0),
        make_signal(signal_id="scaled", size="3", created_at=T0 + 3 * MINUTE),
        make_signal(signal_id="halted-1", size="1", created_at=T0 + 5 * MINUTE),
        make_signal(signal_id="reduce", side="sell", size="10", created_at=T0 + 6 * MINUTE),
        make_signal(signal_id="halted-2", size="1", created_at=T0 + 7 * MINUTE),
    ]
    result = run_backtest(loaded, [bars], [RecordedSignal(s, i) for i, s in enumerate(signals)])
    summary = build_summary(result)
    assert summary["rejected_signals"] == {"drawdown_limit": 2}
    assert summary["signals"] == {"total": 5, "executed": 3, "rejected": 2}
    assert summary["final_balances"] == {"BTC": "42", "USDT": "5540"}
    assert summary["max_drawdown"] == pytest.approx(0.152)


def test_seed_bug_absent_drawdown_is_a_fraction_of_peak_equity_not_pnl() -> None:
    # the seed took the P&L (here -1500 USDT) as if it were a return; the drawdown is
    # (peak - equity) / peak = 1500 / 10000, so a 0.2 limit is not reached
    bot, check = long_50_btc(CRASH, max_drawdown_pct="0.2", reduce_from="1")
    at(bot, 5)
    assert check.drawdown("USDT") == (D("0.15"), D(8500), D(10000))
    assert check.check(intent(Side.BUY, "1")).amount is None
