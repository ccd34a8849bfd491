"""The paper venue keeps its books across restarts: a resting order placed before a restart
fills after it, against the same replayed prices, and the bot hears of it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from tests.conftest import MINUTE, T0, make_signal
from tests.service.rig import start, store
from trading_bot.domain.order_status import OrderStatus
from trading_bot.engine.clock import SimulatedClock
from trading_bot.market_data.bars import BarSeries
from trading_bot.orders.reconciliation import Reconciler

LIMIT = {"class": "limit", "params": {}}


def resting_sell(engine: Any, clock: SimulatedClock, price: str) -> Any:
    """A paper bot (limit execution) with a sell limit of 0.3 BTC at `price` resting since
    its first minute."""
    first = start(engine, clock, execution=LIMIT)
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", side="sell", size="0.3", order_type="limit", price=price)
    )
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    first.journal.flush()
    return first


async def reconciled(running: Any) -> Any:
    """The start's reconciliation of a restarted bot, as `trading-bot run` does it."""
    return await Reconciler(running.bot.kernel, running.venue).reconcile(at_start=True)


async def test_resting_order_survives_a_restart_and_fills_after_it(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    first = resting_sell(engine, clock, "104.5")
    (order,) = first.bot.orders.all_orders
    assert order.status is OrderStatus.ACCEPTED
    assert first.venue._exchange.account.reserved == {"BTC": Decimal("0.3")}

    # the first process is gone (its timers with it): a new one on its own clock
    clock = SimulatedClock(clock.now_ms())
    second = start(engine, clock, execution=LIMIT)
    report = await reconciled(second)
    assert report.ok and report.checked_orders == 1
    assert second.venue._exchange.account.reserved == {"BTC": Decimal("0.3")}
    clock.advance_to(T0 + 9 * MINUTE)  # the replay rises through 104.5 (opens 100, 101, ...)
    second.journal.flush()
    restored = second.bot.orders.get(order.client_order_id)
    assert restored is not None and restored.status is OrderStatus.FILLED
    assert second.bot.portfolio.balance("BTC") == Decimal("0.7")
    assert second.bot.portfolio.balances == second.venue.balances()
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM paper_orders")).scalar() == "filled"
        assert c.execute(text("SELECT status FROM orders")).scalar() == "filled"


async def test_a_resting_limit_the_price_passed_while_the_bot_was_down_fills_at_that_bar(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    first = resting_sell(engine, clock, "104.5")
    (order,) = first.bot.orders.all_orders
    assert order.status is OrderStatus.ACCEPTED

    # down from minute 1 to minute 8: bar 4 (104 -> 105) went through 104.5 meanwhile
    clock = SimulatedClock(T0 + 8 * MINUTE)
    second = start(engine, clock, execution=LIMIT)
    report = await reconciled(second)
    second.journal.flush()
    restored = second.bot.orders.get(order.client_order_id)
    assert restored is not None and restored.status is OrderStatus.FILLED
    (fill,) = second.bot.portfolio.fills
    assert fill.price == Decimal("104.5")
    assert fill.ts_ms == T0 + 5 * MINUTE  # when bar 4 closed, not at the restart
    assert second.bot.portfolio.balances == second.venue.balances()
    assert second.venue._exchange.account.reserved == {}
    assert report.checked_orders == 1


async def test_a_market_order_acknowledged_before_a_stop_fills_at_the_next_bar_not_after_it(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    first = start(engine, clock)
    clock.advance_to(T0 + 2 * MINUTE + 1)
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="0.1", created_at=T0 + 2 * MINUTE + 1)
    )
    first.journal.flush()
    assert first.bot.orders.all_orders[0].status is OrderStatus.ACCEPTED  # bar 3 opens next

    clock = SimulatedClock(T0 + 6 * MINUTE + 1)  # back four bars later
    second = start(engine, clock)
    report = await reconciled(second)
    second.journal.flush()
    assert second.bot.orders.all_orders[0].status is OrderStatus.FILLED
    (fill,) = second.bot.portfolio.fills
    assert (fill.price, fill.ts_ms) == (Decimal("103"), T0 + 3 * MINUTE)
    assert second.bot.portfolio.balances == second.venue.balances()
    assert report.checked_orders == 1


async def test_an_order_still_resting_after_the_catch_up_fills_live_later(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    resting_sell(engine, clock, "107.5")

    clock = SimulatedClock(T0 + 3 * MINUTE)  # nothing reached 107.5 while it was down
    second = start(engine, clock, execution=LIMIT)
    assert (await reconciled(second)).ok
    assert second.bot.orders.all_orders[0].status is OrderStatus.ACCEPTED
    clock.advance_to(T0 + 9 * MINUTE)
    second.journal.flush()
    (fill,) = second.bot.portfolio.fills
    assert fill.price == Decimal("107.5") and fill.ts_ms >= T0 + 7 * MINUTE
    assert second.bot.orders.all_orders[0].status is OrderStatus.FILLED


def _flat_bars(n: int, *, price: int = 100, spikes: dict[int, int] | None = None) -> BarSeries:
    """`n` one-minute bars from T0 flat at `price` (high one above, low one below), with the
    highs in `spikes` by bar index instead."""
    highs = [price + 1] * n
    for index, high in (spikes or {}).items():
        highs[index] = high
    flat = np.full(n, price, dtype=np.int64)
    return BarSeries(
        "BTC/USDT",
        np.arange(n, dtype=np.int64) * MINUTE + T0,
        flat,
        np.array(highs, dtype=np.int64),
        flat - 1,
        flat,
        np.full(n, 100.0),
        0,
        MINUTE,
    )


def _paper(engine: Any, clock: SimulatedClock, bars: BarSeries, **exchange: Any) -> Any:
    """A paper bot with limit execution on `bars`; `exchange` adds to the venue's params."""
    from tests.service.rig import paper_config
    from trading_bot.service.paper_venue import assemble_paper_bot

    params: dict[str, Any] = {
        "balances": {"USDT": "10000", "BTC": "3"},
        "fees": {"maker": "0.001", "taker": "0.001"},
        **exchange,
    }
    config = paper_config(execution=LIMIT, exchange={"class": "simulated", "params": params})
    return assemble_paper_bot(config, engine, clock, {"BTC/USDT": bars}, schedule=None)


def _sell_limit(price: str, signal_id: str, at_ms: int, size: str = "0.2") -> Any:
    return make_signal(
        asset="BTC/USDT",
        side="sell",
        size=size,
        order_type="limit",
        price=price,
        signal_id=signal_id,
        created_at=at_ms,
    )


async def test_a_limit_resting_in_the_bar_of_the_last_commit_fills_on_that_bars_range(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    bars = _flat_bars(10, spikes={5: 106})  # only bar 5 reaches 105
    clock = SimulatedClock(T0 + 1)
    first = _paper(engine, clock, bars)
    first.bot.kernel.submit_signal(_sell_limit("105", "a", T0 + 1))
    first.journal.flush()
    clock.advance_to(T0 + 5 * MINUTE + 300)  # inside bar 5: its range is not known yet
    first.bot.kernel.submit_signal(_sell_limit("120", "other", clock.now_ms()))  # a commit
    first.journal.flush()

    # killed before bar 5 closed, back two bars later
    clock = SimulatedClock(T0 + 7 * MINUTE)
    second = _paper(engine, clock, bars)
    assert (await reconciled(second)).ok
    second.journal.flush()
    (fill,) = second.bot.portfolio.fills
    assert (fill.price, fill.liquidity.value, fill.ts_ms) == (
        Decimal(105),
        "maker",
        T0 + 6 * MINUTE + 1,  # the replay starts at the first start (T0 + 1)
    )


async def test_a_resting_limit_the_price_gapped_through_during_the_outage_fills_as_maker(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    low, high = _flat_bars(15), _flat_bars(5, price=110)
    gapped = BarSeries(
        "BTC/USDT",
        np.concatenate([low.ts, high.ts + 15 * MINUTE]),
        np.concatenate([low.open, high.open]),
        np.concatenate([low.high, high.high]),
        np.concatenate([low.low, high.low]),
        np.concatenate([low.close, high.close]),
        np.full(20, 100.0),
        0,
        MINUTE,
    )
    clock = SimulatedClock(T0 + 1)
    first = _paper(engine, clock, gapped)
    first.bot.kernel.submit_signal(_sell_limit("105", "a", T0 + 1))
    first.journal.flush()
    clock.advance_to(T0 + 14 * MINUTE + 100)
    first.bot.kernel.submit_signal(_sell_limit("120", "other", clock.now_ms()))  # a commit
    first.journal.flush()

    clock = SimulatedClock(T0 + 18 * MINUTE)  # bar 15 opened at 110 while the bot was down
    second = _paper(engine, clock, gapped)
    assert (await reconciled(second)).ok
    second.journal.flush()
    (fill,) = second.bot.portfolio.fills
    assert (fill.price, fill.liquidity.value, fill.ts_ms) == (
        Decimal(110),
        "maker",
        T0 + 15 * MINUTE + 1,
    )


async def test_an_order_still_on_its_way_at_the_last_commit_is_not_taken_as_resting(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    bars = _flat_bars(10, spikes={1: 105})  # bar 1 goes through 104; bar 2 on stay at 100
    latency = {"latency": {"submit_ms": 30_000}}
    clock = SimulatedClock(T0 + 1)
    first = _paper(engine, clock, bars, **latency)
    clock.advance_to(T0 + 50_000)
    first.bot.kernel.submit_signal(_sell_limit("104", "a", clock.now_ms()))  # arrives at 1:20
    first.journal.flush()
    clock.advance_to(T0 + 100_000)  # acknowledged at 1:20 (a commit), first bar: bar 2
    first.journal.flush()

    clock = SimulatedClock(T0 + 5 * MINUTE)
    second = _paper(engine, clock, bars, **latency)
    assert (await reconciled(second)).ok
    second.journal.flush()
    assert second.bot.portfolio.fills == []  # bar 1's range came before it arrived
    assert second.bot.orders.all_orders[0].status is OrderStatus.ACCEPTED


async def test_an_order_modified_in_the_bar_of_the_last_commit_starts_at_the_next_bar(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    bars = _flat_bars(10, spikes={3: 105})
    clock = SimulatedClock(T0 + 1)
    first = _paper(engine, clock, bars)
    first.bot.kernel.submit_signal(_sell_limit("110", "a", T0 + 1))
    first.journal.flush()
    clock.advance_to(T0 + 3 * MINUTE + 20_000)
    (order,) = first.bot.orders.all_orders
    first.bot.orders.modify(order, price=Decimal(104))  # a commit; acts from bar 4 on
    first.journal.flush()

    clock = SimulatedClock(T0 + 8 * MINUTE)
    second = _paper(engine, clock, bars)
    assert (await reconciled(second)).ok
    second.journal.flush()
    assert second.bot.portfolio.fills == []  # bar 3's range is not the modified order's
    (restored,) = second.bot.orders.all_orders
    assert (restored.status, restored.price) == (OrderStatus.ACCEPTED, Decimal(104))


@pytest.mark.parametrize(
    ("bought", "sold"),
    [
        ("1", [("1", 6), ("1", 7)]),  # the buy took all of bar 4's volume at its open
        ("0.5", [("0.5", 5), ("1", 6), ("1", 7)]),  # the rest of bar 4's goes to the sell
    ],
)
async def test_a_catch_up_under_a_volume_cap_never_uses_a_bars_volume_twice(
    tmp_path: Path, bought: str, sold: list[tuple[str, int]]
) -> None:
    engine = store(tmp_path)
    bars = _flat_bars(12, spikes={4: 106, 5: 106, 6: 106})
    capped = {"fills": {"max_volume_share": "0.01"}}  # 1 BTC per bar (volume 100)
    clock = SimulatedClock(T0 + 1)
    first = _paper(engine, clock, bars, **capped)
    first.bot.kernel.submit_signal(_sell_limit("105", "a", T0 + 1, size="3"))
    first.journal.flush()
    clock.advance_to(T0 + 3 * MINUTE + 30_000)
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size=bought, signal_id="m", created_at=clock.now_ms())
    )
    first.journal.flush()
    clock.advance_to(T0 + 4 * MINUTE + 30_000)  # the buy filled at bar 4's open: a commit
    first.journal.flush()

    clock = SimulatedClock(T0 + 10 * MINUTE)
    second = _paper(engine, clock, bars, **capped)
    assert (await reconciled(second)).ok
    second.journal.flush()
    sells = [f for f in second.bot.portfolio.fills if f.side.value == "sell"]
    assert [(f.amount, f.ts_ms) for f in sells] == [
        (Decimal(amount), T0 + close * MINUTE + 1) for amount, close in sold
    ]


def test_the_venue_refuses_a_client_order_id_it_has_already_taken(tmp_path: Path) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    first = start(engine, clock)
    first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.1"))
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    (order,) = first.bot.orders.all_orders
    second = start(engine, clock)
    second.venue.submit_order(order)  # the same id again, even after a restart
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM paper_orders")).scalar() == 1
        assert c.execute(text("SELECT count(*) FROM paper_fills")).scalar() == 1


async def test_market_order_waiting_for_volume_keeps_filling_after_a_restart(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    capped = {
        "class": "simulated",
        "params": {
            "balances": {"USDT": "100000", "BTC": "1"},
            "fills": {"max_volume_share": "0.01"},  # 1 BTC per bar (bars have volume 100)
        },
    }
    first = start(engine, clock, exchange=capped)
    first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="3"))
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)  # 1 BTC fills at each of the first two opens; 1 waits
    first.journal.flush()
    assert first.bot.orders.all_orders[0].filled_amount == Decimal(2)

    clock = SimulatedClock(clock.now_ms())
    second = start(engine, clock, exchange=capped)
    report = await reconciled(second)
    assert report.ok
    clock.advance_to(T0 + 5 * MINUTE)
    second.journal.flush()
    order = second.bot.orders.all_orders[0]
    assert order.status is OrderStatus.FILLED and order.filled_amount == Decimal(3)
    assert second.bot.portfolio.balances == second.venue.balances()


async def test_an_acknowledged_market_order_holds_its_funds_again_after_a_restart(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0)  # the replay starts here
    exchange = {
        "class": "simulated",
        "params": {
            "balances": {"USDT": "10000", "BTC": "0"},
            "fees": {"maker": "0.001", "taker": "0.001"},
        },
    }
    first = start(engine, clock, exchange=exchange)
    clock.advance_to(T0 + 2 * MINUTE + 1)  # bar 1 (close 102) has closed; bar 2 is next
    first.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="3", created_at=T0 + 2 * MINUTE + 1)
    )
    first.journal.flush()
    (order,) = first.bot.orders.all_orders
    assert order.status is OrderStatus.ACCEPTED  # acknowledged on arrival, fills at bar 2
    held = {"USDT": Decimal("3") * Decimal("102") * Decimal("1.001")}  # at the last close
    assert first.venue._exchange.account.reserved == held

    clock = SimulatedClock(clock.now_ms())
    second = start(engine, clock, exchange=exchange)
    report = await reconciled(second)
    assert report.ok
    assert second.venue._exchange.account.reserved == held
    clock.advance_to(T0 + 3 * MINUTE)
    second.journal.flush()
    assert second.bot.orders.all_orders[0].status is OrderStatus.FILLED
    assert second.venue._exchange.account.reserved == {}
    assert second.bot.portfolio.balances == second.venue.balances()


def test_a_restart_must_replay_what_the_venue_replayed_before(tmp_path: Path) -> None:
    import pytest

    from tests.conftest import make_bars
    from tests.service.rig import paper_config
    from trading_bot.service.assembly import ServiceSetupError
    from trading_bot.service.paper_venue import assemble_paper_bot

    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    start(engine, clock)
    other = make_bars("BTC/USDT", ["50", "51", "52"], start=T0)
    with pytest.raises(ServiceSetupError, match="is not the one this store's paper venue replays"):
        assemble_paper_bot(paper_config(), engine, clock, {"BTC/USDT": other}, schedule=None)
    bars = make_bars("BTC/USDT", ["100", "101", "102", "103", "104", "105", "106", "107",
                                  "108", "109"], start=T0)  # fmt: skip
    with pytest.raises(ServiceSetupError, match="replays at 1; keep 1"):
        assemble_paper_bot(
            paper_config(paper={"replay_speed": 10}), engine, clock, {"BTC/USDT": bars},
            schedule=None,
        )  # fmt: skip
    short = make_bars("BTC/USDT", ["1", "2"], start=T0, interval=1)
    with pytest.raises(ServiceSetupError, match="rows in memory"):
        assemble_paper_bot(
            paper_config(), store(tmp_path / "new"), clock, {"BTC/USDT": short}, schedule=None
        )


def test_dropping_a_symbol_with_open_orders_refuses_the_start(tmp_path: Path) -> None:
    import pytest

    from tests.conftest import make_bars
    from tests.service.rig import OPENS, paper_config
    from trading_bot.service.assembly import ServiceSetupError
    from trading_bot.service.paper_venue import assemble_paper_bot

    engine = store(tmp_path)
    clock = SimulatedClock(T0)
    loaded = paper_config(execution=LIMIT)
    btc = make_bars("BTC/USDT", OPENS, start=T0)
    eth = make_bars("ETH/USDT", ["10", "11", "12"], start=T0)
    first = assemble_paper_bot(
        loaded, engine, clock, {"BTC/USDT": btc, "ETH/USDT": eth}, schedule=None
    )
    first.bot.kernel.submit_signal(
        make_signal(asset="ETH/USDT", size="1", order_type="limit", price="5")
    )
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    with pytest.raises(ServiceSetupError, match="open orders in ETH/USDT"):
        assemble_paper_bot(
            loaded, engine, SimulatedClock(clock.now_ms()), {"BTC/USDT": btc}, schedule=None
        )


def test_a_restart_long_after_the_first_start_holds_only_the_replay_it_still_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trading_bot.venues.paper import exchange

    # the rig's 10 one-minute bars replayed at 1x: 2,880 rows cover the 48 h horizon
    monkeypatch.setattr(exchange, "MAX_REPLAY_ROWS", 3_000)
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    first = start(engine, clock)
    first.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", size="0.1"))
    first.journal.flush()
    clock.advance_to(T0 + MINUTE)
    first.journal.flush()

    later = T0 + 48 * 60 * MINUTE  # from the first start: 5,760 rows, over the limit
    clock = SimulatedClock(later)
    second = start(engine, clock)  # refused before ("needs 5,760 rows")
    second.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="0.1", signal_id="s2", created_at=later)
    )
    second.journal.flush()
    clock.advance_to(later + MINUTE)
    second.journal.flush()
    assert [o.status for o in second.bot.orders.all_orders] == [OrderStatus.FILLED] * 2
    assert second.bot.portfolio.balances == second.venue.balances()


def test_the_end_of_the_replay_is_told_and_orders_after_it_are_rejected_no_market_data(
    tmp_path: Path, log_lines: list[str]
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock, paper={"horizon_hours": 1})
    assert any("paper venue replays BTC/USDT at 1x real time until" in line for line in log_lines)
    (end_ms,) = running.venue.replay_ends_ms.values()
    assert T0 + 60 * MINUTE < end_ms <= T0 + 90 * MINUTE  # whole copies of the 10 bars
    clock.advance_to(end_ms)
    assert any("the replay of paper.market_data.BTC/USDT has ended" in x for x in log_lines)
    running.bot.kernel.submit_signal(make_signal(asset="BTC/USDT", created_at=clock.now_ms()))
    running.journal.flush()
    (order,) = running.bot.orders.all_orders
    assert order.reject_reason is not None and order.reject_reason.value == "no_market_data"
