"""Orders that trade: market orders at the open, resting limits filled when the price trades
through them, and orders larger than a bar's volume filled in parts.

Expected numbers follow the README's fill conventions on the standard tape (scenario.py):
every bar opens at 100, dips take buy limits above 96, the rise takes sell limits below 104,
the dips and the rise let 1 BTC fill each. Taker fee 0.2%, maker fee 0.1%, both in USDT.
"""

from __future__ import annotations

from decimal import Decimal

from tests.venues.conformance.harness import VenueHarness, held
from tests.venues.conformance.scenario import BASE, OPEN, QUOTE
from trading_bot.domain.enums import LiquiditySide, Side
from trading_bot.domain.order_status import OrderStatus

D = Decimal
TAKER, MAKER = LiquiditySide.TAKER, LiquiditySide.MAKER


async def test_market_buy_fills_at_the_open_paying_the_taker_fee_in_quote(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5")
    harness.venue.submit_order(buy)
    await harness.until_filled(buy)

    (fill,) = harness.reports.fills(buy.client_order_id)
    assert (fill.side, fill.amount, fill.price) == (Side.BUY, D("0.5"), OPEN)
    assert fill.symbol == harness.scenario.symbol
    assert (fill.fee, fill.fee_asset, fill.liquidity) == (D("0.1"), QUOTE, TAKER)  # 0.2% of 50
    await harness.until_balances({QUOTE: D("9949.9"), BASE: D("1.5")})


async def test_market_sell_fills_at_the_open_and_its_proceeds_are_net_of_the_fee(
    harness: VenueHarness,
) -> None:
    sell = harness.order("sell", "0.5")
    harness.venue.submit_order(sell)
    await harness.until_filled(sell)

    (fill,) = harness.reports.fills(sell.client_order_id)
    assert (fill.side, fill.amount, fill.price) == (Side.SELL, D("0.5"), OPEN)
    assert (fill.fee, fill.fee_asset, fill.liquidity) == (D("0.1"), QUOTE, TAKER)
    await harness.until_balances({QUOTE: D("10049.9"), BASE: D("0.5")})


async def test_limit_order_away_from_the_price_is_accepted_and_rests_without_filling(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_reported(buy, "accepted")

    assert harness.reports.kinds(buy.client_order_id) == ["accepted"]
    assert harness.reports.venue_order_id(buy.client_order_id)
    assert held(harness.venue.balances()) == harness.scenario.balances  # held, not spent


async def test_resting_limit_fills_at_its_price_as_maker_when_price_trades_through(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "0.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_filled(buy)

    assert harness.reports.kinds(buy.client_order_id) == ["accepted", "filled"]
    (fill,) = harness.reports.fills(buy.client_order_id)
    assert (fill.amount, fill.price, fill.liquidity) == (D("0.5"), D("97"), MAKER)
    assert (fill.fee, fill.fee_asset) == (D("0.0485"), QUOTE)  # 0.1% of 48.5
    await harness.until_balances({QUOTE: D("9951.4515"), BASE: D("1.5")})


async def test_resting_sell_limit_fills_when_price_rises_through_it(
    harness: VenueHarness,
) -> None:
    sell = harness.order("sell", "0.5", "limit", price="103")
    harness.venue.submit_order(sell)
    await harness.until_filled(sell)

    (fill,) = harness.reports.fills(sell.client_order_id)
    assert (fill.side, fill.amount, fill.price, fill.liquidity) == (
        Side.SELL, D("0.5"), D("103"), MAKER,
    )  # fmt: skip
    assert fill.fee == D("0.0515")
    await harness.until_balances({QUOTE: D("10051.4485"), BASE: D("0.5")})


async def test_order_larger_than_what_a_bar_can_fill_fills_in_parts_until_complete(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "1.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_filled(buy, D("1"))
    assert harness.reports.status(buy.client_order_id, buy.amount) is OrderStatus.PARTIALLY_FILLED

    await harness.until_filled(buy)
    fills = harness.reports.fills(buy.client_order_id)
    assert [(f.amount, f.price) for f in fills] == [(D("1"), D("97")), (D("0.5"), D("97"))]
    assert len({f.trade_id for f in fills}) == 2
    assert harness.reports.status(buy.client_order_id, buy.amount) is OrderStatus.FILLED
    # 145.5 USDT for 1.5 BTC, maker fees 0.097 + 0.0485
    await harness.until_balances({QUOTE: D("9854.3545"), BASE: D("2.5")})


async def test_partly_filled_order_canceled_keeps_its_fills_and_cancels_the_rest(
    harness: VenueHarness,
) -> None:
    buy = harness.order("buy", "1.5", "limit", price="97")
    harness.venue.submit_order(buy)
    await harness.until_filled(buy, D("1"))

    harness.venue.cancel_order(buy)
    await harness.until_reported(buy, "canceled")
    await harness.pass_bars(8)  # past the next dip: it fills nothing more

    assert harness.reports.kinds(buy.client_order_id) == ["accepted", "filled", "canceled"]
    assert harness.reports.filled(buy.client_order_id) == D("1")
    await harness.until_balances({QUOTE: D("9902.903"), BASE: D("2")})
