"""ExposureLimit: cap the value of each order and the bot's total exposure, in the valuation
currency.

Exposure is what the bot's own positions (from fills) and open orders are worth at the
prices known now, so orders in flight count before they fill and a signal that is later
rejected never counts.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading_bot.domain.enums import Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.money import ZERO
from trading_bot.domain.rejections import RejectionReason
from trading_bot.risk.base import RiskCheck, RiskDecision
from trading_bot.risk.holdings import closing_part, quote_rate, round_down, valuation_currency

_BUY = Side.BUY


class ExposureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_order_notional: Decimal | None = Field(
        default=None, gt=0, description="largest value of one order, in the valuation currency"
    )
    max_total_exposure: Decimal | None = Field(
        default=None,
        gt=0,
        description="largest value of all positions plus open orders, in the valuation currency",
    )

    @model_validator(mode="after")
    def _some_limit(self) -> ExposureParams:
        if self.max_order_notional is None and self.max_total_exposure is None:
            raise ValueError("set max_order_notional, max_total_exposure or both")
        return self


class ExposureLimit(RiskCheck):
    """Values are in the valuation currency: a symbol's price times the price of its quote
    in that currency (`QUOTE/currency`). The order, and the position in its own symbol, are
    valued at the order's reference price; other symbols at their last price.

    - `max_order_notional`: a bigger order is cut to that value (rejected with
      `max_order_notional` if the market's amount step leaves nothing).
    - `max_total_exposure`: the sum over symbols of |position| x price, where each position
      counts its open orders on the side that makes it largest (the worst case). An order that
      would take the sum past the limit is cut to the room left, or rejected with
      `max_exposure` when there is none.

    Orders that only shrink a position pass both limits. An order or a held position that
    cannot be valued (no price known yet) is rejected with `no_market_data`: exposure that
    cannot be measured is not assumed to be small.
    """

    Params = ExposureParams
    params: ExposureParams

    def check(self, intent: TradeIntent) -> RiskDecision:
        context = self.context
        if closing_part(context, intent) == intent.amount:
            return RiskDecision.approve()
        currency = valuation_currency(context, intent.symbol)
        price = intent.reference_price or context.prices.last_price(intent.symbol)
        rate = quote_rate(context, intent.symbol, currency)
        if price is None or rate is None:
            return RiskDecision.reject(
                RejectionReason.NO_MARKET_DATA,
                f"cannot value {intent.symbol} in {currency}: no price known yet",
            )
        unit_value = price * rate  # one base unit, in the valuation currency
        allowed = intent.amount
        reason = RejectionReason.MAX_ORDER_NOTIONAL
        limit = self.params.max_order_notional
        if limit is not None and allowed * unit_value > limit:
            allowed = limit / unit_value
        total_limit = self.params.max_total_exposure
        if total_limit is not None:
            room = self._room(intent, currency, unit_value, total_limit)
            if isinstance(room, RiskDecision):
                return room
            if room < allowed:
                allowed, reason = room, RejectionReason.MAX_EXPOSURE
        if allowed == intent.amount:
            return RiskDecision.approve()
        allowed = round_down(context, intent.symbol, allowed) if allowed > 0 else ZERO
        if allowed <= 0:
            return RiskDecision.reject(reason, self._detail(reason, intent, currency))
        return RiskDecision.resize(
            allowed,
            f"cut from {intent.amount} to {allowed}: {self._detail(reason, intent, currency)}",
        )

    def _room(
        self, intent: TradeIntent, currency: str, unit_value: Decimal, limit: Decimal
    ) -> Decimal | RiskDecision:
        """The largest amount of `intent` that keeps total exposure within `limit`."""
        context = self.context
        others = ZERO
        for symbol in self._symbols_with_exposure() - {intent.symbol}:
            price = context.prices.last_price(symbol)
            rate = quote_rate(context, symbol, currency)
            if price is None or rate is None:
                return RiskDecision.reject(
                    RejectionReason.NO_MARKET_DATA,
                    f"cannot value the {symbol} exposure in {currency}: no price known yet",
                )
            highest, lowest = self._extremes(symbol)
            others += max(abs(highest), abs(lowest)) * price * rate
        highest, lowest = self._extremes(intent.symbol)
        share = (limit - others) / unit_value  # the size this symbol may reach, in base units
        # An order may always take the position as far as the other side's open orders
        # already could: that adds nothing to the worst case.
        if intent.side is _BUY:
            return max(ZERO, max(share, abs(lowest)) - highest)
        return max(ZERO, max(share, abs(highest)) + lowest)

    def _extremes(self, symbol: str) -> tuple[Decimal, Decimal]:
        """The position if every open buy fills, and if every open sell fills (base units)."""
        held = self.context.portfolio.position_quantity(symbol)
        buys, sells = self.context.orders.open_exposure(symbol)
        return held + buys, held - sells

    def _symbols_with_exposure(self) -> set[str]:
        symbols = {p.symbol for p in self.context.portfolio.open_positions()}
        symbols.update(self.context.orders.symbols_with_open_orders())
        return symbols

    def _detail(self, reason: RejectionReason, intent: TradeIntent, currency: str) -> str:
        if reason is RejectionReason.MAX_ORDER_NOTIONAL:
            return f"max_order_notional {self.params.max_order_notional} {currency}"
        return f"max_total_exposure {self.params.max_total_exposure} {currency} ({intent.symbol})"
