"""Loading what the bot knew before a restart, as domain objects for recovery."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal

from loguru import logger
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.signal_ledger import SignalRecord, SignalStatus
from trading_bot.risk.trading_state import StateChange, TradingState
from trading_bot.store.database import StoreError
from trading_bot.store.models import FillRow, IntakeCursorRow, KeyValueRow, OrderRow, SignalRow
from trading_bot.store.rows import fill_from_row, order_from_row
from trading_bot.store.upsert import upsert

INITIAL_BALANCES_KEY = "bot_initial_balances"
TRADING_STATE_KEY = "trading_state"
VENUE_BAN_KEY = "venue_banned_until"


@dataclass(slots=True)
class BotState:
    initial_balances: dict[str, Decimal] | None
    signals: list[SignalRecord] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)
    trading_state: StateChange | None = None

    def fills_by_order(self) -> dict[str, list[Fill]]:
        found: dict[str, list[Fill]] = {}
        for fill in self.fills:
            found.setdefault(fill.client_order_id, []).append(fill)
        return found


def load_bot_state(engine: Engine) -> BotState:
    try:
        with engine.connect() as connection:
            initial = connection.execute(
                select(KeyValueRow.value).where(KeyValueRow.key == INITIAL_BALANCES_KEY)
            ).scalar()
            trading = connection.execute(
                select(KeyValueRow.value).where(KeyValueRow.key == TRADING_STATE_KEY)
            ).scalar()
            orders = [order_from_row(row) for row in connection.execute(select(OrderRow))]
            fills = [
                fill_from_row(row)
                for row in connection.execute(
                    select(FillRow).order_by(
                        FillRow.ts_ms, FillRow.client_order_id, FillRow.trade_id
                    )
                )
            ]
            cursors = {
                row.source: row.position for row in connection.execute(select(IntakeCursorRow))
            }
            signal_rows = connection.execute(select(SignalRow)).all()
    except SQLAlchemyError as error:
        raise StoreError(f"cannot read the store: {type(error).__name__}: {error}") from None
    by_signal: dict[tuple[str, str], list[Order]] = {}
    for order in sorted(orders, key=lambda o: o.leg):
        by_signal.setdefault((order.source, order.signal_id), []).append(order)
    records = [_record(row, by_signal.get((row.source, row.signal_id), [])) for row in signal_rows]
    return BotState(
        {asset: Decimal(value) for asset, value in json.loads(initial).items()}
        if initial is not None
        else None,
        records,
        orders,
        fills,
        cursors,
        _state_change(trading) if trading is not None else None,
    )


def save_trading_state(engine: Engine, change: StateChange) -> None:
    """Keep the current trading state, so a bot halted before a restart starts halted."""
    with engine.begin() as connection:
        upsert(
            connection,
            KeyValueRow.__table__,  # type: ignore[arg-type]
            [{"key": TRADING_STATE_KEY, "value": json.dumps(change.to_dict())}],
            ["key"],
        )


def save_venue_ban(engine: Engine, until_ms: int) -> None:
    """Keep when the venue's ban (HTTP 418) ends: a restart before then must not send
    anything either, or the venue bans the bot for longer."""
    with engine.begin() as connection:
        upsert(
            connection,
            KeyValueRow.__table__,  # type: ignore[arg-type]
            [{"key": VENUE_BAN_KEY, "value": json.dumps({"until_ms": until_ms})}],
            ["key"],
        )


def load_venue_ban(engine: Engine) -> int | None:
    """When the last ban the venue gave the bot ends (epoch ms), or None if it never did.
    Read before the venue is first called, apart from `load_bot_state` which needs the venue's
    markets."""
    try:
        with engine.connect() as connection:
            text = connection.execute(
                select(KeyValueRow.value).where(KeyValueRow.key == VENUE_BAN_KEY)
            ).scalar()
    except SQLAlchemyError as error:
        raise StoreError(f"cannot read the store: {type(error).__name__}: {error}") from None
    return int(json.loads(text)["until_ms"]) if text is not None else None


def _state_change(text: str) -> StateChange:
    data = json.loads(text)
    return StateChange(
        TradingState(data["state"]), data["reason"], data["trigger"], int(data["at_ms"])
    )


def save_initial_balances(engine: Engine, balances: dict[str, Decimal]) -> None:
    with engine.begin() as connection:
        upsert(
            connection,
            KeyValueRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "key": INITIAL_BALANCES_KEY,
                    "value": json.dumps({asset: str(total) for asset, total in balances.items()}),
                }
            ],
            ["key"],
        )


def load_signals(
    engine: Engine, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], Signal]:
    """The stored signals with these (source, signal id) keys, those that can be read back:
    records keep their signal only while their orders may need it."""
    wanted = set(keys)
    found: dict[tuple[str, str], Signal] = {}
    if not wanted:
        return found
    with engine.connect() as connection:
        rows = connection.execute(
            select(SignalRow.source, SignalRow.signal_id, SignalRow.payload).where(
                SignalRow.reason.is_(None)
            )
        )
        for source, signal_id, payload in rows:
            if (source, signal_id) in wanted:
                try:
                    found[(source, signal_id)] = Signal.model_validate_json(payload)
                except ValueError:
                    continue  # reported when the records were loaded
    return found


def _record(row: SignalRow, orders: list[Order]) -> SignalRecord:
    status = SignalStatus(row.status)
    record = SignalRecord(
        row.signal_id,
        row.source,
        row.received_ms,
        status=status,
        reason=RejectionReason(row.reason) if row.reason else None,
        detail=row.detail or "",
        client_order_ids=[order.client_order_id for order in orders],
        open_orders=sum(1 for order in orders if order.is_open),
        filled=any(order.filled_amount > 0 for order in orders),
    )
    if status is SignalStatus.PENDING or record.open_orders > 0:
        # its orders may still need it (a timed-out order re-placed as a new leg)
        try:
            record.signal = Signal.model_validate_json(row.payload)
        except ValueError:
            logger.error(
                "stored signal {} cannot be read back; it will not be resumed", row.signal_id
            )
    return record
