"""Base of every module chosen by config (`class:` + `params:`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from trading_bot.engine.context import TradingContext


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotBound:
    """Stands in for what an object gets at `bind` (a module's context, a venue's order
    manager): any use raises `message`. Interpreted on purpose: compiled classes (see
    trading_bot/compiled.py) cannot answer for attributes they do not have."""

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(self._message)


class Component:
    """A pluggable module: validated `Params`, then bound to the running bot's context.

    Subclasses declare `Params` (a pydantic model, extra keys forbidden) so a typo in a config
    file is an error naming the key, not a silently ignored setting. `context` is a plain
    attribute (read on every signal), not a checking property.
    """

    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        self.params = (
            params if isinstance(params, BaseModel) else self.Params.model_validate(params or {})
        )
        self.context: TradingContext = NotBound(  # type: ignore[assignment]
            f"{type(self).__name__} is not bound to a running bot yet"
        )

    def bind(self, context: TradingContext) -> None:
        """Called once by the kernel before the first signal."""
        self.context = context
