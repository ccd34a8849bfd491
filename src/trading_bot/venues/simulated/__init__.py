"""The simulated venue used by backtests and paper trading."""

from trading_bot.venues.simulated.exchange import SimulatedExchange

__all__ = ["SimulatedExchange"]
