"""Connecting: keys the venue refuses stop the start with a message that says so and shows
no secret; a venue that cannot be reached says that."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.venues.ccxt.rig import API_KEY, API_SECRET, server_config, venue_params
from tests.venues.conformance.scenario import MarketScenario
from trading_bot.engine.clock import LiveClock
from trading_bot.venues.base import VenueQueryError
from trading_bot.venues.ccxt.venue import CCXTVenue
from trading_bot.venues.server import running_venue_server

WRONG_SECRET = "wrong-secret-abcdef0123456789"


@pytest.mark.parametrize(
    ("credentials", "shown"),
    [
        ({"api_key": API_KEY, "secret": WRONG_SECRET}, "Signature"),
        ({"api_key": "unknown-key-0123456789", "secret": API_SECRET}, "API-key"),
    ],
    ids=["wrong secret", "unknown key"],
)
async def test_refused_keys_stop_the_connect_with_a_clear_message_and_no_secret(
    tmp_path: Path, credentials: dict[str, str], shown: str
) -> None:
    async with running_venue_server(server_config(tmp_path, MarketScenario())) as server:
        venue = CCXTVenue(venue_params(server, credentials=credentials))
        with pytest.raises(VenueQueryError) as raised:
            await venue.connect(LiveClock())
        message = str(raised.value)
        assert message.startswith("AuthenticationError: ")
        assert shown in message
        for secret in (*credentials.values(), API_SECRET):
            assert secret not in message
        assert "signature=" not in message
        # refused once, not retried: keys do not get better by asking again
        assert server.faults.requests.count(("GET", "/api/v3/account")) == 1
        await venue.close()


async def test_a_venue_that_is_not_there_is_reported_unreachable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    venue = CCXTVenue(
        {
            "exchange": "binance",
            "api_url": f"http://127.0.0.1:{port}",
            "ws_url": f"ws://127.0.0.1:{port}",
            "retry": {"attempts": 2, "initial_wait_s": 0.05, "max_wait_s": 0.1},
        }
    )
    with pytest.raises(VenueQueryError, match="ExchangeNotAvailable"):
        await venue.connect(LiveClock())
