"""Throttling, bans and the circuit breaker, with the venue server answering 429, 418 and
5xx: a 429 pauses sending, a 418 stops it until the ban ends and alerts once, repeated
failures open the breaker (orders refused locally, intake told to pause) until the venue
answers again."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.venues.ccxt.rig import API_SECRET, ORDER_PATH, LiveRig, R, live_rig
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.monitoring.alerts import Alerter, AlerterParams, AlertLevel
from trading_bot.monitoring.order_log import log_order_events
from trading_bot.venues.base import VenueQueryError
from trading_bot.venues.server import FaultRule

D = Decimal
S = OrderStatus


def ban_rule(rig: LiveRig, seconds: float, path: str = ORDER_PATH) -> FaultRule:
    """A 418 with Binance's body, the ban ending `seconds` from now."""
    until = rig.clock.now_ms() + int(seconds * 1000)
    return FaultRule(
        kind="status",
        status=418,
        path=path,
        code=-1003,
        msg=f"Way too much request weight used; IP banned until {until}. Please use WebSocket "
        "Streams for live updates to avoid bans.",
    )


async def test_429_on_create_rejects_it_and_pauses_sending_then_resumes(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        rig.server.faults.inject(FaultRule(kind="status", status=429, path=ORDER_PATH))
        throttled = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(throttled, "rejected")
        assert rig.reports.reason(throttled.client_order_id, "rejected") is R.VENUE_RATE_LIMITED

        inside_pause = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(inside_pause, "rejected")
        assert rig.reports.reason(inside_pause.client_order_id, "rejected") is R.VENUE_RATE_LIMITED
        assert rig.order_requests() == 1  # refused without reaching the server

        await rig.until(lambda: rig.guard.refusal() is None, "the pause ended", 3)
        after = rig.submit(rig.order("buy", "0.1"))
        await rig.until_filled(after)
        assert rig.order_requests() == 2
        assert [o.client_order_id for o in rig.server.orders] == [after.client_order_id]


async def test_429_on_queries_and_cancels_is_waited_out_and_retried(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")

        rig.server.faults.inject(
            FaultRule(kind="status", status=429, path=ORDER_PATH, method="GET")
        )
        snapshot = await rig.venue.fetch_order(resting.client_order_id, "BTC/USDT")
        assert snapshot is not None and snapshot.status is S.ACCEPTED

        rig.server.faults.inject(
            FaultRule(kind="status", status=429, path=ORDER_PATH, method="DELETE")
        )
        rig.manager.cancel(resting)
        await rig.until_reported(resting, "canceled", timeout_s=6)
        assert rig.reports.kinds(resting.client_order_id) == ["accepted", "canceled"]
        assert [kind for kind, _, _ in rig.server.faults.hits] == ["status", "status"]
        (held,) = rig.server_orders(resting.client_order_id)
        assert held.status == "CANCELED"


async def test_a_429_with_retry_after_pauses_sending_that_long(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        rig.server.faults.inject(
            FaultRule(kind="status", status=429, path=ORDER_PATH, retry_after=2)
        )
        sent_ms = rig.clock.now_ms()
        throttled = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(throttled, "rejected")
        rejected_ms = rig.clock.now_ms()
        assert rig.reports.reason(throttled.client_order_id, "rejected") is R.VENUE_RATE_LIMITED
        assert sent_ms + 2_000 <= rig.guard.paused_until_ms <= rejected_ms + 2_000

        # past the bot's own back-off (1 s), inside the venue's 2 s
        await rig.until(lambda: rig.clock.now_ms() >= rejected_ms + 1_100, "past 1 s", 3)
        inside_pause = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(inside_pause, "rejected")
        assert rig.reports.reason(inside_pause.client_order_id, "rejected") is R.VENUE_RATE_LIMITED
        assert rig.order_requests() == 1  # refused without reaching the server

        balances = await asyncio.wait_for(rig.venue.fetch_balances(), 3)  # waits it out
        assert rig.clock.now_ms() >= sent_ms + 2_000
        assert balances["USDT"] == D("10000")
        after = rig.submit(rig.order("buy", "0.1"))
        await rig.until_filled(after)
        assert [o.client_order_id for o in rig.server.orders] == [after.client_order_id]


async def paused_for_own_back_off(rig: LiveRig, retry_after: str | None) -> None:
    """A 429 on a create with this Retry-After pauses sending for the bot's own first
    back-off (1 s), then orders go through again."""
    rig.server.faults.inject(
        FaultRule(kind="status", status=429, path=ORDER_PATH, retry_after=retry_after)
    )
    sent_ms = rig.clock.now_ms()
    throttled = rig.submit(rig.order("buy", "0.1"))
    await rig.until_reported(throttled, "rejected")
    assert rig.reports.reason(throttled.client_order_id, "rejected") is R.VENUE_RATE_LIMITED
    assert sent_ms + 1_000 <= rig.guard.paused_until_ms <= rig.clock.now_ms() + 1_000

    await rig.until(lambda: rig.guard.refusal() is None, "the 1 s pause ended", 2)
    after = rig.submit(rig.order("buy", "0.1"))
    await rig.until_filled(after)


async def test_a_429_without_retry_after_keeps_the_bots_own_back_off(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        await paused_for_own_back_off(rig, None)


async def test_an_unreadable_retry_after_is_ignored(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        await paused_for_own_back_off(rig, "in a while")


async def test_a_418_with_retry_after_and_no_banned_until_bans_for_that_long(
    tmp_path: Path,
) -> None:
    async with live_rig(tmp_path) as rig:
        rig.server.faults.inject(
            FaultRule(
                kind="status",
                status=418,
                path=ORDER_PATH,
                code=-1003,
                msg="Way too much request weight used.",  # no "banned until"
                retry_after=2,
            )
        )
        sent_ms = rig.clock.now_ms()
        banned = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(banned, "rejected")
        rejected_ms = rig.clock.now_ms()
        assert rig.reports.reason(banned.client_order_id, "rejected") is R.VENUE_BANNED
        # the venue's 2 s, not BAN_DEFAULT_MS
        assert sent_ms + 2_000 <= rig.guard.banned_until_ms <= rejected_ms + 2_000
        sent = rig.server.faults.request_count

        waiting = asyncio.create_task(rig.venue.fetch_balances())  # waits for the ban's end
        await rig.until(lambda: rig.clock.now_ms() >= rejected_ms + 1_500, "1.5 s later", 3)
        assert rig.server.faults.request_count == sent, "something was sent during the ban"
        assert not waiting.done()

        balances = await asyncio.wait_for(waiting, 3)
        assert rig.clock.now_ms() >= sent_ms + 2_000
        assert balances["USDT"] == D("10000")
        after = rig.submit(rig.order("buy", "0.1"))
        await rig.until_filled(after)
        assert len(rig.bans) == 1


async def test_418_stops_all_sending_until_the_ban_ends_and_alerts_once(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        rig.server.faults.inject(ban_rule(rig, 2.0))
        banned = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(banned, "rejected")
        assert rig.reports.reason(banned.client_order_id, "rejected") is R.VENUE_BANNED
        sent = rig.server.faults.request_count

        refused = rig.submit(rig.order("buy", "0.1"))
        waiting = asyncio.create_task(rig.venue.fetch_balances())  # waits for the ban's end
        await rig.until_reported(refused, "rejected")
        assert rig.reports.reason(refused.client_order_id, "rejected") is R.VENUE_BANNED
        await asyncio.sleep(1.0)
        assert rig.server.faults.request_count == sent, "something was sent during the ban"
        assert not waiting.done()

        balances = await asyncio.wait_for(waiting, 3)
        assert balances["USDT"] == D("10000")
        after = rig.submit(rig.order("buy", "0.1"))
        await rig.until_filled(after)
        assert len(rig.bans) == 1 and "418" in rig.bans[0]
        assert rig.server.orders == rig.server.orders[:1]  # only the order after the ban


class AlertReceiver:
    """A local HTTP endpoint apprise's json:// posts to."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _take(self, request: web.Request) -> web.Response:
        self.received.append(json.loads(await request.text()))
        return web.Response(text="ok")

    async def __aenter__(self) -> AlertReceiver:
        app = web.Application()
        app.router.add_post("/alerts", self._take)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_a_ban_alert_is_delivered_to_the_configured_channel(tmp_path: Path) -> None:
    async with AlertReceiver() as receiver, live_rig(tmp_path) as rig:
        alerter = Alerter(
            AlerterParams.model_validate({"urls": [f"json://127.0.0.1:{receiver.port}/alerts"]})
        )
        # as the service wires it (service/ccxt_bot.py)
        rig.venue.on_ban = lambda detail: alerter.alert(
            AlertLevel.CRITICAL,
            "binance banned the bot (HTTP 418)",
            f"Nothing is sent until the ban ends. {detail}",
        )
        rig.server.faults.inject(ban_rule(rig, 1.0))
        first = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(first, "rejected")
        with_ban = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(with_ban, "rejected")
        await alerter.drain()
        await rig.until(lambda: len(receiver.received) >= 1, "the alert delivered", 5)

        (alert,) = receiver.received
        assert alert["title"] == "binance banned the bot (HTTP 418)"
        assert "banned until" in alert["message"] and alert["type"] == "failure"
        assert API_SECRET not in json.dumps(alert)


async def test_repeated_failures_open_the_breaker_and_it_closes_once_the_venue_answers(
    tmp_path: Path,
) -> None:
    async with live_rig(tmp_path, breaker={"failures": 2, "recovery_s": 1.0}) as rig:
        rig.server.faults.inject(
            FaultRule(kind="status", status=503, path="/api/v3/account", count=2)
        )
        with pytest.raises(VenueQueryError, match="circuit breaker is open"):
            await rig.venue.fetch_balances()  # 503, 503: open; the third attempt is not sent
        assert rig.health == [False]
        sent = rig.server.faults.request_count

        refused = rig.submit(rig.order("buy", "0.1"))
        await rig.until_reported(refused, "rejected")
        assert rig.reports.reason(refused.client_order_id, "rejected") is R.VENUE_UNAVAILABLE
        assert rig.server.faults.request_count == sent  # nothing reached the server

        # nobody sends anything: the breaker tests the venue by itself after recovery_s
        await rig.until(lambda: rig.health == [False, True], "the breaker closed", 4)
        after = rig.submit(rig.order("buy", "0.1"))
        await rig.until_filled(after)


async def test_breaker_that_fails_its_test_stays_open_and_tries_again(tmp_path: Path) -> None:
    async with live_rig(tmp_path, breaker={"failures": 1, "recovery_s": 0.5}) as rig:
        rig.server.faults.inject(FaultRule(kind="status", status=503, count=3))
        with contextlib.suppress(VenueQueryError):
            await rig.venue.fetch_balances()
        assert rig.health == [False]
        # the tests after 0.5 s and 1 s fail (503), the one after 1.5 s succeeds
        await rig.until(lambda: rig.health == [False, True], "the breaker closed", 5)
        assert not rig.server.faults.rules


async def test_refusals_of_one_order_never_open_the_breaker(tmp_path: Path) -> None:
    async with live_rig(tmp_path, breaker={"failures": 2, "recovery_s": 30}) as rig:
        orders = [rig.submit(rig.order("buy", "500")) for _ in range(4)]  # insufficient funds
        for order in orders:
            await rig.until_reported(order, "rejected")
        assert rig.health == []
        after = rig.submit(rig.order("buy", "0.1"))
        await rig.until_filled(after)


async def test_orders_refused_without_a_request_are_logged_rejected_never_sent(
    tmp_path: Path, log_lines: list[str]
) -> None:
    async with live_rig(tmp_path) as rig:
        log_order_events(rig.bus)
        rig.server.faults.inject(FaultRule(kind="status", status=429, path=ORDER_PATH))
        throttled = rig.submit(rig.order("buy", "0.1"))  # reaches the venue: its 429 pauses
        await rig.until_reported(throttled, "rejected")
        inside_pause = rig.submit(rig.order("buy", "0.1"))
        off_step = rig.submit(rig.order("buy", "0.0155"))  # off the amount step
        for order in (inside_pause, off_step):
            await rig.until_reported(order, "rejected")
        assert rig.order_requests() == 1

        def lines_of(order: Order) -> list[str]:
            name = f"order {order.client_order_id} "
            return [line.split(name, 1)[1].strip() for line in log_lines if name in line]

        assert lines_of(throttled)[0] == "(/faults) sent: buy 0.1 BTC/USDT market"
        assert lines_of(throttled)[1].startswith("(/faults) rejected: venue_rate_limited")
        (refused,) = lines_of(inside_pause)
        assert refused.startswith(
            "(/faults) rejected: venue_rate_limited (not sent: sending paused after a 429"
        )
        (refused,) = lines_of(off_step)
        assert refused.startswith(
            "(/faults) rejected: invalid_amount_precision (not sent: amount 0.0155 breaks"
        )
        assert inside_pause.status is S.REJECTED and off_step.status is S.REJECTED
