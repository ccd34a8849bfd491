"""Kill-switch commands for a running bot, passed through its store.

`trading-bot halt|reduce|resume` runs as its own process, usually from another shell; the bot
holds the store, so the store is the channel: the command writes one row (`trading_command`
in the `state` table) with a fresh id, and the running bot, which looks every second, applies
it and marks it applied. A command written while no bot runs is applied when the next one
starts. Only the newest command counts: each is a whole instruction (halt, reduce, resume),
not a delta, so a later one simply replaces an earlier one not yet applied.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, select, update

from trading_bot.store.models import KeyValueRow
from trading_bot.store.upsert import upsert

COMMAND_KEY = "trading_command"
Command = Literal["halt", "reduce", "resume"]


@dataclass(frozen=True, slots=True)
class TradingCommand:
    id: str
    command: Command
    reason: str
    flatten: bool | None = None  # halt only: None keeps the config's `risk.flatten_on_halt`
    applied: bool = False
    outcome: str = ""  # what the bot did, once applied

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "command": self.command,
                "reason": self.reason,
                "flatten": self.flatten,
                "applied": self.applied,
                "outcome": self.outcome,
            }
        )


def issue_command(
    engine: Engine, command: Command, reason: str, flatten: bool | None = None
) -> TradingCommand:
    issued = TradingCommand(uuid.uuid4().hex, command, reason, flatten)
    _write(engine, issued)
    return issued


def read_command(engine: Engine) -> TradingCommand | None:
    with engine.connect() as connection:
        text = connection.execute(
            select(KeyValueRow.value).where(KeyValueRow.key == COMMAND_KEY)
        ).scalar()
    if text is None:
        return None
    data: dict[str, Any] = json.loads(text)
    return TradingCommand(
        str(data["id"]),
        data["command"],
        str(data.get("reason", "")),
        data.get("flatten"),
        bool(data.get("applied")),
        str(data.get("outcome", "")),
    )


def mark_applied(engine: Engine, command: TradingCommand, outcome: str) -> None:
    """Written only if the row still holds this command, in one statement: a newer command
    written meanwhile must not be overwritten as applied."""
    done = TradingCommand(
        command.id, command.command, command.reason, command.flatten, True, outcome
    )
    with engine.begin() as connection:
        connection.execute(
            update(KeyValueRow)
            .where(KeyValueRow.key == COMMAND_KEY)
            .where(KeyValueRow.value.contains(f'"id": "{command.id}"'))
            .values(value=done.to_json())
        )


def _write(engine: Engine, command: TradingCommand) -> None:
    with engine.begin() as connection:
        upsert(
            connection,
            KeyValueRow.__table__,  # type: ignore[arg-type]
            [{"key": COMMAND_KEY, "value": command.to_json()}],
            ["key"],
        )
