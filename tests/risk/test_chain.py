"""Several risk checks chained in config order: each sees the intent as the ones before it
left it, and the first rejection ends the chain."""

from decimal import Decimal
from pathlib import Path

from tests.conftest import MINUTE, T0, build_test_bot, make_bars, make_signal
from tests.risk.helpers import intent
from trading_bot.app import Bot
from trading_bot.config.loader import load_config
from trading_bot.domain.enums import Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.risk.correlation import CorrelationLimit
from trading_bot.risk.drawdown import DrawdownProtection
from trading_bot.risk.exposure import ExposureLimit
from trading_bot.risk.loss_cooldown import LossCooldown
from trading_bot.risk.order_rate import OrderRateLimit
from trading_bot.risk.position_limits import PositionLimitCheck
from trading_bot.risk.price_band import PriceBandCheck

D = Decimal

CONFIG = """
mode: backtest
exchange:
  class: simulated
  params: {balances: {USDT: "10000"}, fees: {maker: "0", taker: "0"}}
strategy: {class: detector_driven}
execution: {class: market}
backtest: {valuation_currency: USDT}
risk:
  enabled: true
  checks:
    - class: price_band
      params: {max_deviation_pct: 0.05}
    - class: exposure
      params: {max_order_notional: 5000}
    - class: modules.risk.position_limits.PositionLimitCheck
      params: {max_position_size: 60}
    - class: modules.risk.drawdown.DrawdownProtection
      params: {max_drawdown_pct: 0.15, window_hours: 24}
    - class: modules.risk.correlation.CorrelationLimit
      enabled: false
      params: {max_correlation: 0.8, lookback_periods: 100}
    - class: loss_cooldown
      params: {max_consecutive_losses: 2, cooldown_minutes: 30}
    - class: order_rate
      params: {max_orders_per_minute: 3}
"""


def chained_bot(tmp_path: Path) -> Bot:
    path = tmp_path / "bot.yaml"
    path.write_text(CONFIG)
    loaded = load_config(path, environ={})
    # 100 until T0+5m, then 84 (known from T0+5m on)
    return build_test_bot(loaded, make_bars("BTC/USDT", ["100"] * 5 + ["84"] * 20))


def test_checks_are_built_in_config_order_and_a_disabled_one_is_left_out(tmp_path: Path) -> None:
    bot = chained_bot(tmp_path)
    kinds = [type(check) for check in bot.kernel.risk.checks]
    assert kinds == [
        PriceBandCheck,
        ExposureLimit,
        PositionLimitCheck,
        DrawdownProtection,
        LossCooldown,
        OrderRateLimit,
    ]
    assert CorrelationLimit not in kinds


def test_each_check_sees_the_intent_as_the_ones_before_left_it(tmp_path: Path) -> None:
    bot = chained_bot(tmp_path)
    bot.clock.advance_to(T0 + MINUTE)
    bot.kernel.submit_signal(make_signal(signal_id="entry", size="50", created_at=T0 + MINUTE))
    bot.clock.advance_to(T0 + 5 * MINUTE)  # 50 BTC bought at 100, now 84: equity 9200
    assert bot.portfolio.position_quantity("BTC/USDT") == 50
    original = intent(Side.BUY, "70", price="84")
    result = bot.kernel.risk.evaluate(original)
    assert isinstance(result, TradeIntent)
    # exposure: 5000 USDT / 84 = 59.52380952; position limit: 60 - 50 = 10 left; drawdown 8%:
    # x (0.15 - 0.08) / (0.15 - 0.075) = 14/15 -> 9.33333333 (the amount step is 1e-8)
    assert result.amount == D("9.33333333")
    assert original.amount == D("70")


def test_the_first_rejection_ends_the_chain(tmp_path: Path) -> None:
    bot = chained_bot(tmp_path)
    bot.clock.advance_to(T0 + MINUTE)
    result = bot.kernel.risk.evaluate(intent(Side.BUY, "15", limit_price="150"))
    assert isinstance(result, Rejection)
    assert result.reason is RejectionReason.PRICE_BAND  # not cut by exposure first


def test_signals_rejected_by_a_check_place_no_order_and_do_not_use_up_the_rate(
    tmp_path: Path,
) -> None:
    bot = chained_bot(tmp_path)
    bot.clock.advance_to(T0 + MINUTE)
    now = bot.clock.now_ms()
    submit = bot.kernel.submit_signal
    submit(make_signal(signal_id="fat", order_type="limit", price="1000", created_at=now))
    for index in range(4):
        submit(make_signal(signal_id=f"m{index}", size="0.1", created_at=now))
    assert bot.kernel.ledger.rejection_counts() == {"price_band": 1, "order_rate_limit": 1}
    assert len(bot.orders.all_orders) == 3


def test_the_trading_state_judges_first_and_the_chain_sees_what_it_let_through(
    tmp_path: Path,
) -> None:
    bot = chained_bot(tmp_path)
    bot.clock.advance_to(T0 + MINUTE)
    bot.kernel.submit_signal(make_signal(signal_id="entry", size="50", created_at=T0 + MINUTE))
    bot.clock.advance_to(T0 + 2 * MINUTE)
    bot.reduce("winding down")
    # a sell of 70 would flip to 20 short: REDUCING cuts it to the 50 that close, which the
    # exposure cap (5000 USDT / 100 = 50) and the position limit then leave whole
    bot.kernel.submit_signal(
        make_signal(signal_id="flip", side="sell", size="70", created_at=T0 + 2 * MINUTE)
    )
    bot.kernel.submit_signal(make_signal(signal_id="buy", size="1", created_at=T0 + 2 * MINUTE))
    bot.clock.advance_to(T0 + 4 * MINUTE)
    assert bot.portfolio.position_quantity("BTC/USDT") == 0
    assert bot.kernel.ledger.rejection_counts() == {"trading_reducing": 1}
