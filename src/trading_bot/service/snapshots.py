"""Periodic snapshots for reports and dashboards: positions, balances and the equity curve.

They are derived data (fills are the truth the bot rebuilds from), so they are written on a
timer and at shutdown, not on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Engine, insert

from trading_bot.app import Bot
from trading_bot.engine.context import PriceView
from trading_bot.store.models import BalanceSnapshotRow, EquityPointRow, PositionRow
from trading_bot.store.upsert import money, upsert


def write_snapshot(
    engine: Engine, bot: Bot, prices: PriceView, symbols: Iterable[str], currency: str
) -> None:
    now = bot.clock.now_ms()
    portfolio = bot.portfolio
    marks: dict[str, Decimal] = {}
    for symbol in symbols:
        price = prices.last_price(symbol)
        if price is not None:
            marks[symbol] = price
    valuation = portfolio.valuation(marks, currency)
    with engine.begin() as connection:
        upsert(
            connection,
            PositionRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "symbol": symbol,
                    "quantity": money(position.quantity),
                    "average_entry_price": money(position.average_entry_price),
                    "realized_pnl": money(position.realized_pnl),
                    "updated_ms": now,
                }
                for symbol, position in portfolio.positions.items()
            ],
            ["symbol"],
        )
        rows = [
            {"ts_ms": now, "kind": "bot", "asset": asset, "total": total}
            for asset, total in sorted(portfolio.balances.items())
        ]
        rows += [
            {"ts_ms": now, "kind": "venue", "asset": asset, "total": total}
            for asset, total in sorted(bot.venue.balances().items())
        ]
        connection.execute(insert(BalanceSnapshotRow), rows)
        if not valuation.unpriced_assets:
            connection.execute(
                insert(EquityPointRow),
                [{"ts_ms": now, "currency": currency, "equity": valuation.total}],
            )
