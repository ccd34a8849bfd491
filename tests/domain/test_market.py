from decimal import Decimal

import pytest

from trading_bot.domain.market import Market, split_symbol
from trading_bot.domain.rejections import RejectionReason

D = Decimal
MARKET = Market.for_symbol(
    "BTC/USDT",
    amount_step=D("0.001"),
    price_step=D("0.01"),
    min_amount=D("0.002"),
    min_notional=D("10"),
)


def test_amounts_round_down_to_the_step_never_up() -> None:
    assert MARKET.round_amount(D("0.0129")) == D("0.012")
    assert MARKET.round_amount(D("0.012")) == D("0.012")


@pytest.mark.parametrize(
    ("amount", "price", "reason"),
    [
        (D("0.0015"), None, RejectionReason.INVALID_AMOUNT_PRECISION),
        (D("0.001"), None, RejectionReason.BELOW_MIN_AMOUNT),
        (D("0.003"), D("1000"), RejectionReason.BELOW_MIN_NOTIONAL),
        (D("0.010"), D("1000"), None),
        (D("0.010"), None, None),
    ],
)
def test_check_order_names_the_first_rule_broken(
    amount: Decimal, price: Decimal | None, reason: object
) -> None:
    assert MARKET.check_order(amount, price) == reason


def test_symbols_split_into_base_and_quote() -> None:
    assert split_symbol("BTC/USDT") == ("BTC", "USDT")
    assert split_symbol("BTC/USDT:USDT") == ("BTC", "USDT")
    with pytest.raises(ValueError, match="unified symbol"):
        split_symbol("BTCUSDT")
