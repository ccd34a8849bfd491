"""What the risk checks share: the bot's exposure as fills and open orders make it, and values
in the valuation currency at the clock's now.

Every figure here comes from the portfolio (fills), the order manager (orders still open) and
the price view (prices known now): never from signals, which may yet be rejected or fill
partly.
"""

from __future__ import annotations

from decimal import Decimal

from trading_bot.domain.enums import Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import split_symbol
from trading_bot.domain.money import ZERO
from trading_bot.engine.context import TradingContext
from trading_bot.portfolio.portfolio import Valuation

_BUY = Side.BUY
_ONE = Decimal(1)


def closing_part(context: TradingContext, intent: TradeIntent) -> Decimal:
    """How much of the intent only shrinks a position, the open orders on the intent's side
    counted as filled (the worst case). The rest of the amount is new exposure."""
    held = context.portfolio.position_quantity(intent.symbol)
    buys, sells = context.orders.open_exposure(intent.symbol)
    if intent.side is _BUY:
        projected = held + buys
        return min(intent.amount, -projected) if projected < 0 else ZERO
    projected = held - sells
    return min(intent.amount, projected) if projected > 0 else ZERO


def valuation_currency(context: TradingContext, symbol: str) -> str:
    """The bot's valuation currency, or the quote of `symbol` when none was configured."""
    return context.valuation_currency or split_symbol(symbol)[1]


def quote_rate(context: TradingContext, symbol: str, currency: str) -> Decimal | None:
    """Price of `symbol`'s quote asset in `currency` (1 when it is the currency), from the
    `QUOTE/currency` market; None when there is no such price."""
    quote = split_symbol(symbol)[1]
    if quote == currency:
        return _ONE
    return context.prices.last_price(f"{quote}/{currency}")


def mark_to_market(context: TradingContext, currency: str) -> Valuation:
    """Every balance valued at the last `ASSET/currency` price known now: the same equity the
    backtest summary reports. Assets with no such price are listed as unpriced, not guessed."""
    prices: dict[str, Decimal] = {}
    for asset in context.portfolio.balances:
        symbol = f"{asset}/{currency}"
        price = context.prices.last_price(symbol)
        if price is not None:
            prices[symbol] = price
    return context.portfolio.valuation(prices, currency)


def round_down(context: TradingContext, symbol: str, amount: Decimal) -> Decimal:
    """`amount` floored to the market's amount step, so a resize is an amount the venue takes."""
    market = context.market(symbol)
    return market.round_amount(amount) if market is not None else amount
