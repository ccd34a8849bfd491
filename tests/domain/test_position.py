from decimal import Decimal

from trading_bot.domain.enums import Side
from trading_bot.domain.position import Position

D = Decimal


def test_adding_averages_the_entry_price() -> None:
    p = Position("BTC/USDT")
    p.apply_fill(Side.BUY, D("1"), D("100"))
    p.apply_fill(Side.BUY, D("3"), D("104"))
    assert p.quantity == D("4")
    assert p.average_entry_price == D("103")
    assert p.unrealized_pnl(D("110")) == D("28")


def test_reducing_realizes_fifo_pnl_exactly() -> None:
    p = Position("BTC/USDT")
    p.apply_fill(Side.BUY, D("1"), D("100"))
    p.apply_fill(Side.BUY, D("1"), D("110"))
    realized = p.apply_fill(Side.SELL, D("1.5"), D("120"))
    # FIFO: 1 @ 100 -> +20, 0.5 @ 110 -> +5
    assert realized == D("25")
    assert p.quantity == D("0.5")
    assert p.average_entry_price == D("110")


def test_short_positions_gain_when_price_falls() -> None:
    p = Position("BTC/USDT")
    p.apply_fill(Side.SELL, D("2"), D("100"))
    assert p.unrealized_pnl(D("90")) == D("20")
    assert p.apply_fill(Side.BUY, D("2"), D("95")) == D("10")
    assert not p.is_open
    assert p.average_entry_price == 0


def test_a_fill_past_flat_flips_the_position_at_the_fill_price() -> None:
    p = Position("BTC/USDT")
    p.apply_fill(Side.BUY, D("1"), D("100"))
    assert p.apply_fill(Side.SELL, D("3"), D("90")) == D("-10")
    assert p.quantity == D("-2")
    assert p.average_entry_price == D("90")
    assert p.realized_pnl == D("-10")
