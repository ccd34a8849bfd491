"""drop the status indexes of signals, orders and paper_orders

No query looks rows up by status (restarts read every order, the paper venue's open orders
are found with NOT IN, which no index serves), while every status change rewrote an index
entry: about a fifth of the cost of writing an order's row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_signals_status", "signals"),
    ("ix_orders_status", "orders"),
    ("ix_paper_orders_status", "paper_orders"),
)


def upgrade() -> None:
    for name, table in INDEXES:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table in INDEXES:
        op.create_index(name, table, ["status"], unique=False)
