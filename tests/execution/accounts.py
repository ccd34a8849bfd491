"""Changing the simulated venue's account behind the bot's back, for execution tests."""

from __future__ import annotations

from decimal import Decimal

from trading_bot.app import Bot


def withdraw(b: Bot, btc: str) -> None:
    """Leave the venue `btc` BTC while the bot's books keep what it started with (base taken
    out of the account behind the bot's back): the signal passes the bot's own balance check
    and later orders meet the venue's refusal."""
    account = b.venue.account  # type: ignore[attr-defined]
    account.total["BTC"] = Decimal(btc)
    account.version += 1
