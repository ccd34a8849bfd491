"""Drive the simulated exchange directly and record what it reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import T0
from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import SimulatedClock
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.order_book import BookSeries
from trading_bot.venues.simulated.exchange import SimulatedExchange

D = Decimal


class Recorder:
    """A VenueReports that writes down what the venue said, in order."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.events: list[tuple[Any, ...]] = []
        self.details: dict[str, str] = {}  # client order id -> its last refusal's detail

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None:
        self.events.append(("accepted", client_order_id))

    def order_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.events.append(("rejected", client_order_id, reason))
        self.details[client_order_id] = detail

    def order_filled(self, fill: Fill) -> None:
        self.events.append(("filled", fill.client_order_id, fill))

    def order_triggered(self, client_order_id: str) -> None:
        self.events.append(("triggered", client_order_id))

    def order_modified(self, client_order_id: str, amount: Decimal, price: Decimal | None) -> None:
        self.events.append(("modified", client_order_id))

    def order_canceled(self, client_order_id: str, detail: str) -> None:
        self.events.append(("canceled", client_order_id))

    def order_expired(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.events.append(("expired", client_order_id, reason))

    def cancel_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.events.append(("cancel_rejected", client_order_id, reason))

    def modify_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.events.append(("modify_rejected", client_order_id, reason))
        self.details[client_order_id] = detail

    def fills(self, client_order_id: str | None = None) -> list[Fill]:
        return [e[2] for e in self.events if e[0] == "filled" and client_order_id in (None, e[1])]

    def rejections(self) -> list[RejectionReason]:
        return [e[2] for e in self.events if e[0] == "rejected"]

    def kinds(self, client_order_id: str) -> list[str]:
        return [e[0] for e in self.events if e[1] == client_order_id]

    def detail(self, client_order_id: str) -> str:
        """What the last refusal of the order or of a modify of it said."""
        return self.details[client_order_id]

    def reason(self, client_order_id: str) -> RejectionReason | None:
        found = [
            e[2] for e in self.events if e[1] == client_order_id and e[0] in ("rejected", "expired")
        ]
        return found[-1] if found else None


class Venue:
    """A bound simulated exchange, its clock and a recorder."""

    def __init__(
        self, data: BarSeries | BookSeries | list[BarSeries | BookSeries], **params: Any
    ) -> None:
        params.setdefault("balances", {"USDT": "100000", "BTC": "100"})
        params.setdefault("fees", {"maker": "0.001", "taker": "0.002"})
        self.exchange = SimulatedExchange(params)
        for item in data if isinstance(data, list) else [data]:
            self.exchange.add_market_data(item)
        first = data[0] if isinstance(data, list) else data
        self.clock = SimulatedClock(min(first.start_ms, T0))

        self.reports = Recorder(self.clock)
        self.exchange.bind(self.reports, self.clock)

    def at(self, ts_ms: int) -> Venue:
        """Move to `ts_ms` (timers before it fire), like the runner before a signal."""
        self.clock.advance_to(ts_ms, inclusive=False)
        return self

    def send(
        self,
        coid: str,
        side: str,
        amount: str,
        kind: str = "market",
        *,
        price: str | None = None,
        trigger: str | None = None,
        tif: str = "gtc",
        post_only: bool = False,
        oco: str | None = None,
        expires: int | None = None,
        symbol: str = "BTC/USDT",
    ) -> Order:
        order = Order(
            coid, symbol, Side(side), OrderType(kind), D(amount), self.clock.now_ms(), "sig",
            price=None if price is None else D(price),
            trigger_price=None if trigger is None else D(trigger),
            time_in_force=TimeInForce(tif), post_only=post_only, oco_group=oco, expires_at_ms=expires,
        )  # fmt: skip
        self.exchange.submit_order(order)
        return order

    def run(self, until_ms: int) -> Venue:
        self.clock.advance_to(until_ms)
        return self

    def free(self, asset: str) -> Decimal:
        return self.exchange.account.free(asset)

    def total(self, asset: str) -> Decimal:
        return self.exchange.account.total.get(asset, D(0))


def ohlc(
    rows: list[str], *, symbol: str = "BTC/USDT", volume: str = "1000", interval: int = 60_000
) -> BarSeries:
    """Bars from 'open high low close' strings, one minute apart from T0."""
    import numpy as np

    parsed = [[D(x) for x in row.split()] for row in rows]
    scale = max(0, *(-v.as_tuple().exponent for r in parsed for v in r))  # type: ignore[operator]
    factor = D(10) ** scale
    columns = [np.array([int(r[k] * factor) for r in parsed], dtype=np.int64) for k in range(4)]
    n = len(rows)
    return BarSeries(
        symbol,
        np.arange(n, dtype=np.int64) * interval + T0,
        *columns,
        np.full(n, float(volume)),
        scale,
        interval,
    )
