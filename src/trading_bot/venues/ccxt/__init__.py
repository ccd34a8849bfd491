"""Live venues through ccxt."""

from trading_bot.venues.ccxt.venue import CCXTVenue

__all__ = ["CCXTVenue"]
