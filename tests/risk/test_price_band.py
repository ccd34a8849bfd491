from decimal import Decimal

import pytest

from tests.conftest import MINUTE, T0, config_data, make_bars, make_signal
from tests.risk.helpers import bot_with_checks, intent, only_check, trade
from trading_bot.app import Bot
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import load_config_data
from trading_bot.domain.enums import Side
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.price_band import PriceBandCheck

D = Decimal


def band_bot(**params: object) -> tuple[Bot, PriceBandCheck]:
    """BTC/USDT closes 100 at T0+1m, 200 from T0+2m on."""
    bot = bot_with_checks(
        [{"class": "price_band", "params": params}],
        make_bars("BTC/USDT", ["100", "100", "200", "200"]),
    )
    return bot, only_check(bot, PriceBandCheck)


def test_limit_price_within_the_band_passes_and_at_its_edge_too() -> None:
    bot, check = band_bot(max_deviation_pct="0.05")
    bot.clock.advance_to(T0 + MINUTE)
    assert check.check(intent(Side.BUY, "1", limit_price="104")).amount is None
    assert check.check(intent(Side.BUY, "1", limit_price="95")).rejection is None  # exactly 5%


@pytest.mark.parametrize("limit_price", ["1000", "10", "94.99"])
def test_limit_price_outside_the_band_is_a_price_band_rejection(limit_price: str) -> None:
    bot, check = band_bot(max_deviation_pct="0.05")
    bot.clock.advance_to(T0 + MINUTE)
    decision = check.check(intent(Side.BUY, "1", limit_price=limit_price))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.PRICE_BAND


def test_reducing_orders_are_checked_too() -> None:
    bot, check = band_bot()
    trade(bot, "long", size="1")  # market order: no price to check
    assert bot.portfolio.position_quantity("BTC/USDT") == 1
    bot.clock.advance_to(T0 + MINUTE)
    decision = check.check(intent(Side.SELL, "1", limit_price="10"))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.PRICE_BAND


def test_the_band_follows_the_last_price_known_now_not_a_later_one() -> None:
    bot, check = band_bot()
    bot.clock.advance_to(T0 + 2 * MINUTE - 1)  # the close of 200 is not known yet
    assert check.check(intent(Side.BUY, "1", limit_price="200")).rejection is not None
    bot.clock.advance_to(T0 + 2 * MINUTE)
    assert check.check(intent(Side.BUY, "1", limit_price="200")).rejection is None


def test_without_a_last_price_a_limit_order_is_rejected_or_passed_per_config() -> None:
    _, strict = band_bot()  # T0: nothing known yet
    decision = strict.check(intent(Side.BUY, "1", limit_price="100"))
    assert decision.rejection is not None
    assert decision.rejection.reason is RejectionReason.NO_MARKET_DATA
    _, lenient = band_bot(without_price="pass")
    assert lenient.check(intent(Side.BUY, "1", limit_price="100")).rejection is None


def test_market_orders_pass() -> None:
    _, check = band_bot()
    assert check.check(intent(Side.BUY, "1", price=None)).rejection is None


def test_fat_finger_signal_is_rejected_in_the_pipeline() -> None:
    bot = bot_with_checks([{"class": "price_band"}], make_bars("BTC/USDT", ["100", "100", "100"]))
    # the band rejects before the (market) execution would refuse the limit order
    bot.clock.advance_to(T0 + MINUTE)
    bot.kernel.submit_signal(make_signal(order_type="limit", price="1000", created_at=T0 + MINUTE))
    assert bot.kernel.ledger.rejection_counts() == {"price_band": 1}


def test_bad_params_name_the_key() -> None:
    data = config_data(
        risk={"checks": [{"class": "price_band", "params": {"without_price": "maybe"}}]}
    )
    with pytest.raises(ConfigError) as caught:
        load_config_data(data, source="bot.yaml", environ={})
    (issue,) = caught.value.issues
    assert "risk.checks[0].params.without_price" in str(issue)
    assert "'reject' or 'pass'" in str(issue)
