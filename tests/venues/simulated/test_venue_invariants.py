"""Random order flows against the simulated exchange: whatever happens, no reservation leaks,
no balance goes negative, every fill is positive, and the balances equal the starting ones
plus the reported fills exactly."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tests.conftest import T0
from tests.venues.simulated.harness import Venue, ohlc
from tests.venues.simulated.test_book_matching import T, book
from trading_bot.domain.enums import Side

D = Decimal


def random_bars(rng: random.Random) -> object:
    rows, price = [], 100
    for _ in range(60):
        o = price + rng.choice([-3, -1, 0, 0, 1, 3])
        h, low = o + rng.randint(0, 4), o - rng.randint(0, 4)
        price = rng.randint(low, h)
        rows.append(f"{o} {h} {low} {price}")
    return ohlc(rows, volume=str(rng.choice([0, 1, 5, 100])))


def random_book(rng: random.Random) -> object:
    events, mid = [], 100
    for i in range(40):
        mid += rng.choice([-2, -1, 0, 1, 2])
        bids = [(str(mid - k), str(rng.randint(1, 3))) for k in range(1, 4)]
        asks = [(str(mid + k), str(rng.randint(1, 3))) for k in range(1, 4)]
        events.append((i * 1000, bids, asks))
    return book(*events)


def random_flow(seed: int) -> None:
    rng = random.Random(seed)
    on_book = rng.random() < 0.4
    balances = {"USDT": str(rng.choice([300, 1000, 100000])), "BTC": str(rng.choice([0, 1, 5]))}
    v = Venue(
        random_book(rng) if on_book else random_bars(rng),
        balances=balances,
        latency={
            "submit_ms": rng.choice([0, 0, 50, 30000]),
            "cancel_ms": rng.choice([0, 50, 30000]),
        },
        fills={
            "max_volume_share": rng.choice([None, "0.5", "1"]),
            "oco_same_bar": rng.choice(["stop_first", "limit_first"]),
        },
        slippage=rng.choice(
            [
                {"model": "none"},
                {"model": "fixed_bps", "bps": "5"},
                {"model": "volume", "bps": "10"},
            ]
        ),
        markets={"BTC/USDT": {"amount_step": "0.1", "price_step": "0.5"}},
        seed=seed,
    )
    t, step, sent = (T if on_book else T0), (300 if on_book else 20000), []
    for n in range(40):
        t += rng.randint(1, step * 3)
        v.at(t)
        roll = rng.random()
        if roll < 0.55 or not sent:
            kind = rng.choice(["market", "limit", "limit", "stop_market", "stop_limit"])
            args: dict[str, object] = {}
            if kind in ("limit", "stop_limit"):
                args["price"] = str(100 + rng.randint(-8, 8))
                args["tif"] = rng.choice(["gtc", "gtc", "ioc", "fok"])
            if kind in ("stop_market", "stop_limit"):
                args["trigger"] = str(100 + rng.randint(-8, 8))
            if kind == "limit" and args["tif"] == "gtc" and rng.random() < 0.3:
                args["post_only"] = True
            if kind != "market" and rng.random() < 0.3:
                args["oco"] = f"g{n}"
            sent.append(
                v.send(
                    f"o{n}",
                    rng.choice(["buy", "sell"]),
                    rng.choice(["0.5", "1", "3"]),
                    kind,
                    **args,
                )
            )  # type: ignore[arg-type]
        elif roll < 0.8:
            v.exchange.cancel_order(rng.choice(sent))
        else:
            v.exchange.modify_order(
                rng.choice(sent),
                amount=rng.choice([None, D("0.5"), D("3")]),
                price=rng.choice([None, D(100 + rng.randint(-8, 8))]),
            )
        account = v.exchange.account
        assert all(account.reserved[a] <= account.total.get(a, 0) for a in account.reserved)
    v.run(t + 10**8)
    v.clock.run_pending()
    for order in sent:
        v.exchange.cancel_order(order)
    v.clock.run_pending()
    account = v.exchange.account
    assert not account.reserved, f"reservation leak: {account.reserved}"
    base, quote = D(balances["BTC"]), D(balances["USDT"])
    for fill in v.reports.fills():
        assert fill.amount > 0
        if fill.side is Side.BUY:
            base, quote = base + fill.amount, quote - fill.amount * fill.price - fill.fee
        else:
            base, quote = base - fill.amount, quote + fill.amount * fill.price - fill.fee
    assert (account.total.get("BTC", D(0)), account.total.get("USDT", D(0))) == (base, quote)
    assert base >= 0
    assert quote >= 0


@pytest.mark.parametrize("block", range(4))
def test_random_order_flows_keep_the_account_consistent(block: int) -> None:
    for seed in range(block * 50, block * 50 + 50):
        random_flow(seed)
