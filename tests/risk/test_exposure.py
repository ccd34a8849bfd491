from decimal import Decimal

import pytest

from tests.conftest import MINUTE, T0, make_bars, make_signal
from tests.risk.helpers import bot_with_checks, intent, only_check, trade
from trading_bot.app import Bot
from trading_bot.config.errors import ConfigError
from trading_bot.domain.enums import Side
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.exposure import ExposureLimit

D = Decimal


def exposure_bot(**params: object) -> tuple[Bot, ExposureLimit]:
    """BTC/USDT at 100, ETH/USDT at 10, ETH/BTC at 0.05; the clock at T0+1m, when those
    prices are known."""
    bot = bot_with_checks(
        [{"class": "exposure", "params": params}],
        make_bars("BTC/USDT", ["100"] * 10),
        make_bars("ETH/USDT", ["10"] * 10),
        make_bars("ETH/BTC", ["0.05"] * 10),
        balances={"USDT": "100000", "BTC": "10"},
        markets={"ETH/BTC": {"amount_step": "1"}},
    )
    bot.clock.advance_to(T0 + MINUTE)
    return bot, only_check(bot, ExposureLimit)


def test_order_above_max_order_notional_is_cut_to_it() -> None:
    _, check = exposure_bot(max_order_notional="1000")
    assert check.check(intent(Side.BUY, "15")).amount == D("10")  # 1500 -> 1000 USDT
    assert check.check(intent(Side.BUY, "5")).amount is None


def test_order_is_valued_in_the_valuation_currency_through_its_quote() -> None:
    _, check = exposure_bot(max_order_notional="100")
    # 1 ETH = 0.05 BTC = 5 USDT
    decision = check.check(intent(Side.BUY, "30", "ETH/BTC", price="0.05"))
    assert decision.amount == D("20")


def test_order_cut_to_nothing_by_the_amount_step_is_rejected() -> None:
    _, check = exposure_bot(max_order_notional="4")
    decision = check.check(intent(Side.BUY, "30", "ETH/BTC", price="0.05"))  # 0.8 ETH -> 0
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.MAX_ORDER_NOTIONAL


def test_total_exposure_counts_positions_and_open_orders_across_symbols() -> None:
    bot, check = exposure_bot(max_total_exposure="2000")
    trade(bot, "btc", size="10")  # 10 BTC x 100 = 1000
    bot.kernel.submit_signal(make_signal(signal_id="eth", asset="ETH/USDT", size="50"))
    assert bot.portfolio.position_quantity("ETH/USDT") == 0  # in flight: 50 x 10 = 500
    decision = check.check(intent(Side.BUY, "100", "ETH/USDT", price="10"))
    assert decision.amount == D("50")  # room left 500 USDT


def test_no_room_left_is_a_max_exposure_rejection() -> None:
    bot, check = exposure_bot(max_total_exposure="1000")
    trade(bot, "btc", size="10")
    decision = check.check(intent(Side.BUY, "1", "ETH/USDT", price="10"))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.MAX_EXPOSURE


def test_reducing_orders_pass_and_a_flip_is_cut_to_the_limit_on_the_other_side() -> None:
    bot, check = exposure_bot(max_total_exposure="1000")
    trade(bot, "btc", size="10")
    assert check.check(intent(Side.SELL, "10")).amount is None
    # from +10, selling 25 ends at -15 (1500 USDT): cut to 20, ending at -10 (1000)
    assert check.check(intent(Side.SELL, "25")).amount == D("20")


def test_an_order_that_only_reduces_passes_max_order_notional() -> None:
    bot, check = exposure_bot(max_order_notional="500")
    trade(bot, "a", size="5")
    trade(bot, "b", size="5")
    assert bot.portfolio.position_quantity("BTC/USDT") == 10
    assert check.check(intent(Side.SELL, "10")).amount is None  # 1000 USDT, closing


def test_exposure_that_cannot_be_valued_is_rejected() -> None:
    bot, check = exposure_bot(max_total_exposure="1000")
    trade(bot, "btc", size="1")
    decision = check.check(intent(Side.BUY, "1", "SOL/USDT", price=None))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.NO_MARKET_DATA


def test_never_mutates_the_intent() -> None:
    _, check = exposure_bot(max_order_notional="1000")
    original = intent(Side.BUY, "15")
    check.check(original)
    assert original.amount == D("15")


def test_a_check_without_any_limit_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        exposure_bot()
    (issue,) = caught.value.issues
    assert "set max_order_notional, max_total_exposure or both" in str(issue)
