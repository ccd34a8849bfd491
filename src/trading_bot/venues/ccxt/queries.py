"""Reads from a live venue: orders and their trades, through `RequestGuard`.

Reads are safe to repeat, so the guard retries them; a read that still fails raises
`VenueQueryError` (never read as "nothing there"), except an order the venue does not know,
which is `None`. The venue's request paths (did a create without an answer land?) and the
order updates (polling, the trades behind a fill) read the same way: here, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from trading_bot.venues.base import VenueQueryError
from trading_bot.venues.ccxt.errors import Outcome
from trading_bot.venues.ccxt.guard import RequestGuard


class VenueQueries:
    def __init__(self, exchange: Any, guard: RequestGuard) -> None:
        self.exchange = exchange
        self.guard = guard

    async def order_view(self, client_order_id: str, symbol: str) -> dict[str, Any] | None:
        """The venue's newest order with our client order id, or None when it has none."""
        guard = self.guard
        try:
            return await guard.repeatable(
                lambda: self.exchange.fetch_order(None, symbol, {"clientOrderId": client_order_id})
            )
        except Exception as error:
            reading = guard.classify(error)
            if reading.outcome is Outcome.NOT_FOUND:
                return None
            raise VenueQueryError(reading.detail, venue_down=reading.venue_down) from None

    async def trades_of(self, view: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.query(
            lambda: self.exchange.fetch_my_trades(
                view["symbol"], None, None, {"orderId": view["id"]}
            )
        )

    async def query(self, call: Callable[[], Awaitable[Any]]) -> Any:
        guard = self.guard
        try:
            return await guard.repeatable(call)
        except Exception as error:
            reading = guard.classify(error)
            raise VenueQueryError(reading.detail, venue_down=reading.venue_down) from None
