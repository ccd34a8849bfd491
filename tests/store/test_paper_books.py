"""The paper venue's books in the store: new orders written whole, known ones by their
changing columns, and a known order whose row went missing written whole again."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from tests.service.rig import store
from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.order_status import OrderStatus
from trading_bot.store.paper_books import SqlPaperBookStore
from trading_bot.venues.paper.books import PaperOrderRecord


def _record() -> PaperOrderRecord:
    return PaperOrderRecord(
        "c1", "", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.5"), Decimal("100"), None,
        TimeInForce.GTC, False, None, None, 1, 1,
    )  # fmt: skip


def _save(books: SqlPaperBookStore, record: PaperOrderRecord) -> None:
    books.save([record], [], {"USDT": Decimal(1000)}, (1, 0), 1, {}, 1, {})
    record.stored = True  # as the venue marks it once committed


def test_a_known_order_is_updated_and_a_missing_row_is_written_whole(tmp_path: Path) -> None:
    engine = store(tmp_path)
    books = SqlPaperBookStore(engine)
    record = _record()
    _save(books, record)
    record.venue_order_id, record.filled, record.status = (
        "v1",
        Decimal("0.2"),
        OrderStatus.PARTIALLY_FILLED,
    )
    _save(books, record)
    query = "SELECT venue_order_id, filled, status, symbol FROM paper_orders"
    with engine.connect() as c:
        assert tuple(c.execute(text(query)).one()) == ("v1", "0.2", "partially_filled", "BTC/USDT")
        c.execute(text("DELETE FROM paper_orders"))
        c.commit()
    record.filled, record.status = Decimal("0.5"), OrderStatus.FILLED
    _save(books, record)
    with engine.connect() as c:
        assert tuple(c.execute(text(query)).one()) == ("v1", "0.5", "filled", "BTC/USDT")
    (found, fills) = books.find_order("c1") or (None, None)
    assert found is not None and found.stored and fills == []
