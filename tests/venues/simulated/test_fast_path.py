"""The one-pass market-order path (`PathMatcher._take_whole`) against the general one.

Without a volume cap the bar matcher fills a market order (accepting it first if no price was
known when it arrived) in one pass. Every
random flow here runs twice, once as shipped and once with that pass replaced by the general
`accept` + `_fill_market`, and must report the same things in the same order, with the same
digits, and leave the same account. The flows mix market, limit and stop orders, OCO groups,
latency, slippage and tight balances, and a report handler that cancels and modifies orders
while a market order is being accepted (so the account can change between its two checks).

Replacing the pass needs the interpreted `PathMatcher` (a compiled class's methods cannot be
patched): where the order path runs compiled, tests/test_compiled.py runs this module on the
interpreted source.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import T0, make_bars, make_signal
from tests.venues.simulated.harness import Recorder, Venue, ohlc
from trading_bot.backtest.runner import run_backtest
from trading_bot.compiled import running_compiled
from trading_bot.config.loader import load_config_data
from trading_bot.domain.order import Order
from trading_bot.engine.clock import SimulatedClock
from trading_bot.intake.signal_file import RecordedSignal
from trading_bot.venues.simulated.path_matcher import PathMatcher
from trading_bot.venues.simulated.venue_order import VenueOrder

D = Decimal
pytestmark = pytest.mark.skipif(
    running_compiled(), reason="patches PathMatcher: run on the interpreted source instead"
)


def general_path(self: PathMatcher, order: VenueOrder, index: int, open_price: Decimal) -> None:
    """What `_start` does for a market order when the one-pass path is not taken."""
    venue = self._venue
    if not order.accepted:
        price = self._taker_price(order, index, open_price, order.amount)
        if not venue.takes_market_order(order, order.amount, price) or not venue.accept(order):
            return
    self._fill_market(order, index, open_price)


class Meddler(Recorder):
    """Records like `Recorder`, and on some acceptances cancels or modifies other orders (or the
    accepted one) at once, as a strategy reacting to the report could."""

    def __init__(self, clock: SimulatedClock, rng: random.Random) -> None:
        super().__init__(clock)
        self.rng = rng
        self.venue: Venue | None = None
        self.sent: list[Order] = []

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None:
        super().order_accepted(client_order_id, venue_order_id)
        if self.venue is None or not self.sent or self.rng.random() < 0.6:
            return
        exchange = self.venue.exchange
        target = self.rng.choice(self.sent)
        if self.rng.random() < 0.5:
            exchange.cancel_order(target)
        else:
            exchange.modify_order(target, amount=self.rng.choice([D("0.5"), D("3"), D("40")]))


def random_flow(seed: int, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(PathMatcher, "_take_whole", general_path)
        rng = random.Random(seed)
        rows, price = [], 100
        for _ in range(60):
            o = price + rng.choice([-3, -1, 0, 0, 1, 3])
            h, low = o + rng.randint(0, 4), o - rng.randint(0, 4)
            price = rng.randint(low, h)
            rows.append(f"{o} {h} {low} {price}")
        v = Venue(
            ohlc(rows, volume=str(rng.choice([1, 5, 100]))),
            balances={"USDT": str(rng.choice([150, 400, 100000])), "BTC": str(rng.choice([0, 2]))},
            fees=rng.choice([{"maker": "0.001", "taker": "0.002"}, {"taker": "0.00075"}]),
            latency={"submit_ms": rng.choice([0, 0, 50]), "cancel_ms": rng.choice([0, 0, 50])},
            slippage=rng.choice(
                [
                    {"model": "none"},
                    {"model": "fixed_bps", "bps": "5"},
                    {"model": "volume", "bps": "10"},
                ]
            ),
            markets={"BTC/USDT": {"amount_step": "0.1", "price_step": "0.5"}},
        )
        meddler = Meddler(v.clock, random.Random(seed + 1))
        meddler.venue = v
        v.reports = meddler
        v.exchange.bind(meddler, v.clock)
        t = T0
        for n in range(40):
            t += rng.choice([0, 1, 20000, 60000, 90000])
            v.at(t)
            kind = rng.choice(["market", "market", "market", "limit", "stop_market"])
            args: dict[str, Any] = {}
            if kind == "limit":
                args["price"] = str(100 + rng.randint(-6, 6))
            if kind == "stop_market":
                args["trigger"] = str(100 + rng.randint(-6, 6))
            if kind != "market" and rng.random() < 0.3:
                args["oco"] = f"g{n // 2}"
            side, amount = rng.choice(["buy", "sell"]), rng.choice(["0.5", "1", "3"])
            meddler.sent.append(v.send(f"o{n}", side, amount, kind, **args))
        v.run(t + 10**8)
        v.clock.run_pending()
        account = v.exchange.account
        return "\n".join(
            [
                *map(repr, meddler.events),
                repr(sorted(account.total.items())),
                repr(account.reserved),
            ]
        )


@pytest.mark.parametrize("block", range(4))
def test_one_pass_market_fills_equal_the_general_path(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = 0
    original = PathMatcher._take_whole

    def counting(self: PathMatcher, order: VenueOrder, index: int, open_price: Decimal) -> None:
        nonlocal taken
        taken += 1
        original(self, order, index, open_price)

    for seed in range(block * 40, block * 40 + 40):
        with monkeypatch.context() as patch:
            patch.setattr(PathMatcher, "_take_whole", counting)
            fast = random_flow(seed, fast=True, monkeypatch=monkeypatch)
        assert fast == random_flow(seed, fast=False, monkeypatch=monkeypatch), f"seed {seed}"
    assert taken > 100  # the flows do go through the one-pass path


def test_backtests_through_the_kernel_equal_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    opens = [str(40000 + rng.randint(-500, 500)) for _ in range(300)]
    bars = make_bars("BTC/USDT", opens)
    signals = [
        RecordedSignal(
            make_signal(
                signal_id=f"s{i}",
                side=rng.choice(["buy", "sell"]),
                size=rng.choice(["0.01", "0.25", "2"]),
                created_at=T0 + rng.randrange(0, 300 * 60_000, 20_000),
            ),
            i,
        )
        for i in range(400)
    ]
    config = {
        "mode": "backtest",
        "exchange": {
            "class": "simulated",
            "params": {
                "balances": {"USDT": "20000", "BTC": "0.5"},
                "fees": {"taker": "0.001"},
                "slippage": {"model": "fixed_bps", "bps": "3"},
            },
        },
        "risk": {"checks": [{"class": "position_limits", "params": {"max_position_size": "1"}}]},
    }

    def run(fast: bool) -> str:
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(PathMatcher, "_take_whole", general_path)
            result = run_backtest(load_config_data(config, source="t", environ={}), [bars], signals)
        bot = result.bot
        return "\n".join(
            [
                *map(repr, bot.orders.all_orders),
                *map(repr, bot.portfolio.fills),
                repr(sorted(bot.portfolio.balances.items())),
                repr(sorted(bot.kernel.ledger.status_counts().items())),
                repr(sorted(result.venue.account.total.items())),
            ]
        )

    fast = run(True)
    assert "FILLED" in fast and "INSUFFICIENT_BALANCE" in fast  # both outcomes are exercised
    assert fast == run(False)
