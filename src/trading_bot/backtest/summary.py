"""The machine-readable summary of a backtest (`--json`) and the fills CSV (`--trades`).

Money is written as exact decimal strings; statistics (drawdown, Sharpe) as JSON numbers.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from trading_bot.backtest.equity import equity_curve
from trading_bot.backtest.runner import BacktestResult
from trading_bot.domain.market import split_symbol
from trading_bot.domain.money import ZERO, format_decimal
from trading_bot.domain.timestamps import format_ms
from trading_bot.engine.signal_ledger import SignalStatus
from trading_bot.monitoring.performance import max_drawdown, sharpe_ratio
from trading_bot.portfolio.portfolio import prices_in, value_in


def build_summary(result: BacktestResult) -> dict[str, Any]:
    bot = result.bot
    portfolio = bot.portfolio
    ledger = bot.kernel.ledger
    currency = result.currency
    final_prices = result.prices.final_prices()
    initial = value_in(portfolio.initial_balances, result.prices.first_prices(), currency)
    final = portfolio.valuation(final_prices, currency)
    times, curve = equity_curve(
        portfolio.initial_balances, portfolio.fills, result.prices.marks, currency
    )

    realized_by_symbol = {s: p.realized_pnl for s, p in sorted(portfolio.positions.items())}
    unrealized_by_symbol = portfolio.unrealized_pnl(final_prices)
    statuses = ledger.status_counts()
    rejected = ledger.rejection_counts()
    priced = {currency, *prices_in(final_prices, currency)}
    quotes = {split_symbol(symbol)[1] for symbol in realized_by_symbol}
    unpriced = sorted(
        set(final.unpriced_assets)
        | set(initial.unpriced_assets)
        | ((set(portfolio.fees_by_asset) | quotes) - priced)
    )
    return {
        "valuation_currency": currency,
        "period": {
            "start": format_ms(result.start_ms),
            "end": format_ms(result.end_ms),
            "marks": len(times),
        },
        "initial_balances": _money_map(portfolio.initial_balances),
        "final_balances": _money_map(portfolio.balances),
        "venue_balances": _money_map(result.venue.balances()),
        "initial_equity": format_decimal(initial.total),
        "final_equity": format_decimal(final.total),
        "net_pnl": format_decimal(final.total - initial.total),
        "unpriced_assets": unpriced,
        "signals": {
            "total": result.signals_total,
            "executed": statuses.get(SignalStatus.EXECUTED.value, 0),
            "rejected": sum(rejected.values()),
        },
        "rejected_signals": dict(sorted(rejected.items())),
        "orders": len(bot.orders.all_orders),
        "fills": len(portfolio.fills),
        "total_fees": format_decimal(
            value_in(portfolio.fees_by_asset, final_prices, currency).total
        ),
        "fees_by_asset": _money_map(portfolio.fees_by_asset),
        "realized_pnl": format_decimal(_sum_by_quote(realized_by_symbol, final_prices, currency)),
        "realized_pnl_by_symbol": _money_map(realized_by_symbol),
        "unrealized_pnl": format_decimal(
            _sum_by_quote(unrealized_by_symbol, final_prices, currency)
        ),
        "positions": {
            symbol: {
                "quantity": format_decimal(p.quantity),
                "average_entry_price": format_decimal(p.average_entry_price),
                "realized_pnl": format_decimal(p.realized_pnl),
            }
            for symbol, p in sorted(portfolio.positions.items())
        },
        "max_drawdown": round(max_drawdown(curve), 8),
        "sharpe": round(sharpe_ratio(curve, times), 6),
        "invalid_signals": [
            {"location": dead.location, "errors": list(dead.errors), "raw": dead.raw}
            for dead in ledger.invalid
        ],
        "warnings": result.warnings,
        "anomalies": list(bot.orders.anomalies),
    }


def write_trades_csv(result: BacktestResult, path: Path) -> int:
    """Every fill, in order, with the signal it came from. Returns the number of rows."""
    orders = result.bot.orders
    columns = [
        "time", "timestamp_ms", "signal_id", "source", "client_order_id", "trade_id", "symbol",
        "side", "amount", "price", "notional", "fee", "fee_asset", "liquidity",
    ]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        fills = result.bot.portfolio.fills
        for fill in fills:
            order = orders.get(fill.client_order_id)
            writer.writerow([
                format_ms(fill.ts_ms), fill.ts_ms,
                order.signal_id if order else "", order.source if order else "",
                fill.client_order_id, fill.trade_id, fill.symbol, fill.side.value,
                format_decimal(fill.amount), format_decimal(fill.price),
                format_decimal(fill.notional), format_decimal(fill.fee), fill.fee_asset,
                fill.liquidity.value,
            ])  # fmt: skip
    return len(fills)


def _money_map(values: dict[str, Decimal]) -> dict[str, str]:
    return {key: format_decimal(value) for key, value in sorted(values.items())}


def _sum_by_quote(
    by_symbol: dict[str, Decimal], prices: dict[str, Decimal], currency: str
) -> Decimal:
    """P&L of each market is in its quote asset; convert and add up what has a price in
    `currency` (the rest is listed per symbol and its asset under unpriced_assets)."""
    per_asset: dict[str, Decimal] = {}
    for symbol, amount in by_symbol.items():
        quote = split_symbol(symbol)[1]
        per_asset[quote] = per_asset.get(quote, ZERO) + amount
    return value_in(per_asset, prices, currency).total
