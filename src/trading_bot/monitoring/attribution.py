"""The attribution report (`trading-bot report`): what each strategy and source did.

Realized P&L is FIFO per (strategy, source, user) and symbol: each attribution has its own
lots, so one strategy's buys never close another's sells. Slippage is the volume-weighted
average fill price against the signal's expected price (its `price`, else
`metadata.expected_price`), in basis points, positive when the fill was worse for the trader.
Fill ratio is filled amount over the amount first ordered (re-prices of a timed-out order do
not count twice). The report also sets the bot's books (initial balances plus every recorded
fill) against the paper venue's own, which must agree to the last decimal.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select

from trading_bot.domain.enums import Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import split_symbol
from trading_bot.domain.money import ZERO, format_decimal
from trading_bot.domain.position import Position
from trading_bot.portfolio.portfolio import Portfolio
from trading_bot.store.bot_state import INITIAL_BALANCES_KEY, TRADING_STATE_KEY
from trading_bot.store.models import (
    DeadLetterRow,
    DuplicateSignalRow,
    FillRow,
    KeyValueRow,
    OrderRow,
    PaperBalanceRow,
    PaperFillRow,
    PaperOrderRow,
    SignalRow,
)
from trading_bot.store.paper_books import STATE_KEY as PAPER_STATE_KEY
from trading_bot.store.rows import fill_from_row

BPS = Decimal(10_000)
Key = tuple[str, str, str]


@dataclass(slots=True)
class _Attribution:
    signals: int = 0
    executed: int = 0
    rejected: int = 0
    orders: int = 0
    ordered: Decimal = ZERO
    filled: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    realized_pnl: dict[str, Decimal] = field(default_factory=dict)
    slippage_cost: Decimal = ZERO  # sum of (fill - expected) x amount, signed for the trader
    slippage_notional: Decimal = ZERO


def build_report(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        signals = connection.execute(select(SignalRow)).all()
        orders = connection.execute(select(OrderRow)).all()
        fills = [
            fill_from_row(row)
            for row in connection.execute(
                select(FillRow).order_by(FillRow.ts_ms, FillRow.client_order_id, FillRow.trade_id)
            )
        ]
        duplicates = connection.execute(
            select(func.count()).select_from(DuplicateSignalRow)
        ).scalar()
        dead = connection.execute(select(func.count()).select_from(DeadLetterRow)).scalar()
        initial_text = connection.execute(
            select(KeyValueRow.value).where(KeyValueRow.key == INITIAL_BALANCES_KEY)
        ).scalar()
        venue_balances = {r.asset: r.total for r in connection.execute(select(PaperBalanceRow))}
        venue_orders = connection.execute(select(func.count()).select_from(PaperOrderRow)).scalar()
        paper_venue = connection.execute(
            select(KeyValueRow.value).where(KeyValueRow.key == PAPER_STATE_KEY)
        ).scalar()
        venue_fills = [fill_from_row(row) for row in connection.execute(select(PaperFillRow))]
        trading_text = connection.execute(
            select(KeyValueRow.value).where(KeyValueRow.key == TRADING_STATE_KEY)
        ).scalar()

    by_key: dict[Key, _Attribution] = {}
    expected: dict[tuple[str, str], Decimal | None] = {}
    for row in signals:
        key = (row.strategy or "-", row.source or "-", row.user or "-")
        item = by_key.setdefault(key, _Attribution())
        item.signals += 1
        item.executed += row.status == "executed"
        item.rejected += row.status == "rejected"
        expected[(row.source, row.signal_id)] = row.expected_price
    order_key: dict[str, Key] = {}
    order_info: dict[str, Any] = {}
    for row in orders:
        key = (row.strategy or "-", row.signal_source or "-", row.user or "-")
        order_key[row.client_order_id] = key
        order_info[row.client_order_id] = row
        item = by_key.setdefault(key, _Attribution())
        item.orders += 1
        if row.leg == 0:
            item.ordered += row.amount
    initial = (
        {asset: Decimal(value) for asset, value in json.loads(initial_text).items()}
        if initial_text
        else {}
    )
    book = Portfolio(initial)  # the bot's books: initial balances plus every recorded fill
    positions: dict[tuple[Key, str], Position] = {}
    for fill in fills:
        key = order_key.get(fill.client_order_id, ("-", "-", "-"))
        item = by_key.setdefault(key, _Attribution())
        quote = split_symbol(fill.symbol)[1]
        sign = 1 if fill.side is Side.BUY else -1
        book.apply_fill(fill)
        item.filled += fill.amount
        item.fees[fill.fee_asset] = item.fees.get(fill.fee_asset, ZERO) + fill.fee
        position = positions.setdefault((key, fill.symbol), Position(fill.symbol))
        realized = position.apply_fill(fill.side, fill.amount, fill.price)
        item.realized_pnl[quote] = item.realized_pnl.get(quote, ZERO) + realized
        info = order_info.get(fill.client_order_id)
        price = expected.get((info.signal_source, info.signal_id)) if info is not None else None
        if price:
            item.slippage_cost += sign * (fill.price - price) * fill.amount
            item.slippage_notional += price * fill.amount

    books = _books(book, venue_fills, venue_balances, venue_orders, paper_venue)
    return {
        # the kill switch's state as the bot last saved it (null: never changed, so active)
        "trading_state": json.loads(trading_text) if trading_text else None,
        "signals": {
            "by_status": dict(Counter(row.status for row in signals)),
            # a pending signal may carry a reason (an order timed out, its reprice pending)
            "rejection_reasons": dict(
                Counter(row.reason for row in signals if row.reason and row.status == "rejected")
            ),
            "duplicates": duplicates,
            "invalid": dead,
        },
        "orders": {"by_status": dict(Counter(row.status for row in orders))},
        "fills": len(fills),
        "attribution": [_attribution_row(key, item) for key, item in sorted(by_key.items())],
        "positions": {
            symbol: {
                "quantity": format_decimal(p.quantity),
                "realized_pnl": format_decimal(p.realized_pnl),
                "pnl_method": "FIFO",
            }
            for symbol, p in sorted(book.positions.items())
        },
        "books": books,
    }


def _books(
    book: Portfolio,
    venue_fills: list[Fill],
    venue_balances: dict[str, Decimal],
    venue_orders: int | None,
    paper_venue: str | None,
) -> dict[str, Any]:
    """The bot's books against the paper venue's. While the bot runs, the venue may have
    committed fills the bot has not recorded yet (the venue writes first): those are counted
    and added before comparing, so a running bot is not reported as disagreeing."""
    books: dict[str, Any] = {
        "bot_balances": {a: format_decimal(v) for a, v in sorted(book.balances.items())},
        "venue_balances": {a: format_decimal(v) for a, v in sorted(venue_balances.items())},
        "venue_orders": venue_orders,
        "agree": None,  # no paper venue in this store
    }
    if paper_venue is None:
        return books
    recorded = {(f.client_order_id, f.trade_id) for f in book.fills}
    at_venue = {(f.client_order_id, f.trade_id) for f in venue_fills}
    pending = [f for f in venue_fills if (f.client_order_id, f.trade_id) not in recorded]
    unknown = len(recorded - at_venue)
    expected = Portfolio(book.balances)
    for fill in pending:
        expected.apply_fill(fill)
    books["venue_fills_not_yet_recorded"] = len(pending)
    books["bot_fills_unknown_to_venue"] = unknown
    books["agree"] = unknown == 0 and _same(expected.balances, venue_balances)
    return books


def _same(a: dict[str, Decimal], b: dict[str, Decimal]) -> bool:
    return all(a.get(k, ZERO) == b.get(k, ZERO) for k in set(a) | set(b))


def _attribution_row(key: Key, item: _Attribution) -> dict[str, Any]:
    slippage = (
        (item.slippage_cost / item.slippage_notional * BPS).quantize(Decimal("0.01"))
        if item.slippage_notional
        else None
    )
    ratio = (item.filled / item.ordered).quantize(Decimal("0.0001")) if item.ordered else None
    return {
        "strategy": key[0],
        "source": key[1],
        "user": key[2],
        "signals": item.signals,
        "executed": item.executed,
        "rejected": item.rejected,
        "orders": item.orders,
        "fill_ratio": str(ratio) if ratio is not None else None,
        "realized_pnl": {k: format_decimal(v) for k, v in sorted(item.realized_pnl.items())},
        "fees": {k: format_decimal(v) for k, v in sorted(item.fees.items())},
        "slippage_bps": str(slippage) if slippage is not None else None,
    }


def print_report(console: Console, report: dict[str, Any]) -> None:
    trading = report["trading_state"]
    if trading is not None and trading["state"] != "active":
        console.print(
            f"trading: {trading['state'].upper()} since {_utc(trading['at_ms'])} "
            f"({trading['trigger']}: "
            f"{trading['reason']})",
            highlight=False,
            markup=False,
        )
    signals = report["signals"]
    console.print(
        f"signals: {signals['by_status']}  duplicates: {signals['duplicates']}  "
        f"invalid: {signals['invalid']}",
        highlight=False,
    )
    if signals["rejection_reasons"]:
        console.print(f"rejections: {signals['rejection_reasons']}", highlight=False)
    console.print(
        f"orders: {report['orders']['by_status']}  fills: {report['fills']}", highlight=False
    )
    table = Table(title="attribution (realized P&L: FIFO per strategy/source/user)")
    for column in ("strategy", "source", "user", "signals", "executed", "rejected", "orders",
                   "fill ratio", "realized P&L", "fees", "slippage bps"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for row in report["attribution"]:
        table.add_row(
            row["strategy"], row["source"], row["user"], str(row["signals"]), str(row["executed"]),
            str(row["rejected"]), str(row["orders"]), row["fill_ratio"] or "-",
            ", ".join(f"{v} {k}" for k, v in row["realized_pnl"].items()) or "-",
            ", ".join(f"{v} {k}" for k, v in row["fees"].items()) or "-",
            row["slippage_bps"] or "-",
        )  # fmt: skip
    console.print(table)
    books = report["books"]
    console.print(f"bot balances:   {books['bot_balances']}", highlight=False)
    if books["agree"] is not None:
        console.print(f"venue balances: {books['venue_balances']}", highlight=False)
        if books["venue_fills_not_yet_recorded"]:
            console.print(
                f"({books['venue_fills_not_yet_recorded']} venue fill(s) not recorded by the "
                "bot yet: it is running; counted above)",
                highlight=False,
            )
        console.print(
            "books agree with the paper venue"
            if books["agree"]
            else "[bold red]books DISAGREE with the paper venue[/]"
        )


def _utc(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
