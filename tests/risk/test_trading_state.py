"""Trading states: what each lets through, how they are set (command or breach), flattening,
the resume rule, and the state kept across a paper bot's restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MINUTE, T0, build_test_bot, loaded_config, make_bars, make_signal
from tests.risk.helpers import bot_with_checks, intent, trade
from tests.service import rig
from trading_bot.app import Bot
from trading_bot.backtest.runner import run_backtest
from trading_bot.backtest.summary import build_summary
from trading_bot.config.errors import ConfigError
from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.clock import SimulatedClock
from trading_bot.engine.flatten import FLATTEN_SOURCE
from trading_bot.engine.signal_ledger import SignalStatus
from trading_bot.intake.signal_file import RecordedSignal
from trading_bot.risk.trading_state import ADMISSION, REFUSAL, Admission, TradingState

D = Decimal
FLAT = ["100"] * 12
CRASH = ["100", "100", "100", "80", "70", "70", "70", "100", "100", "100"]


def long_bot(opens: list[str] = FLAT, risk: dict[str, Any] | None = None) -> Bot:
    """10000 USDT, no fees; 50 BTC bought at 100 at T0 (filled by T0+1m)."""
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "10000"}, "fees": {"maker": "0", "taker": "0"}},
        },
        risk=risk or {"checks": []},
        backtest={"valuation_currency": "USDT"},
    )
    bot = build_test_bot(loaded, make_bars("BTC/USDT", opens))
    trade(bot, "entry", size="50")
    assert bot.portfolio.position_quantity("BTC/USDT") == 50
    return bot


def resting_sell(bot: Bot) -> Order:
    """A limit sell far above the market, left open on the venue."""
    order = Order(
        client_order_id="resting-0",
        symbol="BTC/USDT",
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        amount=D(5),
        price=D(150),
        created_ms=bot.clock.now_ms(),
        signal_id="resting",
    )
    bot.orders.submit(order)
    assert order.is_open
    return order


def outcome(bot: Bot, signal_id: str) -> tuple[SignalStatus, str | None]:
    record = bot.kernel.ledger.get(("", signal_id))
    assert record is not None
    return record.status, record.reason.value if record.reason else None


def admit(bot: Bot, side: Side, amount: str) -> Any:
    return bot.kernel.trading.admit(bot.kernel.context, intent(side, amount))


def test_the_table_says_what_each_state_lets_through() -> None:
    assert ADMISSION == {
        TradingState.ACTIVE: Admission.ALL,
        TradingState.REDUCING: Admission.CLOSING_ONLY,
        TradingState.HALTED: Admission.NOTHING,
    }
    assert REFUSAL[TradingState.REDUCING] is RejectionReason.TRADING_REDUCING
    assert REFUSAL[TradingState.HALTED] is RejectionReason.TRADING_HALTED


def test_a_bot_starts_active_and_each_transition_has_a_reason_a_trigger_and_a_time() -> None:
    bot = long_bot()
    assert bot.trading_state.state is TradingState.ACTIVE
    bot.clock.advance_to(T0 + 3 * MINUTE)
    change = bot.halt("operator: exchange incident")
    assert (change.state, change.reason, change.trigger, change.at_ms) == (
        TradingState.HALTED,
        "operator: exchange incident",
        "command",
        T0 + 3 * MINUTE,
    )
    assert bot.trading_state is change
    bot.reduce("winding down")
    bot.resume()
    states = [c.state for c in bot.kernel.trading.history]
    assert states == [
        TradingState.ACTIVE,
        TradingState.HALTED,
        TradingState.REDUCING,
        TradingState.ACTIVE,
    ]


def test_active_lets_everything_through_to_the_risk_chain() -> None:
    bot = long_bot()
    order = intent(Side.BUY, "3")
    assert bot.kernel.trading.admit(bot.kernel.context, order) is order


def test_reducing_lets_only_the_part_that_shrinks_the_position_through() -> None:
    bot = long_bot()
    bot.reduce("test")
    assert admit(bot, Side.SELL, "10").amount == D(10)  # shrinks the long: passes whole
    assert admit(bot, Side.SELL, "60").amount == D(50)  # a flip is cut to the close
    refused = admit(bot, Side.BUY, "1")
    assert isinstance(refused, Rejection)
    assert refused.reason is RejectionReason.TRADING_REDUCING
    assert "test" in refused.detail


def test_reducing_in_the_pipeline_executes_closes_and_rejects_new_exposure() -> None:
    bot = long_bot()
    bot.reduce("test")
    trade(bot, "more", size="1")
    trade(bot, "close", side="sell", size="20")
    assert outcome(bot, "more") == (SignalStatus.REJECTED, "trading_reducing")
    assert outcome(bot, "close")[0] is SignalStatus.EXECUTED
    assert bot.portfolio.position_quantity("BTC/USDT") == 30


def test_halted_rejects_every_new_order_but_cancels_still_pass() -> None:
    bot = long_bot()
    resting = resting_sell(bot)
    bot.halt("test")
    refused = admit(bot, Side.SELL, "10")  # even a reducing order
    assert isinstance(refused, Rejection)
    assert refused.reason is RejectionReason.TRADING_HALTED
    trade(bot, "new", size="1")
    assert outcome(bot, "new") == (SignalStatus.REJECTED, "trading_halted")
    bot.orders.cancel(resting)
    bot.clock.advance_to(bot.clock.now_ms() + MINUTE)
    assert resting.status is OrderStatus.CANCELED


def test_resume_is_the_way_back_to_active() -> None:
    bot = long_bot()
    bot.halt("test")
    trade(bot, "halted", size="1")
    bot.resume("checked")
    trade(bot, "after", size="1")
    assert outcome(bot, "halted") == (SignalStatus.REJECTED, "trading_halted")
    assert outcome(bot, "after")[0] is SignalStatus.EXECUTED
    assert bot.trading_state.reason == "checked"


def test_a_drawdown_breach_halts_a_backtest_until_resumed() -> None:
    # no fees: 50 BTC @ 100 at T0; at T0+4m 70 is known: equity 8500, drawdown 15% -> the
    # buy is rejected drawdown_limit and trading halts. Price is back at 100 from T0+7m, so
    # the drawdown check alone would let the later buy pass; the halt does not.
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "10000"}, "fees": {"maker": "0", "taker": "0"}},
        },
        risk={
            "checks": [{"class": "drawdown", "params": {"max_drawdown_pct": 0.15}}],
            "halt_on": ["drawdown_limit"],
        },
    )
    signals = [
        make_signal(signal_id="entry", size="50", created_at=T0),
        make_signal(signal_id="breach", size="1", created_at=T0 + 5 * MINUTE),
        make_signal(signal_id="later", size="1", created_at=T0 + 8 * MINUTE),
        make_signal(signal_id="close", side="sell", size="10", created_at=T0 + 8 * MINUTE),
    ]
    bars = make_bars("BTC/USDT", CRASH)
    result = run_backtest(loaded, [bars], [RecordedSignal(s, i) for i, s in enumerate(signals)])
    summary = build_summary(result)
    assert summary["rejected_signals"] == {"drawdown_limit": 1, "trading_halted": 2}
    state = result.bot.trading_state
    assert (state.state, state.trigger, state.at_ms) == (
        TradingState.HALTED,
        "breach",
        T0 + 5 * MINUTE,
    )
    assert state.reason.startswith("drawdown_limit: ")


def test_reduce_on_trips_reducing_and_a_breach_never_loosens_the_state() -> None:
    bot = long_bot(CRASH, {"checks": [{"class": "drawdown"}], "reduce_on": ["drawdown_limit"]})
    bot.clock.advance_to(T0 + 5 * MINUTE)
    trade(bot, "breach", size="1")
    assert bot.trading_state.state is TradingState.REDUCING
    assert bot.trading_state.trigger == "breach"
    bot.halt("operator")
    trade(bot, "again", size="1")  # the drawdown_limit breach again: stays HALTED
    assert outcome(bot, "again") == (SignalStatus.REJECTED, "trading_halted")
    assert bot.trading_state.state is TradingState.HALTED


def test_halt_with_flatten_cancels_open_orders_and_closes_positions_at_market() -> None:
    bot = long_bot()
    resting = resting_sell(bot)
    bot.halt("flatten test", flatten=True)
    bot.clock.advance_to(bot.clock.now_ms() + MINUTE)
    assert resting.status is OrderStatus.CANCELED
    assert bot.portfolio.position_quantity("BTC/USDT") == 0
    assert bot.portfolio.balance("USDT") == D(10000)  # bought and sold at 100, no fees
    (close,) = [o for o in bot.orders.all_orders if o.source == FLATTEN_SOURCE]
    assert (close.side, close.amount, close.status) == (Side.SELL, D(50), OrderStatus.FILLED)


def test_flatten_on_halt_from_config_on_a_breach() -> None:
    risk = {
        "checks": [{"class": "drawdown"}],
        "halt_on": ["drawdown_limit"],
        "flatten_on_halt": True,
    }
    bot = long_bot(CRASH, risk)
    bot.clock.advance_to(T0 + 5 * MINUTE)
    trade(bot, "breach", size="1")
    assert bot.trading_state.state is TradingState.HALTED
    assert bot.portfolio.position_quantity("BTC/USDT") == 0


def test_flatten_leaves_assets_the_bot_did_not_buy() -> None:
    bot = bot_with_checks([], make_bars("BTC/USDT", FLAT), balances={"USDT": "1000", "BTC": "2"})
    bot.halt("test", flatten=True)
    assert bot.orders.all_orders == []
    assert bot.portfolio.balance("BTC") == 2


def test_flatten_leaves_a_remainder_below_the_minimum_notional_open_and_says_so(
    log_lines: list[str],
) -> None:
    markets = {"BTC/USDT": {"amount_step": "0.01", "min_notional": "10"}}
    bot = bot_with_checks([], make_bars("BTC/USDT", FLAT), markets=markets)
    trade(bot, "entry", size="0.15")  # 15 USDT at 100
    trade(bot, "part", side="sell", size="0.1")  # 0.05 BTC left: 5 USDT, under the minimum
    assert bot.portfolio.position_quantity("BTC/USDT") == D("0.05")
    bot.halt("test", flatten=True)
    bot.clock.advance_to(bot.clock.now_ms() + MINUTE)
    assert [o for o in bot.orders.all_orders if o.source == FLATTEN_SOURCE] == []
    assert bot.portfolio.position_quantity("BTC/USDT") == D("0.05")
    (warning,) = [line for line in log_lines if "left open" in line]
    assert "0.05 BTC/USDT" in warning and "below_min_notional" in warning


def test_flatten_sells_no_more_base_than_the_account_holds() -> None:
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "10000"}, "fees": {"maker": "0", "taker": "0"}},
        },
        risk={"checks": []},
    )
    bot = build_test_bot(loaded, make_bars("BTC/USDT", FLAT))
    trade(bot, "entry", size="2")
    bot.portfolio.adjust_balance("BTC", D("-0.5"))  # say a fee or a withdrawal took some
    bot.halt("test", flatten=True)
    bot.clock.advance_to(bot.clock.now_ms() + MINUTE)
    (close,) = [o for o in bot.orders.all_orders if o.source == FLATTEN_SOURCE]
    assert (close.amount, close.status) == (D("1.5"), OrderStatus.FILLED)


def test_a_trading_state_code_cannot_be_a_breach() -> None:
    with pytest.raises(ConfigError):
        loaded_config(risk={"halt_on": ["trading_halted"]})


def test_the_paper_bot_keeps_its_trading_state_across_a_restart(tmp_path: Path) -> None:
    engine = rig.store(tmp_path)
    clock = SimulatedClock(T0)
    running = rig.start(engine, clock)
    running.bot.halt("operator: investigating")
    restarted = rig.start(engine, clock)
    state = restarted.bot.trading_state
    assert (state.state, state.reason) == (TradingState.HALTED, "operator: investigating")
    restarted.bot.kernel.submit_signal(make_signal(signal_id="after-restart"))
    assert outcome(restarted.bot, "after-restart") == (SignalStatus.REJECTED, "trading_halted")


def test_a_timed_out_order_is_not_placed_again_while_halted() -> None:
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "10000"}, "fees": {"maker": "0", "taker": "0"}},
        },
        execution={"class": "limit", "params": {"timeout_s": 60, "on_timeout": "reprice"}},
    )
    bot = build_test_bot(loaded, make_bars("BTC/USDT", FLAT))
    bot.clock.advance_to(T0 + MINUTE)
    bot.kernel.submit_signal(make_signal(order_type="limit", price="50", created_at=T0 + MINUTE))
    bot.halt("test")
    bot.clock.advance_to(T0 + 5 * MINUTE)
    (order,) = bot.orders.all_orders
    assert order.status is OrderStatus.CANCELED and order.timed_out
    assert outcome(bot, "s1") == (SignalStatus.REJECTED, "timed_out")
