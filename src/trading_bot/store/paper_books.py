"""The paper venue's books in the database (`paper_*` tables and its keys in `state`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.order_status import TERMINAL, OrderStatus
from trading_bot.store.held_connection import HeldConnection
from trading_bot.store.models import KeyValueRow, PaperBalanceRow, PaperFillRow, PaperOrderRow
from trading_bot.store.rows import fill_from_row, fill_row
from trading_bot.store.upsert import money, update_rows, upsert
from trading_bot.venues.paper.books import PaperBooks, PaperOrderRecord

STATE_KEY = "paper_venue"
_CLOSED = [status.value for status in TERMINAL]


class SqlPaperBookStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writing = HeldConnection(engine)

    def load(self) -> PaperBooks:
        with self._engine.connect() as connection:
            state = connection.execute(
                select(KeyValueRow.value).where(KeyValueRow.key == STATE_KEY)
            ).scalar()
            if state is None:
                return PaperBooks()
            saved = json.loads(state)
            balances = {row.asset: row.total for row in connection.execute(select(PaperBalanceRow))}
            rows = connection.execute(
                select(PaperOrderRow).where(PaperOrderRow.status.not_in(_CLOSED))
            ).all()
        return PaperBooks(
            anchor_ms=saved["anchor_ms"],
            replay=saved.get("replay"),
            balances=balances,
            order_sequence=saved["order_sequence"],
            trade_sequence=saved["trade_sequence"],
            open_orders=[_record(row) for row in rows],
            as_of_ms=saved.get("as_of_ms"),
            volume_used={
                symbol: (bar_ms, Decimal(amount))
                for symbol, (bar_ms, amount) in saved.get("volume_used", {}).items()
            },
        )

    def save(
        self,
        orders: list[PaperOrderRecord],
        fills: list[Fill],
        balances: dict[str, Decimal],
        sequences: tuple[int, int],
        anchor_ms: int,
        replay: dict[str, Any],
        as_of_ms: int,
        volume_used: dict[str, tuple[int, Decimal]],
    ) -> None:
        state = {
            "anchor_ms": anchor_ms,
            "as_of_ms": as_of_ms,
            "volume_used": {s: [ms, str(amount)] for s, (ms, amount) in volume_used.items()},
            "replay": replay,
            "order_sequence": sequences[0],
            "trade_sequence": sequences[1],
        }
        with self._writing.begin() as connection:
            table = PaperOrderRow.__table__
            new = [r for r in orders if not r.stored]
            changed = [_changes(r) for r in orders if r.stored]
            if not update_rows(connection, table, _CHANGES, ("client_order_id",), changed):  # type: ignore[arg-type]
                new = orders  # a row was missing: write every one whole
            upsert(connection, table, [_row(r) for r in new], ["client_order_id"], update=_CHANGES)  # type: ignore[arg-type]
            if fills:
                rows = [fill_row(fill) for fill in fills]
                upsert(connection, PaperFillRow.__table__, rows, ["trade_id"])  # type: ignore[arg-type]
            upsert(
                connection,
                PaperBalanceRow.__table__,  # type: ignore[arg-type]
                [{"asset": asset, "total": money(total)} for asset, total in balances.items()],
                ["asset"],
            )
            upsert(
                connection,
                KeyValueRow.__table__,  # type: ignore[arg-type]
                [{"key": STATE_KEY, "value": json.dumps(state)}],
                ["key"],
            )

    def close(self) -> None:
        self._writing.close()

    def find_order(self, client_order_id: str) -> tuple[PaperOrderRecord, list[Fill]] | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(PaperOrderRow).where(PaperOrderRow.client_order_id == client_order_id)
            ).first()
            if row is None:
                return None
            return _record(row), self._fills(connection, [client_order_id])[client_order_id]

    def open_orders(self) -> list[tuple[PaperOrderRecord, list[Fill]]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(PaperOrderRow).where(PaperOrderRow.status.not_in(_CLOSED))
            ).all()
            fills = self._fills(connection, [row.client_order_id for row in rows])
        return [(_record(row), fills[row.client_order_id]) for row in rows]

    def balances(self) -> dict[str, Decimal]:
        with self._engine.connect() as connection:
            return {row.asset: row.total for row in connection.execute(select(PaperBalanceRow))}

    def client_order_ids(self) -> list[str]:
        with self._engine.connect() as connection:
            return list(connection.execute(select(PaperOrderRow.client_order_id)).scalars())

    @staticmethod
    def _fills(connection: Any, ids: list[str]) -> dict[str, list[Fill]]:
        found: dict[str, list[Fill]] = {coid: [] for coid in ids}
        if ids:
            for row in connection.execute(
                select(PaperFillRow)
                .where(PaperFillRow.client_order_id.in_(ids))
                .order_by(PaperFillRow.ts_ms)
            ):
                found[row.client_order_id].append(fill_from_row(row))
        return found


# what can change once the venue has an order (the rest is fixed when it arrives)
_CHANGES = (
    "venue_order_id",
    "amount",
    "price",
    "trigger_price",
    "filled",
    "accepted",
    "triggered",
    "status",
    "reason",
    "detail",
    "updated_ms",
    "matched_from_ms",
)


def _row(record: PaperOrderRecord) -> dict[str, Any]:
    return {
        "client_order_id": record.client_order_id,
        "venue_order_id": record.venue_order_id,
        "symbol": record.symbol,
        "side": record.side._value_,
        "order_type": record.order_type._value_,
        "amount": str(record.amount),
        "price": money(record.price),
        "trigger_price": money(record.trigger_price),
        "time_in_force": record.time_in_force._value_,
        "post_only": record.post_only,
        "oco_group": record.oco_group,
        "expires_at_ms": record.expires_at_ms,
        "filled": str(record.filled),
        "accepted": record.accepted,
        "triggered": record.triggered,
        "status": record.status._value_,
        "reason": record.reason,
        "detail": record.detail,
        "created_ms": record.created_ms,
        "updated_ms": record.updated_ms,
        "matched_from_ms": record.matched_from_ms,
    }


def _changes(record: PaperOrderRecord) -> tuple[Any, ...]:
    """The `_CHANGES` values of a stored record, then its key."""
    return (
        record.venue_order_id,
        str(record.amount),
        money(record.price),
        money(record.trigger_price),
        str(record.filled),
        record.accepted,
        record.triggered,
        record.status._value_,
        record.reason,
        record.detail,
        record.updated_ms,
        record.matched_from_ms,
        record.client_order_id,
    )


def _record(row: Any) -> PaperOrderRecord:
    return PaperOrderRecord(
        client_order_id=row.client_order_id,
        venue_order_id=row.venue_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        amount=row.amount,
        price=row.price,
        trigger_price=row.trigger_price,
        time_in_force=TimeInForce(row.time_in_force),
        post_only=row.post_only,
        oco_group=row.oco_group,
        expires_at_ms=row.expires_at_ms,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        filled=row.filled,
        accepted=row.accepted,
        triggered=row.triggered,
        status=OrderStatus(row.status),
        reason=row.reason,
        detail=row.detail or "",
        stored=True,
        matched_from_ms=row.matched_from_ms,
    )
