"""The bot as a service on a ccxt venue (the venue server on 127.0.0.1), in process: what a
user sees when the venue fails for a while, and when it bans the bot."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.alert_receiver import alert_receiver
from tests.conftest import config_data
from tests.venues.conformance.scenario import Bar, MarketScenario
from trading_bot.config.loader import LoadedConfig, load_config_data
from trading_bot.domain.enums import OrderType
from trading_bot.domain.events import OrderFilled
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.intake.gate import IntakeOutcome
from trading_bot.service.bot_service import BotService
from trading_bot.venues.server import FaultRule, VenueServerConfig, running_venue_server
from trading_bot.venues.server.server import VenueServer
from trading_bot.venues.server.testing import ccxt_client

KEY, SECRET = "service-key", "service-secret-0123456789"


@asynccontextmanager
async def ccxt_bot(
    tmp_path: Path, scenario: MarketScenario | None = None, **params: Any
) -> AsyncIterator[tuple[BotService, VenueServer]]:
    async with running_venue_server(venue_config(tmp_path, scenario)) as server:
        service = BotService(bot_config(tmp_path, server, **params))
        await service.start()
        assert service.started
        try:
            yield service, server
        finally:
            assert await service.stop() == 0


def venue_config(tmp_path: Path, scenario: MarketScenario | None = None) -> VenueServerConfig:
    scenario = scenario or MarketScenario()
    csv = scenario.write_candles_csv(tmp_path / "tape.csv")
    return VenueServerConfig(
        market_data={scenario.symbol: csv},
        replay_speed=240,
        exchange=scenario.exchange_params(),
        api_key=KEY,
        api_secret=SECRET,
    )


def bot_config(tmp_path: Path, server: VenueServer, **params: Any) -> LoadedConfig:
    exchange_params = {
        "exchange": "binance",
        "api_url": server.rest_url,
        "ws_url": server.ws_url,
        "credentials": {"api_key": KEY, "secret": SECRET},
        "symbols": [MarketScenario().symbol],
        "rate_limit_ms": 1,
        "timeout_ms": 2000,
        "recv_window_ms": 1000,
        "poll_interval_s": 0.3,
        **params.pop("exchange", {}),
    }
    data = config_data(
        mode="paper",
        exchange={"class": "ccxt", "params": exchange_params},
        store={"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        **params,
    )
    return load_config_data(data, source="bot.yaml", environ={})


def signal(signal_id: str) -> dict[str, str]:
    return {"signal_id": signal_id, "asset": "BTC/USDT", "side": "buy", "size": "0.1"}


async def eventually(check: Any, timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never reached"
        await asyncio.sleep(0.05)


async def test_a_failing_venue_pauses_intake_and_it_resumes_once_the_venue_answers(
    tmp_path: Path,
) -> None:
    async with ccxt_bot(tmp_path, exchange={"breaker": {"failures": 2, "recovery_s": 1}}) as (
        service,
        server,
    ):
        gate = service.intake.gate  # type: ignore[union-attr]
        server.faults.inject(FaultRule(kind="status", status=503, count=None))
        first = await service.send_signal(signal("s1"))
        assert first.outcome is IntakeOutcome.ACCEPTED
        await eventually(lambda: gate.paused is not None)
        paused = await service.send_signal(signal("s2"))
        assert paused.outcome is IntakeOutcome.PAUSED
        assert service.signal_status("", "s2") is None  # not taken: the sender retries
        server.faults.clear()
        await eventually(lambda: gate.paused is None)
        resumed = await service.send_signal(signal("s3"))
        assert resumed.outcome is IntakeOutcome.ACCEPTED
        await eventually(
            lambda: (service.signal_status("", "s3") or {}).get("status") == "executed"
        )
        # the create with no answer is looked up again once the venue answers: never placed
        await eventually(
            lambda: (service.signal_status("", "s1") or {}).get("status") == "rejected"
        )
        assert service.signal_status("", "s1")["reason"] == "venue_unavailable"  # type: ignore[index]
        creates = [r for r in server.orders if r.client_order_id.startswith("tb-")]
        assert len({r.client_order_id for r in creates}) == len(creates)


async def test_a_ban_rejects_the_order_stops_sending_and_alerts_a_human(tmp_path: Path) -> None:
    with alert_receiver() as inbox:
        monitoring = {"alerts": {"enabled": True, "params": {"urls": [inbox.url]}}}
        async with ccxt_bot(tmp_path, monitoring=monitoring) as (service, server):
            server.faults.inject(FaultRule(kind="status", status=418, path="/api/v3/order"))
            await service.send_signal(signal("b1"))
            await eventually(
                lambda: (service.signal_status("", "b1") or {}).get("status") == "rejected"
            )
            assert service.signal_status("", "b1")["reason"] == "venue_banned"  # type: ignore[index]
            await service.send_signal(signal("b2"))
            await eventually(
                lambda: (service.signal_status("", "b2") or {}).get("status") == "rejected"
            )
            assert service.signal_status("", "b2")["reason"] == "venue_banned"  # type: ignore[index]
            assert not [o for o in server.orders if o.client_order_id.startswith("tb-")]
            await eventually(lambda: len(inbox.bodies) == 1)
            assert "banned" in inbox.messages()[0]["title"]


async def test_an_order_adopted_while_running_is_followed_to_its_end(tmp_path: Path) -> None:
    recovery = {"reconcile_interval_s": 4, "snapshot_interval_s": 3600}
    async with ccxt_bot(tmp_path, recovery=recovery) as (service, server):
        by_hand = ccxt_client(server)
        try:
            await by_hand.create_order(
                "BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "by-hand-1"}
            )
            orders = service.running.bot.orders  # type: ignore[union-attr]
            await eventually(lambda: orders.get("by-hand-1") is not None, timeout_s=10)
            await by_hand.cancel_order(None, "BTC/USDT", {"origClientOrderId": "by-hand-1"})
            # told by the venue's updates, not found at the next reconciliation 4 s later
            await eventually(lambda: not orders.get("by-hand-1").is_open, timeout_s=3)  # type: ignore[union-attr]
        finally:
            await by_hand.close()


async def test_a_bracket_on_a_venue_without_oco_ends_with_a_stop_at_the_venue(
    tmp_path: Path,
) -> None:
    # the venue server links no OCO: with no BTC before the entry, the leg that reaches it
    # second is refused insufficient_balance. The stop goes first; if the take-profit still
    # arrives first (black-box review), the stop is refused, a human is alerted, and the
    # take-profit is canceled to place the stop alone. Either way a stop ends up open.
    scenario = MarketScenario(balances={"USDT": Decimal("10000")})
    execution = {"class": "bracket", "params": {"protection_timeout_s": 30}}
    with alert_receiver() as inbox:
        monitoring = {"alerts": {"enabled": True, "params": {"urls": [inbox.url]}}}
        async with ccxt_bot(tmp_path, scenario, monitoring=monitoring, execution=execution) as (
            service,
            server,
        ):
            await service.send_signal({**signal("br"), "stop_loss": "95", "take_profit": "110"})

            def sells() -> list[tuple[str, str]]:
                return [(o.type, o.status) for o in server.orders if o.side.value == "sell"]

            await eventually(lambda: ("STOP_LOSS", "NEW") in sells())
            await asyncio.sleep(1)  # an alert is sent off the event loop
            orders = service.running.bot.orders.all_orders  # type: ignore[union-attr]
            stop_refused = any(
                o.order_type == "stop_market" and o.status == "rejected" for o in orders
            )
            assert [m["title"] for m in inbox.messages()] == (
                ["UNPROTECTED POSITION on BTC/USDT"] if stop_refused else []
            )


async def test_a_stop_refused_for_a_take_profit_that_arrived_first_alerts_and_is_replaced(
    tmp_path: Path,
) -> None:
    # the black-box case forced: the stop (sent first) is delayed at the venue, the
    # take-profit takes the 0.1 BTC, the stop is refused insufficient_balance
    scenario = MarketScenario(balances={"USDT": Decimal("10000")})
    execution = {"class": "bracket", "params": {"protection_timeout_s": 30}}
    with alert_receiver() as inbox:
        monitoring = {"alerts": {"enabled": True, "params": {"urls": [inbox.url]}}}
        async with ccxt_bot(tmp_path, scenario, monitoring=monitoring, execution=execution) as (
            service,
            server,
        ):
            bus = service.running.bot.kernel.bus  # type: ignore[union-attr]
            # at the entry's fill, before the legs' requests leave (they go from tasks)
            delay_next_create = FaultRule(
                kind="delay", method="POST", path="/api/v3/order", delay_s=0.5
            )
            bus.subscribe(
                OrderFilled,
                lambda event: event.order.leg == 0 and server.faults.inject(delay_next_create),
            )
            await service.send_signal({**signal("br"), "stop_loss": "95", "take_profit": "110"})
            await eventually(lambda: len(inbox.bodies) == 1)
            assert inbox.messages()[0]["title"] == "UNPROTECTED POSITION on BTC/USDT"
            assert "canceling the take-profit" in inbox.bodies[0]

            def sells() -> list[tuple[str, str]]:
                return [(o.type, o.status) for o in server.orders if o.side.value == "sell"]

            await eventually(lambda: ("STOP_LOSS", "NEW") in sells())
            assert ("LIMIT", "CANCELED") in sells()


def sell_orders(server: VenueServer) -> list[tuple[str, str, Decimal]]:
    """(type, status, quantity) of the sells at the venue: a bracket's legs."""
    return [(o.type, o.status, o.orig_qty) for o in server.orders if o.side.value == "sell"]


ONLY_DIPS = MarketScenario(bars=(*[Bar.quiet()] * 8, Bar.dip(), *[Bar.quiet()] * 8))
ONLY_RISES = MarketScenario(
    bars=(*[Bar.quiet()] * 8, Bar.rise(), *[Bar.quiet()] * 8),
    balances={"USDT": Decimal("10000"), "BTC": Decimal("5")},
)
BRACKET = {"class": "bracket", "params": {"protection_timeout_s": 30}}


async def test_a_filled_stop_gets_its_take_profit_canceled_and_the_position_ends_flat(
    tmp_path: Path,
) -> None:
    # the black-box case: BTC held before the entry, so the venue takes both legs (it links
    # no OCO); the stop fills on the dip and the bot itself cancels the take-profit
    async with ccxt_bot(tmp_path, ONLY_DIPS, execution=BRACKET) as (service, server):
        await service.send_signal({**signal("br"), "stop_loss": "97", "take_profit": "103"})
        await eventually(lambda: ("STOP_LOSS", "FILLED", Decimal("0.1")) in sell_orders(server))
        await eventually(lambda: ("LIMIT", "CANCELED", Decimal("0.1")) in sell_orders(server))
        portfolio = service.running.bot.portfolio  # type: ignore[union-attr]
        assert portfolio.balance("BTC") == Decimal("1")  # flat: what was held before, no short


async def test_a_take_profit_filling_in_parts_shrinks_the_stop_to_what_is_left(
    tmp_path: Path,
) -> None:
    # a rise fills at most 1 BTC: the 1.5 BTC take-profit fills 1, then 0.5 on the next rise
    async with ccxt_bot(tmp_path, ONLY_RISES, execution=BRACKET) as (service, server):
        await service.send_signal(
            {**signal("br"), "size": "1.5", "stop_loss": "95", "take_profit": "103"}
        )
        orders = service.running.bot.orders  # type: ignore[union-attr]

        def stop() -> Order:
            return next(o for o in orders.all_orders if o.order_type is OrderType.STOP_MARKET)

        await eventually(
            lambda: ("LIMIT", "PARTIALLY_FILLED", Decimal("1.5")) in sell_orders(server)
        )
        await eventually(lambda: ("STOP_LOSS", "NEW", Decimal("0.5")) in sell_orders(server))
        assert stop().amount == Decimal("0.5")
        await eventually(lambda: ("LIMIT", "FILLED", Decimal("1.5")) in sell_orders(server))
        await eventually(lambda: stop().status is OrderStatus.CANCELED)
        assert service.running.bot.portfolio.balance("BTC") == Decimal("5")  # type: ignore[union-attr]


async def test_legs_placed_before_a_restart_are_still_linked_after_it(tmp_path: Path) -> None:
    async with running_venue_server(venue_config(tmp_path, ONLY_DIPS)) as server:
        config = bot_config(tmp_path, server, execution=BRACKET)
        service = BotService(config)
        await service.start()
        await service.send_signal({**signal("br"), "stop_loss": "97", "take_profit": "103"})
        await eventually(lambda: ("LIMIT", "NEW", Decimal("0.1")) in sell_orders(server))
        await eventually(lambda: ("STOP_LOSS", "NEW", Decimal("0.1")) in sell_orders(server))
        assert await service.stop() == 0
        # the stop fills while the bot is down
        await eventually(lambda: ("STOP_LOSS", "FILLED", Decimal("0.1")) in sell_orders(server))
        restarted = BotService(bot_config(tmp_path, server, execution=BRACKET))
        await restarted.start()
        try:
            assert restarted.started
            await eventually(lambda: ("LIMIT", "CANCELED", Decimal("0.1")) in sell_orders(server))
        finally:
            assert await restarted.stop() == 0


async def test_an_iceberg_cut_short_by_a_restart_is_named_at_start_with_what_is_given_up(
    tmp_path: Path, log_lines: list[str]
) -> None:
    # the next chunk waits an hour after the first fills: the restart loses the plan
    iceberg = {"class": "iceberg", "params": {"chunk_size": "0.1", "interval_seconds": 3600}}
    async with running_venue_server(venue_config(tmp_path)) as server:
        service = BotService(bot_config(tmp_path, server, execution=iceberg))
        await service.start()
        await service.send_signal({**signal("ice"), "size": "0.3"})
        await eventually(
            lambda: (service.signal_status("", "ice") or {}).get("status") == "executed"
        )
        assert await service.stop() == 0
        restarted = BotService(bot_config(tmp_path, server, execution=iceberg))
        await restarted.start()
        try:
            assert restarted.started
            warned = [line for line in log_lines if line.startswith("WARNING signal /ice:")]
            assert len(warned) == 1
            assert "0.2 of its size 0.3 was never sent and is given up" in warned[0]
            assert restarted.signal_status("", "ice")["reason"] == "unfilled"  # type: ignore[index]
        finally:
            assert await restarted.stop() == 0
        again = BotService(bot_config(tmp_path, server, execution=iceberg))
        await again.start()  # the reason is kept: not named a second time
        try:
            warned = [line for line in log_lines if line.startswith("WARNING signal /ice:")]
            assert len(warned) == 1
        finally:
            assert await again.stop() == 0


async def test_a_ban_outlives_a_restart_nothing_is_sent_until_it_ends(
    tmp_path: Path, log_lines: list[str]
) -> None:
    async with running_venue_server(venue_config(tmp_path)) as server:
        service = BotService(bot_config(tmp_path, server))
        await service.start()
        until_ms = server.clock.now_ms() + 3_000
        server.faults.inject(
            FaultRule(
                kind="status",
                status=418,
                path="/api/v3/order",
                code=-1003,
                msg=f"Way too much request weight used; IP banned until {until_ms}.",
            )
        )
        await service.send_signal(signal("b1"))
        await eventually(
            lambda: (service.signal_status("", "b1") or {}).get("status") == "rejected"
        )
        assert await service.stop() == 0

        sent_before = server.faults.request_count
        restarted = BotService(bot_config(tmp_path, server))
        starting = asyncio.create_task(restarted.start())
        while server.clock.now_ms() < until_ms - 300:  # nothing at all reaches the venue
            assert server.faults.request_count == sent_before
            assert not starting.done()
            await asyncio.sleep(0.05)
        await starting
        assert restarted.started
        try:
            await restarted.send_signal(signal("b2"))
            await eventually(
                lambda: (restarted.signal_status("", "b2") or {}).get("status") == "executed"
            )
        finally:
            assert await restarted.stop() == 0
        waits = [line for line in log_lines if "start-up waits" in line]
        assert len(waits) == 1 and waits[0].startswith("CRITICAL"), waits

        again = BotService(bot_config(tmp_path, server))  # the saved ban has ended: ignored
        await again.start()
        assert again.started
        assert await again.stop() == 0
        assert len([line for line in log_lines if "start-up waits" in line]) == 1


async def test_a_venue_down_is_told_once_by_periodic_reconciliation_not_every_interval(
    tmp_path: Path, log_lines: list[str]
) -> None:
    recovery = {"reconcile_interval_s": 0.3, "snapshot_interval_s": 3600}
    breaker = {"failures": 2, "recovery_s": 1}
    async with ccxt_bot(tmp_path, recovery=recovery, exchange={"breaker": breaker}) as (
        _service,
        server,
    ):
        server.faults.inject(FaultRule(kind="status", status=503, count=None))
        await asyncio.sleep(7)  # the breaker opens; many intervals pass
        failed = [line for line in log_lines if "periodic reconciliation failed" in line]
        assert len(failed) == 1, failed
        assert "Traceback" not in failed[0]
        assert "circuit breaker is open" in failed[0]
        server.faults.clear()
        await eventually(lambda: any("reconciliation works again" in line for line in log_lines))
        assert not [line for line in log_lines if "Traceback" in line]


async def test_streams_failing_to_reconnect_leave_no_unretrieved_future_errors(
    tmp_path: Path,
) -> None:
    unretrieved: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: unretrieved.append(context["message"]))
    try:
        async with ccxt_bot(tmp_path) as (_service, server):
            for path in ("/ws-api/v3", "/stream/ws/0", "/ws"):  # no stream can come back
                server.faults.inject(FaultRule(kind="drop", path=path, count=None))
            await server.drop_websockets()
            await asyncio.sleep(4)  # several failed dials
            gc.collect()  # an unretrieved failure is told when its future is collected
            assert unretrieved == []
    finally:
        loop.set_exception_handler(None)
