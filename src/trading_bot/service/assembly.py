"""What every venue path builds a running bot from: the store opened and taken, the bot
rebuilt from what the store holds, and the `RunningBot` record the service runs.

Both `paper_venue` (the venue in process) and `ccxt_bot` (a venue through ccxt) start here;
the service chooses between them in `bot_service.start_bot`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from loguru import logger
from sqlalchemy import Engine

from trading_bot.app import Bot
from trading_bot.domain.money import ZERO, format_decimal
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.context import PriceView
from trading_bot.engine.signal_ledger import SignalStatus
from trading_bot.monitoring.alerts import Alerter
from trading_bot.risk.trading_state import StateChange
from trading_bot.store.bot_state import BotState, load_signals, save_trading_state
from trading_bot.store.checkpoint import WalCheckpointer
from trading_bot.store.database import open_engine, upgrade_to_head
from trading_bot.store.journal import StoreJournal
from trading_bot.store.lock import StoreLock, lock_store
from trading_bot.venues.base import Venue

# outcomes (fills, acks) are committed at most this late: fewer commits, and a crash in
# between costs nothing (recovery asks the venue)
OUTCOME_GROUP_MS = 50


class ServiceSetupError(Exception):
    """The config cannot make a running bot (a message for the user, not a bug)."""


class VenueUnreachable(ServiceSetupError):
    """The venue gave no usable answer at start (down, failing, throttling, banning): not a
    config problem, and a later start may succeed (`run` exits 3, not 2)."""


@dataclass(slots=True)
class RunningBot:
    bot: Bot
    venue: Venue
    journal: StoreJournal
    engine: Engine
    prices: PriceView
    currency: str
    cursors: dict[str, str]
    symbols: list[str]  # the markets the bot trades (valued in snapshots)
    close: Callable[[], Awaitable[None]] | None = None  # a live venue's connections and feed
    checkpointer: WalCheckpointer | None = None  # SQLite stores: folds the log back in a thread
    lock: StoreLock | None = None  # one bot per store: held as long as this object lives
    alerter: Alerter = field(default_factory=Alerter)  # `monitoring.alerts`, else logs only

    def checkpoint_in_background(self) -> None:
        """On SQLite, fold the write-ahead log back in a thread (`WalCheckpointer`): the
        bot's own commits never do (`open_store`), so none of them pays for it."""
        if self.engine.url.get_backend_name() == "sqlite":
            self.checkpointer = WalCheckpointer(self.engine)
            self.checkpointer.start()


def open_store(url: str) -> tuple[Engine, StoreLock]:
    """Open and migrate the store, and take it: one bot per store."""
    engine = open_engine(url, background_checkpoints=True)
    upgrade_to_head(engine)
    return engine, lock_store(engine)


def restore_bot(bot: Bot, state: BotState, engine: Engine) -> None:
    """Put back what the store holds (signals, orders, fills, the trading state) and keep
    saving the trading state as it changes."""
    _restore(bot, state)
    if bot.kernel.execution.plans_in_memory:
        _warn_unsent_plans(bot, state, engine)
    if state.trading_state is not None:
        bot.kernel.trading.restore(state.trading_state)
        logger.warning(
            "trading state restored from the store: {} ({})",
            state.trading_state.state.value,
            state.trading_state.reason,
        )
    bot.kernel.trading.listeners.append(lambda change: _save_trading_state(engine, change))


def _restore(bot: Bot, state: BotState) -> None:
    kernel = bot.kernel
    for record in state.signals:
        kernel.ledger.restore(record)
    fills = state.fills_by_order()
    for order in state.orders:
        kernel.orders.restore(order, fills.get(order.client_order_id, []))
    for fill in state.fills:
        kernel.portfolio.apply_fill(fill)
    logger.info(
        "restored {} signal(s), {} order(s) ({} open), {} fill(s) from the store",
        len(state.signals),
        len(state.orders),
        sum(1 for order in state.orders if order.is_open),
        len(state.fills),
    )


def _warn_unsent_plans(bot: Bot, state: BotState, engine: Engine) -> None:
    """An iceberg's chunks or a TWAP's slices not sent yet live in memory only: a restart
    loses them, and the signal would show what its sent orders did (`executed`) as if that
    were all. Name each such signal at start with the amount given up (its `size` less what
    its orders were sent for) and keep that reason on it (`unfilled`), so the signal says so
    and the next start does not name it again. Signals sized by notional or target are not
    checked: their base amount was fixed in the lost plan."""
    kernel = bot.kernel
    candidates = {
        (r.source, r.signal_id): r
        for r in state.signals
        if r.reason is None and r.status is not SignalStatus.REJECTED
    }
    for key, signal in load_signals(engine, candidates).items():
        record = candidates[key]
        if signal.size is None:
            continue
        sent = sum(
            (o.amount for c in record.client_order_ids if (o := kernel.orders.get(c)) is not None),
            ZERO,
        )
        if sent >= signal.size:
            continue
        given_up = format_decimal(signal.size - sent)
        logger.warning(
            "signal {}/{}: {} of its size {} was never sent and is given up: its iceberg/TWAP "
            "plan was lost in the restart (plans are kept in memory only)",
            record.source,
            record.signal_id,
            given_up,
            format_decimal(signal.size),
        )
        kernel.ledger.stopped(
            record, RejectionReason.UNFILLED, f"{given_up} never sent: plan lost in a restart"
        )


def _save_trading_state(engine: Engine, change: StateChange) -> None:
    try:
        save_trading_state(engine, change)
    except Exception:  # the switch still acts; only the record of it is missing
        logger.exception("could not save the trading state {}", change.state.value)
