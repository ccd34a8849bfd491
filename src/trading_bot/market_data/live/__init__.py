"""Live market data: ccxt.pro streams turned into trades, closed bars, order books and prices.

One job per module: `trades` (a trade as the bot reads it), `aggregator` (trades -> closed
bars), `sequence` (trade-id gaps), `buffers` (bounded hand-over to slow consumers), `book`
(order book snapshots), `prices` (`LivePrices`, the live `PriceView`), `feed`
(`LiveMarketFeed`: the watch loops, reconnection, staleness, counters).
"""

from trading_bot.market_data.live.aggregator import TradeBarAggregator
from trading_bot.market_data.live.book import BookSnapshot
from trading_bot.market_data.live.buffers import BufferClosed, DropOldest, LatestOnly
from trading_bot.market_data.live.feed import ClosedBar, FeedSettings, FeedStats, LiveMarketFeed
from trading_bot.market_data.live.prices import LivePrices
from trading_bot.market_data.live.sequence import TradeIdGap, TradeSequence
from trading_bot.market_data.live.symbol_trades import SymbolTrades
from trading_bot.market_data.live.trades import LiveTrade

__all__ = [
    "BookSnapshot",
    "BufferClosed",
    "ClosedBar",
    "DropOldest",
    "FeedSettings",
    "FeedStats",
    "LatestOnly",
    "LiveMarketFeed",
    "LivePrices",
    "LiveTrade",
    "SymbolTrades",
    "TradeBarAggregator",
    "TradeIdGap",
    "TradeSequence",
]
