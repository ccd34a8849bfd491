"""The paper venue server: a Binance-compatible spot REST + WebSocket API over the simulated
exchange, for real ccxt clients on 127.0.0.1 (see docs/VENUE_SERVER.md)."""

from trading_bot.venues.server.config import VenueServerConfig, load_venue_config
from trading_bot.venues.server.faults import FaultInjector, FaultRule
from trading_bot.venues.server.server import VenueServer, running_venue_server

__all__ = [
    "FaultInjector",
    "FaultRule",
    "VenueServer",
    "VenueServerConfig",
    "load_venue_config",
    "running_venue_server",
]
