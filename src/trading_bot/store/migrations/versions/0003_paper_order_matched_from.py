"""paper_orders.matched_from_ms: when the paper venue last started matching an order afresh

Its acknowledgement (arrival, after simulated latency) or its last modification. A restart
that catches up on the replayed data missed since the venue's last commit needs it to tell an
order resting then from one still waiting for its first bar. Rows from before it hold NULL
(the order's creation time is used).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paper_orders") as batch:
        batch.add_column(sa.Column("matched_from_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paper_orders") as batch:
        batch.drop_column("matched_from_ms")
