"""The human-readable backtest summary printed at the end of a run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    currency = summary["valuation_currency"]
    period = summary["period"]
    table = Table(title="Backtest summary", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    start, end = (period[k][:16].replace("T", " ") for k in ("start", "end"))
    table.add_row("period (UTC)", f"{start} -> {end}")
    signals = summary["signals"]
    table.add_row(
        "signals",
        f"{signals['total']} total, {signals['executed']} executed, {signals['rejected']} rejected",
    )
    for reason, count in summary["rejected_signals"].items():
        table.add_row(f"  rejected: {reason}", str(count))
    table.add_row("orders / fills", f"{summary['orders']} / {summary['fills']}")
    table.add_row(f"initial equity ({currency})", summary["initial_equity"])
    table.add_row(f"final equity ({currency})", summary["final_equity"])
    table.add_row(f"net P&L ({currency})", summary["net_pnl"])
    table.add_row(f"realized P&L ({currency})", summary["realized_pnl"])
    table.add_row(f"total fees ({currency})", summary["total_fees"])
    table.add_row("max drawdown", f"{summary['max_drawdown']:.2%}")
    table.add_row("sharpe (annualized)", f"{summary['sharpe']:.3f}")
    for asset, amount in summary["final_balances"].items():
        table.add_row(f"balance {asset}", amount)
    if summary["unpriced_assets"]:
        table.add_row("unpriced assets", ", ".join(summary["unpriced_assets"]))
    console.print(table)
