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
from trading_bot.engine.context import PriceView
from trading_bot.monitoring.alerts import Alerter
from trading_bot.risk.trading_state import StateChange
from trading_bot.store.bot_state import BotState, save_trading_state
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


def open_store(url: str) -> tuple[Engine, StoreLock]:
    """Open and migrate the store, and take it: one bot per store."""
    engine = open_engine(url, background_checkpoints=True)
    upgrade_to_head(engine)
    return engine, lock_store(engine)


def restore_bot(bot: Bot, state: BotState, engine: Engine) -> None:
    """Put back what the store holds (signals, orders, fills, the trading state) and keep
    saving the trading state as it changes."""
    _restore(bot, state)
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


def _save_trading_state(engine: Engine, change: StateChange) -> None:
    try:
        save_trading_state(engine, change)
    except Exception:  # the switch still acts; only the record of it is missing
        logger.exception("could not save the trading state {}", change.state.value)
