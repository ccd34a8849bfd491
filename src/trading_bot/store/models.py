"""The store's schema. Alembic migrations (store/migrations) build exactly this; a test checks
that they agree.

Bot tables hold what the bot knows: signals and their outcome, orders with every state change,
fills, position and balance snapshots, the equity curve and intake cursors. `paper_*` tables
are the paper venue's own books, kept apart as a real exchange's would be, so the bot can be
reconciled against them after a crash.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from trading_bot.store.types import ExactDecimal

ID = String(200)


class Base(DeclarativeBase):
    pass


class SignalRow(Base):
    __tablename__ = "signals"

    source: Mapped[str] = mapped_column(ID, primary_key=True)
    signal_id: Mapped[str] = mapped_column(ID, primary_key=True)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    asset: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str | None] = mapped_column(ID)
    user: Mapped[str | None] = mapped_column(ID)
    expected_price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    payload: Mapped[str] = mapped_column(Text)


class DuplicateSignalRow(Base):
    __tablename__ = "duplicate_signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(ID)
    signal_id: Mapped[str] = mapped_column(ID)
    received_ms: Mapped[int] = mapped_column(BigInteger)


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    location: Mapped[str] = mapped_column(Text)
    errors: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class OrderRow(Base):
    __tablename__ = "orders"

    client_order_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    signal_source: Mapped[str] = mapped_column(ID)
    signal_id: Mapped[str] = mapped_column(ID)
    leg: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str | None] = mapped_column(ID)
    user: Mapped[str | None] = mapped_column(ID)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    trigger_price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    time_in_force: Mapped[str] = mapped_column(String(8))
    post_only: Mapped[bool] = mapped_column(Boolean)
    oco_group: Mapped[str | None] = mapped_column(String(80))
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    timeout_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    venue_order_id: Mapped[str | None] = mapped_column(String(80))
    filled_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    filled_notional: Mapped[Decimal] = mapped_column(ExactDecimal)
    fees: Mapped[Decimal] = mapped_column(ExactDecimal)
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    reject_detail: Mapped[str] = mapped_column(Text, default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_orders_signal", "signal_source", "signal_id"),)


class OrderEventRow(Base):
    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(80), index=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")


class FillRow(Base):
    __tablename__ = "fills"

    client_order_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    trade_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    price: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee_asset: Mapped[str] = mapped_column(String(20))
    liquidity: Mapped[str] = mapped_column(String(5))
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class PositionRow(Base):
    __tablename__ = "positions"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    average_entry_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    realized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class BalanceSnapshotRow(Base):
    __tablename__ = "balance_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # initial | bot | venue
    asset: Mapped[str] = mapped_column(String(20))
    total: Mapped[Decimal] = mapped_column(ExactDecimal)


class EquityPointRow(Base):
    __tablename__ = "equity_curve"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    currency: Mapped[str] = mapped_column(String(20))
    equity: Mapped[Decimal] = mapped_column(ExactDecimal)


class IntakeCursorRow(Base):
    __tablename__ = "intake_cursors"

    source: Mapped[str] = mapped_column(ID, primary_key=True)
    position: Mapped[str] = mapped_column(Text)


class RecoveryRunRow(Base):
    __tablename__ = "recovery_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(20))
    report: Mapped[str] = mapped_column(Text)


class PaperOrderRow(Base):
    __tablename__ = "paper_orders"

    client_order_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    venue_order_id: Mapped[str] = mapped_column(String(80))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    trigger_price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    time_in_force: Mapped[str] = mapped_column(String(8))
    post_only: Mapped[bool] = mapped_column(Boolean)
    oco_group: Mapped[str | None] = mapped_column(String(80))
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    filled: Mapped[Decimal] = mapped_column(ExactDecimal)
    accepted: Mapped[bool] = mapped_column(Boolean)
    triggered: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    # when it was last matched afresh (acknowledged, or modified): see migration 0003
    matched_from_ms: Mapped[int | None] = mapped_column(BigInteger)


class PaperFillRow(Base):
    __tablename__ = "paper_fills"

    trade_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(80), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    price: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee_asset: Mapped[str] = mapped_column(String(20))
    liquidity: Mapped[str] = mapped_column(String(5))
    ts_ms: Mapped[int] = mapped_column(BigInteger)


class PaperBalanceRow(Base):
    __tablename__ = "paper_balances"

    asset: Mapped[str] = mapped_column(String(20), primary_key=True)
    total: Mapped[Decimal] = mapped_column(ExactDecimal)


class KeyValueRow(Base):
    """Small named facts: the bot's initial balances, the paper venue's counters and replay
    anchor. One row per key, JSON text."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
