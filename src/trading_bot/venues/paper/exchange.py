"""PaperExchange: the simulated exchange on the wall clock, with durable books.

It wraps the same `SimulatedExchange` (and so the same matching conventions) the backtest uses,
fed by recorded market data replayed from an anchor time (`BarSeries.replayed`), or by a
venue's live trades (`add_live_market`, `on_live_trade`). Around it, it acts as a real
exchange's back office does: every change to its books (orders, fills, balances)
is committed to its `PaperBookStore` *before* the bot hears of it. A bot killed at any moment
therefore finds, on restart, a venue that knows exactly what it did, and can be reconciled
against it. Commits are grouped: changes made in one turn of the event loop are written
together (`schedule` hands the commit to the loop), then their reports are delivered in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loguru import logger

from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.domain.timestamps import format_ms
from trading_bot.engine.clock import Clock, SimulatedClock, Timer, TimerCallback
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.marks import MarkSeries
from trading_bot.venues.base import Venue, VenueOrderSnapshot, VenueReports
from trading_bot.venues.paper.books import PaperBookStore, PaperOrderRecord
from trading_bot.venues.simulated.exchange import SimulatedExchange

if TYPE_CHECKING:  # the live feed's package imports ccxt: only live paper trading needs it
    from trading_bot.market_data.live.trades import LiveTrade

Schedule = Callable[[Callable[[], None]], None]
# replayed rows held in memory at most (a short file replayed fast over a long horizon is
# copied many times)
MAX_REPLAY_ROWS = 3_000_000


class PaperSetupError(Exception):
    """The config cannot continue this store's paper venue (a message for the user)."""


Report = tuple[str, tuple[Any, ...]]
S = OrderStatus


class PaperExchange(Venue):
    Params = SimulatedExchange.Params
    links_oco = True  # the simulated exchange behind it links them

    def __init__(
        self,
        exchange: SimulatedExchange,
        books: PaperBookStore,
        *,
        now_ms: int,
        schedule: Schedule | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        """`schedule` defers commits to the event loop (grouping a turn's changes); without
        it each request commits at once. `on_commit` runs after each commit, before the
        reports go out (the crash tests' fault point)."""
        super().__init__(exchange.params)
        self._on_commit = on_commit
        self._exchange = exchange
        self._books = books
        self._schedule = schedule
        saved = books.load()
        self.anchor_ms = saved.anchor_ms if saved.anchor_ms is not None else now_ms
        if saved.balances is not None:
            exchange.account.total = dict(saved.balances)
        exchange.restore_sequences(saved.order_sequence, saved.trade_sequence)
        self._to_restore = saved.open_orders
        self._as_of_ms = saved.as_of_ms
        self._volume_used = saved.volume_used
        self._live = False  # matched on a live feed: nothing to catch up on after a restart
        self._records: dict[str, PaperOrderRecord] = {
            r.client_order_id: r for r in saved.open_orders
        }
        # every client order id the venue ever took: it never takes one twice
        self._used_ids: set[str] = set(books.client_order_ids())
        self._dirty: dict[str, PaperOrderRecord] = {}
        self._new_fills: list[Fill] = []
        self._reports: deque[Report] = deque()
        self._target: VenueReports | None = None
        self._clock: Clock | None = None
        self._venue_clock: _CommittingClock | None = None
        self._commit_due = False
        self._delivering = False
        # whether the store holds the venue's current anchor, replay settings and balances
        self._state_saved = saved.anchor_ms is not None
        self._saved_replay: dict[str, Any] = saved.replay or {}
        self.replay_ends_ms: dict[str, int] = {}  # per replayed symbol: when its data ends
        self.replay: dict[str, Any] = {
            "speed": None,
            "data": dict(self._saved_replay.get("data", {})),
        }

    # -- setup ----------------------------------------------------------------------------------

    def add_market_data(
        self, data: BarSeries, *, speed: int, until_ms: int, now_ms: int | None = None
    ) -> None:
        """Replay `data` as this venue's prices. A restarted venue must replay what it did
        before (same speed, same data per symbol): its timeline and its open orders depend
        on it. New symbols may be added. Given `now_ms`, only the replay from there (or
        from the last commit, when open orders catch up from it) is held."""
        symbol = data.symbol
        live = self._saved_replay.get("live")
        if live is not None:
            raise PaperSetupError(
                f"paper.market_data: this store's paper venue matches on {live}'s live trades "
                "(paper.live_data); keep paper.live_data or start a new store"
            )
        saved_speed = self._saved_replay.get("speed")
        if saved_speed is not None and saved_speed != speed:
            raise PaperSetupError(
                f"paper.replay_speed is {speed}, but this store's paper venue replays at "
                f"{saved_speed}; keep {saved_speed} or start a new store"
            )
        fingerprint = {"first_ms": data.start_ms, "last_ms": data.end_ms, "rows": len(data)}
        saved = self._saved_replay.get("data", {}).get(symbol)
        if saved is not None and saved != fingerprint:
            raise PaperSetupError(
                f"paper.market_data.{symbol}: the file is not the one this store's paper venue "
                f"replays ({saved['rows']} rows from {saved['first_ms']} to {saved['last_ms']}, "
                f"now {len(data)} from {data.start_ms} to {data.end_ms}); give the same file "
                "or start a new store"
            )
        catch_up = self._catch_up_from(now_ms) if now_ms is not None else None
        from_ms = catch_up if catch_up is not None else now_ms
        rows = data.replay_copies(self.anchor_ms, speed, until_ms, from_ms) * len(data)
        if rows > MAX_REPLAY_ROWS:
            raise PaperSetupError(
                f"paper.market_data.{symbol}: replaying {len(data)} rows at replay_speed {speed} "
                f"over horizon_hours needs {rows:,} rows in memory (at most "
                f"{MAX_REPLAY_ROWS:,}){_catching_up(catch_up)}; lower "
                "paper.horizon_hours or paper.replay_speed, or give a longer file"
            )
        replayed = data.replayed(self.anchor_ms, speed, until_ms, from_ms)
        self._exchange.add_market_data(replayed)
        self.replay_ends_ms[symbol] = replayed.end_ms + replayed.interval_ms
        self.replay["speed"] = speed
        if self.replay["data"].get(symbol) != fingerprint:
            self.replay["data"][symbol] = fingerprint
            self._state_saved = False  # the new replay settings go into the next commit

    def add_live_market(self, symbol: str, venue_rules: Market | None, exchange: str) -> None:
        """Match `symbol` on the live trades of `exchange` handed to `on_live_trade`. A store
        whose venue replayed files, or followed another exchange, is not continued on it: its
        open orders and balances belong to those prices."""
        replayed = sorted(self._saved_replay.get("data", {}))
        if replayed:
            raise PaperSetupError(
                f"paper.live_data: this store's paper venue replays paper.market_data "
                f"({', '.join(replayed)}); give those files again or start a new store"
            )
        saved = self._saved_replay.get("live")
        if saved is not None and saved != exchange:
            raise PaperSetupError(
                f"paper.live_data.exchange is {exchange}, but this store's paper venue matched "
                f"on {saved}'s trades; keep {saved} or start a new store"
            )
        self._exchange.add_live_market(symbol, venue_rules)
        self._live = True
        self.replay["live"] = exchange
        if saved != exchange:
            self._state_saved = False  # what the venue follows goes into the next commit

    def on_live_trade(self, trade: LiveTrade) -> None:
        """A live trade: the orders it reaches act, and what changed is committed before it
        is reported (the feed's callback, on the event loop)."""
        self._exchange.on_live_trade(trade)
        self._entry_done()

    def marks(self, symbol: str) -> MarkSeries:
        return self._exchange.marks(symbol)

    def bind(self, reports: VenueReports, clock: Clock) -> None:
        """Start the venue on `clock`. Open orders restored from the books are first matched
        on the replayed data the venue missed while the bot was down (from its last commit to
        now, on simulated time, so fills carry the times of the bars they happened at): the
        venue's timeline runs on the wall clock whether the bot runs or not."""
        self._target = reports
        self._clock = clock
        self._venue_clock = venue_clock = _CommittingClock(clock, self._entry_done)
        self._exchange.bind(_Recorder(self), venue_clock)
        orphans = sorted({r.symbol for r in self._to_restore if self.market(r.symbol) is None})
        if orphans:
            raise PaperSetupError(
                f"the paper venue has open orders in {', '.join(orphans)}, which "
                "paper.market_data (or paper.live_data.symbols) no longer lists; add it back"
            )
        now = clock.now_ms()
        start = self._catch_up_from(now)
        catch_up = SimulatedClock(start) if start is not None else None
        if catch_up is not None:
            venue_clock.inner = catch_up
            self._exchange.restore_volume_used(self._volume_used)
        for record in self._to_restore:
            if catch_up is None:
                self._exchange.restore_open_order(record.venue_order())
            else:  # one resting at the last commit goes on resting from there
                arrived = record.matched_from_ms or record.created_ms
                self._exchange.restore_open_order(
                    record.venue_order(), arrived_ms=arrived, as_of_ms=start
                )
        self._to_restore = []
        if catch_up is not None:
            catch_up.advance_to(now, inclusive=False)
            venue_clock.inner = clock
            catch_up.hand_over(clock)
        if not self._state_saved:
            self._mark_dirty_all()
        self._entry_done()

    # -- Venue ----------------------------------------------------------------------------------

    def market(self, symbol: str) -> Market | None:
        return self._exchange.market(symbol)

    def balances(self) -> dict[str, Decimal]:
        return self._exchange.balances()

    def submit_order(self, order: Order) -> None:
        coid = order.client_order_id
        if coid in self._used_ids:
            # a venue never takes the same client order id twice
            self._reports.append(
                (
                    "order_rejected",
                    (coid, RejectionReason.DUPLICATE_ORDER, f"client order id {coid} was used"),
                )
            )
            self._entry_done()
            return
        record = PaperOrderRecord.of(order, self._now())
        self._used_ids.add(coid)
        self._records[coid] = self._dirty[coid] = record
        self._exchange.submit_order(order)
        self._entry_done()

    def cancel_order(self, order: Order) -> None:
        self._exchange.cancel_order(order)
        self._entry_done()

    def modify_order(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        self._exchange.modify_order(order, amount=amount, price=price)
        self._entry_done()

    async def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrderSnapshot | None:
        self.commit()
        found = self._books.find_order(client_order_id)
        return _snapshot(*found) if found is not None else None

    async def fetch_open_orders(self) -> list[VenueOrderSnapshot]:
        self.commit()
        return [_snapshot(record, fills) for record, fills in self._books.open_orders()]

    def close_books(self) -> None:
        """At stop, after the last commit: the store lets go of its connection."""
        self._books.close()

    # -- the books ------------------------------------------------------------------------------

    def record(self, name: str, args: tuple[Any, ...]) -> None:
        """A report from the matching engine: update the books, hold it until committed."""
        coid = args[0].client_order_id if name == "order_filled" else args[0]
        record = self._records.get(coid)
        if record is not None:
            self._apply(record, name, args)
            self._dirty[coid] = record
        if name == "order_filled":
            self._new_fills.append(args[0])
        self._reports.append((name, args))

    def _apply(self, record: PaperOrderRecord, name: str, args: tuple[Any, ...]) -> None:
        record.updated_ms = self._now()
        if name == "order_accepted":
            record.matched_from_ms = record.updated_ms
            record.accepted = True
            record.venue_order_id = args[1]
            record.status = S.ACCEPTED
        elif name == "order_filled":
            fill: Fill = args[0]
            record.filled += fill.amount
            record.status = S.FILLED if record.filled >= record.amount else S.PARTIALLY_FILLED
        elif name == "order_triggered":
            record.triggered = True
            if record.status is S.ACCEPTED:
                record.status = S.TRIGGERED
        elif name == "order_modified":
            record.matched_from_ms = record.updated_ms + 1  # it starts at the next bar
            record.amount = args[1]
            if args[2] is not None:
                if record.order_type.has_limit_price:
                    record.price = args[2]
                else:
                    record.trigger_price = args[2]
        elif name in _CLOSING:
            record.status = _CLOSING[name]
            record.reason = str(args[1]) if name != "order_canceled" else None
            record.detail = args[-1]

    def commit(self) -> None:
        """Write what changed, then deliver the reports it produced, in order."""
        self._commit_due = False
        if self._dirty or self._new_fills or not self._state_saved:
            now = self._now()
            self._books.save(
                list(self._dirty.values()),
                self._new_fills,
                self._exchange.balances(),
                self._exchange.sequences,
                self.anchor_ms,
                self.replay,
                now,
                self._exchange.volume_used_at(now),
            )
            self._state_saved = True
            for coid, record in self._dirty.items():
                record.stored = True
                if not record.is_open:
                    self._records.pop(coid, None)
            self._dirty = {}
            self._new_fills = []
            if self._on_commit is not None:
                self._on_commit()
        self._deliver()

    def _deliver(self) -> None:
        if self._delivering or self._target is None:
            return  # the outer delivery loop picks up what nested calls added
        self._delivering = True
        try:
            while self._reports:
                name, args = self._reports.popleft()
                getattr(self._target, name)(*args)
        finally:
            self._delivering = False

    def _entry_done(self) -> None:
        # Changes are written when there is something to report: an order received but not
        # answered yet (one still on its way under simulated latency, or one waiting for a
        # first price) is written with its answer (or earlier, when the bot asks about its
        # orders, or at stop). Until then the bot has heard nothing of it, so a crash that
        # loses it leaves a venue the order never reached, which reconciliation resends to.
        if self._state_saved and not self._reports:
            return
        if self._schedule is None:
            self.commit()
        elif not self._commit_due:
            self._commit_due = True
            self._schedule(self._safe_commit)

    def _safe_commit(self) -> None:
        try:
            self.commit()
        except Exception:
            # nothing is reported before it is written: retry on the next change or query
            logger.exception("paper venue could not save its books; reports held back")
            self._commit_due = False

    def _catch_up_from(self, now_ms: int) -> int | None:
        """The venue's last commit, when its open orders have replayed data to catch up on
        since then (None: nothing to catch up on)."""
        as_of = self._as_of_ms
        if self._to_restore and as_of is not None and as_of < now_ms and not self._live:
            return as_of
        return None

    def _mark_dirty_all(self) -> None:
        self._dirty.update(self._records)

    def _now(self) -> int:
        """The venue's time: a missed bar's while it catches up after a restart."""
        if self._venue_clock is None:
            raise RuntimeError("PaperExchange is not bound yet")
        return self._venue_clock.now_ms()


_CLOSING = {
    "order_rejected": S.REJECTED,
    "order_canceled": S.CANCELED,
    "order_expired": S.EXPIRED,
}
_REPORTS = (
    "order_accepted",
    "order_rejected",
    "order_filled",
    "order_triggered",
    "order_modified",
    "order_canceled",
    "order_expired",
    "cancel_rejected",
    "modify_rejected",
)


def _catching_up(from_ms: int | None) -> str:
    if from_ms is None:
        return ""
    return (
        f", from the venue's last commit at {format_ms(from_ms)}, which its open orders "
        "catch up from"
    )


class _Recorder:
    """The `VenueReports` the inner exchange talks to: every report goes through the books."""

    def __init__(self, paper: PaperExchange) -> None:
        for name in _REPORTS:
            setattr(self, name, _forward(paper, name))


def _forward(paper: PaperExchange, name: str) -> Callable[..., None]:
    def report(*args: Any) -> None:
        paper.record(name, args)

    return report


class _CommittingClock(Clock):
    """The bot's clock, except that each timer the exchange sets ends with a commit: changes
    made by a timer (a fill at the next bar) are written before they are reported. `inner` is
    a simulated clock while the venue catches up after a restart."""

    def __init__(self, clock: Clock, after: Callable[[], None]) -> None:
        self.inner = clock
        self._after = after

    def now_ms(self) -> int:
        return self.inner.now_ms()

    def schedule_at(self, at_ms: int, callback: TimerCallback) -> Timer:
        after = self._after

        def run() -> None:
            callback()
            after()

        return self.inner.schedule_at(at_ms, run)


def _snapshot(record: PaperOrderRecord, fills: list[Fill]) -> VenueOrderSnapshot:
    return VenueOrderSnapshot(
        record.client_order_id,
        record.venue_order_id,
        record.symbol,
        record.side,
        record.order_type,
        record.amount,
        record.price,
        record.trigger_price,
        record.status,
        record.filled,
        tuple(fills),
        RejectionReason(record.reason) if record.reason else None,
        record.detail,
    )
