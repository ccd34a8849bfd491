"""The paper venue behind the API: the simulated exchange on the wall clock, replaying
recorded prices, with Binance's order semantics on top.

Orders go to the same `SimulatedExchange` (matching, fees, reservations, market rules) the
backtest and the paper venue use. What Binance decides on sight is decided here on sight, so
the REST reply carries it: unknown symbol, filters (LOT_SIZE, PRICE_FILTER, NOTIONAL), a
free balance too small at the current price, a post-only order that would take at it, a
client order id still in use. Then the order goes to the matching engine, which acknowledges
it and acts at the next bar; the reply waits up to `reply_wait_ms` for that first decision (a
market order's fill, a limit order resting or filling) and otherwise answers NEW, as an
exchange under load.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.money import ZERO, floor_to_step
from trading_bot.domain.order import Order
from trading_bot.engine.clock import Clock
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.errors import DataFileError
from trading_bot.market_data.loader import load_market_data
from trading_bot.venues.order_rules import invalid_order
from trading_bot.venues.server import errors as E
from trading_bot.venues.server.config import VenueServerConfig
from trading_bot.venues.server.errors import BinanceError
from trading_bot.venues.server.ledger import SpotOrder, SpotTrade, VenueLedger
from trading_bot.venues.server.market_feed import SymbolFeed
from trading_bot.venues.simulated.exchange import SimulatedExchange
from trading_bot.venues.simulated.pricing import marketable
from trading_bot.venues.simulated.reservations import worst_fee

HOUR_MS = 3_600_000
MAX_REPLAY_ROWS = 3_000_000
# how long after a bar's open a reply waiting on the engine's decision there looks again
# (the engine acts at the open, on the event loop)
_AFTER_BAR_MS = 5
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT")
_DOMAIN_TYPE = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "STOP_LOSS": OrderType.STOP_MARKET,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
}


class VenueSetupError(Exception):
    """The config cannot make a venue (a message for the user)."""


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A validated POST /api/v3/order request."""

    market_id: str
    side: Side
    type: str
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str
    client_order_id: str | None
    resp_type: str


class SpotVenue:
    def __init__(self, config: VenueServerConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.exchange = SimulatedExchange(config.exchange)
        now = clock.now_ms()
        self.anchor_ms = now
        until = now + int(config.horizon_hours * HOUR_MS)
        self.feeds: dict[str, SymbolFeed] = {}
        self.by_market_id: dict[str, SymbolFeed] = {}
        quote_volume = config.exchange.fills.bar_volume_in == "quote"
        for symbol, path in config.market_data.items():
            try:
                data = load_market_data(path, symbol)
            except DataFileError as error:  # the key to fix, and the path its file was looked at
                raise VenueSetupError(
                    f"market_data.{symbol}: {path.resolve()}: {'; '.join(error.problems)}"
                ) from None
            if not isinstance(data, BarSeries):
                raise VenueSetupError(
                    f"market_data.{symbol}: order book files cannot be replayed by the venue "
                    "server yet; give candles or trades"
                )
            rows = data.replay_copies(now, config.replay_speed, until) * len(data)
            if rows > MAX_REPLAY_ROWS:
                raise VenueSetupError(
                    f"market_data.{symbol}: replaying {len(data)} rows at replay_speed "
                    f"{config.replay_speed} for {config.horizon_hours} h needs {rows:,} rows "
                    f"(at most {MAX_REPLAY_ROWS:,}); lower horizon_hours or replay_speed"
                )
            replayed = data.replayed(now, config.replay_speed, until)
            self.exchange.add_market_data(replayed)
            market = self.exchange.market(symbol)
            assert market is not None
            feed = SymbolFeed(
                replayed, market, depth_levels=config.depth_levels, volume_in_quote=quote_volume
            )
            self.feeds[symbol] = feed
            self.by_market_id[feed.market_id] = feed
        unused = self.exchange.unused_market_rules()
        if unused:
            raise VenueSetupError(
                f"exchange.markets has rules for {', '.join(unused)} but market_data has no "
                "file for them"
            )
        self.ledger = VenueLedger(clock, self.exchange.account, self.exchange.market)
        self.exchange.bind(self.ledger, clock)
        self._cancel_ids = itertools.count(1)

    # -- lookups --------------------------------------------------------------------------------

    def feed(self, market_id: str | None) -> SymbolFeed:
        if not market_id:
            raise E.missing("symbol")
        feed = self.by_market_id.get(market_id.upper())
        if feed is None:
            raise E.invalid_symbol()
        return feed

    def find_order(
        self, market_id: str, order_id: int | None, client_order_id: str | None
    ) -> SpotOrder | None:
        feed = self.feed(market_id)
        if order_id is not None:
            order = self.ledger.orders.get(order_id)
        elif client_order_id:
            order = self.ledger.by_client_id.get(client_order_id)
        else:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if order is None or order.symbol != feed.symbol or not order.published:
            return None
        return order

    # -- orders ---------------------------------------------------------------------------------

    async def place(self, request: NewOrder, *, replaces: SpotOrder | None = None) -> SpotOrder:
        """Take a new order. `replaces`: the order a cancel-replace just canceled, whose client
        order id the replacement may carry on (it is the same order to the client)."""
        feed = self.feed(request.market_id)
        market = feed.market
        ledger = self.ledger
        client_order_id = request.client_order_id or f"paper-{uuid.uuid4().hex[:22]}"
        existing = ledger.by_client_id.get(client_order_id)
        carried_on = replaces is not None and existing is replaces
        if (
            existing is not None
            and not carried_on
            and (existing.is_open or self.config.unique_client_order_ids)
        ):
            raise BinanceError(-2010, E.DUPLICATE_ORDER)
        now = self.clock.now_ms()
        last = feed.price(now)
        amount = request.quantity
        if amount is None:
            assert request.quote_qty is not None
            amount = floor_to_step(request.quote_qty / last, market.amount_step)
            if amount <= 0:
                raise E.filter_failure("LOT_SIZE")
        kind = _DOMAIN_TYPE[request.type]
        order = Order(
            f"engine-{uuid.uuid4().hex}",  # the engine's own id: see Ledger._by_engine_id
            feed.symbol,
            request.side,
            kind,
            amount,
            now,
            signal_id="venue-server",
            source="venue-server",
            price=request.price if kind.has_limit_price else None,
            trigger_price=request.stop_price if kind.has_trigger else None,
            time_in_force=TimeInForce(request.time_in_force.lower())
            if kind.has_limit_price
            else TimeInForce.GTC,
            post_only=request.type == "LIMIT_MAKER",
        )
        problem = invalid_order(order, market)
        if problem is not None:
            raise E.rejection_error(*problem)
        reference = order.price or order.trigger_price or last
        if kind is OrderType.MARKET and amount * last < market.min_notional:
            raise E.filter_failure("NOTIONAL")
        if (
            order.post_only
            and order.price is not None
            and marketable(order.side, order.price, last)
        ):
            raise BinanceError(-2010, E.WOULD_TAKE)
        account = self.exchange.account
        if order.side is Side.BUY:
            short = amount * reference * (1 + worst_fee(market)) > account.free(market.quote)
        else:
            short = amount > account.free(market.base)
        if short:
            raise BinanceError(-2010, E.INSUFFICIENT_BALANCE)
        record = SpotOrder(
            ledger.next_order_id(),
            client_order_id,
            feed.symbol,
            feed.market_id,
            request.side,
            request.type,
            request.time_in_force if kind.has_limit_price else "GTC",
            amount,
            order.price or ZERO,
            order.trigger_price or ZERO,
            request.quote_qty or ZERO,
            now,
            order,
        )
        ledger.add(record)
        self.exchange.submit_order(order)
        clock = self.clock
        market_order = kind is OrderType.MARKET

        def taken_up_ms() -> int | None:
            # by when the engine has taken it up: just after the first bar at or after its
            # arrival (after any simulated latency), known once acknowledged; a market order
            # waits for its fill
            if market_order or not record.accepted:
                return None
            first_bar = feed.first_open(record.accepted_ms)
            return None if first_bar is None else first_bar + _AFTER_BAR_MS

        def decided() -> bool:
            if not record.is_open or record.trades:
                return True
            taken_up = taken_up_ms()
            return taken_up is not None and clock.now_ms() >= taken_up

        try:
            await self._wait(record, decided, wake_ms=taken_up_ms)
        except asyncio.CancelledError:
            ledger.publish(record)  # the exchange has it: it exists whatever the reply
            raise
        if (
            record.status in ("REJECTED", "EXPIRED")
            and record.reason in E.ERROR_REASONS
            and not record.trades
        ):
            ledger.discard(record)
            raise E.rejection_error(record.reason, record.detail)
        ledger.publish(record)
        return record

    async def cancel(
        self, market_id: str, order_id: int | None, client_order_id: str | None
    ) -> SpotOrder:
        record = self.find_order(market_id, order_id, client_order_id)
        if record is None or not record.is_open:
            raise BinanceError(-2011, E.UNKNOWN_ORDER)
        record.cancel_refused = None
        self.exchange.cancel_order(record.order)
        await self._wait(record, lambda: not record.is_open or record.cancel_refused is not None)
        if record.status != "CANCELED":
            raise BinanceError(-2011, E.UNKNOWN_ORDER)
        return record

    async def cancel_all(self, market_id: str) -> list[SpotOrder]:
        feed = self.feed(market_id)
        canceled = []
        for record in self.ledger.open_orders(feed.symbol):
            try:
                canceled.append(await self.cancel(market_id, record.order_id, None))
            except BinanceError:
                continue  # it filled meanwhile
        if not canceled:
            raise BinanceError(-2011, E.UNKNOWN_ORDER)
        return canceled

    def cancel_client_id(self) -> str:
        return f"paper-cancel-{next(self._cancel_ids)}"

    async def _wait(
        self,
        record: SpotOrder,
        done: Callable[[], bool],
        *,
        wake_ms: Callable[[], int | None] | None = None,
    ) -> None:
        """Until `done()` or `reply_wait_ms` ran out; reports arrive on the clock's timers.
        `wake_ms()`: a clock time at which `done()` may turn true with no report (an order
        left resting at its first bar), looked at just after it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.reply_wait_ms / 1000
        while not done():
            left = deadline - loop.time()
            if left <= 0:
                return
            wake = wake_ms() if wake_ms is not None else None
            if wake is not None:
                left = min(left, (max(wake - self.clock.now_ms(), 0) + 1) / 1000)
            record.progress.clear()
            try:
                await asyncio.wait_for(record.progress.wait(), left)
            except TimeoutError:
                continue

    # -- queries --------------------------------------------------------------------------------

    def all_orders(
        self,
        market_id: str,
        *,
        order_id: int | None,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
    ) -> list[SpotOrder]:
        feed = self.feed(market_id)
        found = [
            o
            for o in self.ledger.orders.values()
            if o.symbol == feed.symbol
            and o.published
            and (order_id is None or o.order_id >= order_id)
            and (start_ms is None or o.created_ms >= start_ms)
            and (end_ms is None or o.created_ms <= end_ms)
        ]
        return found[:limit] if order_id is not None or start_ms is not None else found[-limit:]

    def my_trades(
        self,
        market_id: str,
        *,
        order_id: int | None,
        from_id: int | None,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
    ) -> list[SpotTrade]:
        feed = self.feed(market_id)
        published = {o.order_id for o in self.ledger.orders.values() if o.published}
        found = [
            t
            for t in self.ledger.trades
            if t.symbol == feed.symbol
            and t.order_id in published
            and (order_id is None or t.order_id == order_id)
            and (from_id is None or t.trade_id >= from_id)
            and (start_ms is None or t.time_ms >= start_ms)
            and (end_ms is None or t.time_ms <= end_ms)
        ]
        if from_id is not None or start_ms is not None:
            return found[:limit]
        return found[-limit:]

    def balances(self) -> list[tuple[str, Decimal, Decimal]]:
        """(asset, free, locked) for every asset the account has or had."""
        account = self.exchange.account
        assets = sorted(
            set(account.total) | set(account.reserved) | set(self.config.exchange.balances)
        )
        for feed in self.feeds.values():
            assets.extend(a for a in (feed.market.base, feed.market.quote) if a not in assets)
        return [(a, account.free(a), account.reserved.get(a, ZERO)) for a in assets]
