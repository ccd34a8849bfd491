"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 02:55:22.991780
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import trading_bot.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "balance_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("asset", sa.String(length=20), nullable=False),
        sa.Column("total", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("balance_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_balance_snapshots_ts_ms"), ["ts_ms"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "duplicate_signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("signal_id", sa.String(length=200), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "equity_curve",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=20), nullable=False),
        sa.Column("equity", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("equity_curve", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_equity_curve_ts_ms"), ["ts_ms"], unique=False)

    op.create_table(
        "fills",
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("trade_id", sa.String(length=80), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("amount", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("price", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("fee", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("fee_asset", sa.String(length=20), nullable=False),
        sa.Column("liquidity", sa.String(length=5), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", "trade_id"),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_ts_ms"), ["ts_ms"], unique=False)

    op.create_table(
        "intake_cursors",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_events_client_order_id"), ["client_order_id"], unique=False
        )

    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("signal_source", sa.String(length=200), nullable=False),
        sa.Column("signal_id", sa.String(length=200), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=200), nullable=True),
        sa.Column("user", sa.String(length=200), nullable=True),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=20), nullable=False),
        sa.Column("amount", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("price", trading_bot.store.types.ExactDecimal(length=80), nullable=True),
        sa.Column("trigger_price", trading_bot.store.types.ExactDecimal(length=80), nullable=True),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("oco_group", sa.String(length=80), nullable=True),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("timeout_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("venue_order_id", sa.String(length=80), nullable=True),
        sa.Column("filled_amount", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column(
            "filled_notional", trading_bot.store.types.ExactDecimal(length=80), nullable=False
        ),
        sa.Column("fees", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("reject_reason", sa.String(length=40), nullable=True),
        sa.Column("reject_detail", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_signal", ["signal_source", "signal_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    op.create_table(
        "paper_balances",
        sa.Column("asset", sa.String(length=20), nullable=False),
        sa.Column("total", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.PrimaryKeyConstraint("asset"),
    )
    op.create_table(
        "paper_fills",
        sa.Column("trade_id", sa.String(length=80), nullable=False),
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("amount", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("price", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("fee", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("fee_asset", sa.String(length=20), nullable=False),
        sa.Column("liquidity", sa.String(length=5), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("trade_id"),
    )
    with op.batch_alter_table("paper_fills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_paper_fills_client_order_id"), ["client_order_id"], unique=False
        )

    op.create_table(
        "paper_orders",
        sa.Column("client_order_id", sa.String(length=80), nullable=False),
        sa.Column("venue_order_id", sa.String(length=80), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=20), nullable=False),
        sa.Column("amount", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("price", trading_bot.store.types.ExactDecimal(length=80), nullable=True),
        sa.Column("trigger_price", trading_bot.store.types.ExactDecimal(length=80), nullable=True),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("oco_group", sa.String(length=80), nullable=True),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("filled", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("triggered", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id"),
    )
    with op.batch_alter_table("paper_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_orders_status"), ["status"], unique=False)

    op.create_table(
        "positions",
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("quantity", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column(
            "average_entry_price", trading_bot.store.types.ExactDecimal(length=80), nullable=False
        ),
        sa.Column("realized_pnl", trading_bot.store.types.ExactDecimal(length=80), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_table(
        "recovery_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "signals",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("signal_id", sa.String(length=200), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=200), nullable=True),
        sa.Column("user", sa.String(length=200), nullable=True),
        sa.Column("expected_price", trading_bot.store.types.ExactDecimal(length=80), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("source", "signal_id"),
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signals_status"), ["status"], unique=False)

    op.create_table(
        "state",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("state")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signals_status"))

    op.drop_table("signals")
    op.drop_table("recovery_runs")
    op.drop_table("positions")
    with op.batch_alter_table("paper_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_orders_status"))

    op.drop_table("paper_orders")
    with op.batch_alter_table("paper_fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_fills_client_order_id"))

    op.drop_table("paper_fills")
    op.drop_table("paper_balances")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index("ix_orders_signal")

    op.drop_table("orders")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_client_order_id"))

    op.drop_table("order_events")
    op.drop_table("intake_cursors")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_ts_ms"))

    op.drop_table("fills")
    with op.batch_alter_table("equity_curve", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_equity_curve_ts_ms"))

    op.drop_table("equity_curve")
    op.drop_table("duplicate_signals")
    op.drop_table("dead_letters")
    with op.batch_alter_table("balance_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_balance_snapshots_ts_ms"))

    op.drop_table("balance_snapshots")
