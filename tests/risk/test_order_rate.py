from decimal import Decimal

from tests.conftest import MINUTE, T0, make_bars, make_signal
from tests.risk.helpers import bot_with_checks, intent, only_check
from trading_bot.app import Bot
from trading_bot.domain.enums import Side
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.order_rate import OrderRateLimit

D = Decimal
SECOND = 1000


def rate_bot(limit: int) -> tuple[Bot, OrderRateLimit]:
    bot = bot_with_checks(
        [{"class": "order_rate", "params": {"max_orders_per_minute": limit}}],
        make_bars("BTC/USDT", ["100"] * 10),
    )
    return bot, only_check(bot, OrderRateLimit)


def send(bot: Bot, signal_id: str, at_ms: int) -> None:
    bot.clock.advance_to(at_ms)
    bot.kernel.submit_signal(make_signal(signal_id=signal_id, size="0.01", created_at=at_ms))


def test_orders_up_to_the_limit_pass_then_the_next_is_rejected() -> None:
    bot, check = rate_bot(3)
    for second in range(3):
        send(bot, f"s{second}", T0 + second * SECOND)
    assert len(bot.orders.all_orders) == 3
    decision = check.check(intent(Side.BUY, "1"))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.ORDER_RATE_LIMIT
    assert "3 orders sent in the last minute" in decision.rejection.detail


def test_the_window_slides_on_the_clock() -> None:
    bot, check = rate_bot(2)
    send(bot, "a", T0)
    send(bot, "b", T0 + 30 * SECOND)
    bot.clock.advance_to(T0 + MINUTE - 1)  # "a" is 59.999 s old: still in the window
    assert check.check(intent(Side.BUY, "1")).rejection is not None
    bot.clock.advance_to(T0 + MINUTE)  # "a" is 60 s old: out
    assert check.check(intent(Side.BUY, "1")).rejection is None


def test_orders_count_not_approvals_nor_rejected_signals() -> None:
    bot, check = rate_bot(1)
    for _ in range(5):  # approved by this check, but nothing is placed: not counted
        assert check.check(intent(Side.BUY, "1")).rejection is None
    # rejected before any order is placed (no such market): not counted either
    bot.kernel.submit_signal(make_signal(signal_id="x", asset="DOGE/USDT"))
    assert bot.orders.all_orders == []
    assert check.check(intent(Side.BUY, "1")).rejection is None


def test_reducing_orders_are_limited_too() -> None:
    bot, check = rate_bot(1)
    send(bot, "long", T0)
    bot.clock.advance_to(T0 + 2 * SECOND)
    assert bot.portfolio.position_quantity("BTC/USDT") == D("0.01")
    assert check.check(intent(Side.SELL, "0.01")).rejection is not None


def test_rejections_in_the_pipeline_carry_the_reason() -> None:
    bot, _ = rate_bot(2)
    for second in range(4):
        send(bot, f"s{second}", T0 + second * SECOND)
    assert bot.kernel.ledger.rejection_counts() == {"order_rate_limit": 2}
    send(bot, "later", T0 + MINUTE + 5 * SECOND)
    assert bot.kernel.ledger.rejection_counts() == {"order_rate_limit": 2}
    assert len(bot.orders.all_orders) == 3
