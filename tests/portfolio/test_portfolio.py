from decimal import Decimal

from trading_bot.domain.enums import LiquiditySide, Side
from trading_bot.domain.fill import Fill
from trading_bot.portfolio.portfolio import Portfolio

D = Decimal


def fill(side: Side, amount: str, price: str, fee: str, n: int = 1) -> Fill:
    return Fill(
        f"t{n}", "c", "BTC/USDT", side, D(amount), D(price), D(fee), "USDT", LiquiditySide.TAKER, n
    )


def test_fills_move_balances_positions_and_fees_exactly() -> None:
    portfolio = Portfolio({"USDT": D("1000")})
    portfolio.apply_fill(fill(Side.BUY, "0.3", "100.1", "0.03003", 1))
    portfolio.apply_fill(fill(Side.SELL, "0.1", "110", "0.011", 2))
    assert portfolio.balance("BTC") == D("0.2")
    assert portfolio.balance("USDT") == D("1000") - D("30.03") - D("0.03003") + D("11") - D("0.011")
    assert portfolio.fees_by_asset == {"USDT": D("0.04103")}
    position = portfolio.position("BTC/USDT")
    assert position is not None
    assert position.quantity == D("0.2")
    assert portfolio.realized_pnl("BTC/USDT") == D("0.99")  # 0.1 x (110 - 100.1)


def test_valuation_marks_to_market_and_lists_unpriced_assets() -> None:
    portfolio = Portfolio({"USDT": D("100"), "BTC": D("2"), "DOGE": D("5"), "ETH": D("0")})
    value = portfolio.valuation({"BTC/USDT": D("50")}, "USDT")
    assert value.total == D("200")
    assert value.unpriced_assets == ("DOGE",)


def test_unrealized_pnl_per_open_position() -> None:
    portfolio = Portfolio({"USDT": D("1000")})
    portfolio.apply_fill(fill(Side.BUY, "2", "100", "0"))
    assert portfolio.unrealized_pnl({"BTC/USDT": D("103.5")}) == {"BTC/USDT": D("7")}
    assert [p.symbol for p in portfolio.open_positions()] == ["BTC/USDT"]
