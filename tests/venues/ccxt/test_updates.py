"""Order and fill updates: from ccxt.pro's watch_orders / watch_my_trades when the venue has
streams, from polling otherwise; after a stream drops, what happened meanwhile is polled once
it tries to reconnect. Every trade is reported exactly once whichever path tells it first.

The polling interval is set long where a test must show that a stream delivered an update:
the only REST reads left are the ones the stream's reconnection makes (one before each attempt,
one 2 s after).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.venues.ccxt.rig import ORDER_PATH, LiveRig, live_rig
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.venues.server import FaultRule

D = Decimal
S = OrderStatus
USER_STREAM = "/ws-api/v3"
NO_POLLING = {"poll_interval_s": 60}  # x10 with streams: never within a test


def order_reads(rig: LiveRig) -> int:
    return sum(1 for request in rig.server.faults.requests if request == ("GET", ORDER_PATH))


def subscribed(rig: LiveRig) -> bool:
    """The venue server has a user-data subscription to send events to."""
    return bool(rig.server.venue.ledger.listeners)


async def cancel_at_the_venue(rig: LiveRig, order: Order) -> None:
    """Someone cancels the order on the venue's own site: only the venue can tell the bot."""
    await rig.server.venue.cancel("BTCUSDT", None, order.client_order_id)


async def test_fills_and_cancels_arrive_on_the_streams(tmp_path: Path) -> None:
    async with live_rig(tmp_path, **NO_POLLING) as rig:
        await rig.until(lambda: subscribed(rig), "the user stream subscribed")
        dip = rig.submit(rig.order("buy", "0.5", "limit", price="97"))
        elsewhere = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(elsewhere, "accepted")
        reads = order_reads(rig)

        await cancel_at_the_venue(rig, elsewhere)
        await rig.until_reported(elsewhere, "canceled")
        await rig.until_filled(dip)

        assert rig.reports.kinds(dip.client_order_id) == ["accepted", "filled"]
        assert dip.status is S.FILLED and elsewhere.status is S.CANCELED
        assert order_reads(rig) == reads  # no polling: the streams told it


async def test_dropped_stream_reconnects_and_what_happened_meanwhile_is_reported_once(
    tmp_path: Path,
) -> None:
    async with live_rig(tmp_path, **NO_POLLING) as rig:
        await rig.until(lambda: subscribed(rig), "the user stream subscribed")
        dip = rig.submit(rig.order("buy", "0.5", "limit", price="97"))
        await rig.until_reported(dip, "accepted")

        # the stream goes down and cannot come back until the rule is cleared
        rig.server.faults.inject(FaultRule(kind="drop", path=USER_STREAM, count=None))
        await rig.server.drop_websockets()
        await rig.until(lambda: not subscribed(rig), "the user stream gone")

        await rig.until_filled(dip)  # on the dip, while the stream is down: polled
        assert ("drop", "GET", USER_STREAM) in rig.server.faults.hits

        rig.server.faults.clear()
        await rig.until(lambda: subscribed(rig), "the user stream back", timeout_s=40)
        await rig.until(lambda: not rig.updates._polls, "the poll after resubscribing done")
        after = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(after, "accepted")
        reads = order_reads(rig)
        await cancel_at_the_venue(rig, after)
        await rig.until_reported(after, "canceled")

        assert order_reads(rig) == reads  # the stream told it, not a poll
        assert rig.reports.kinds(dip.client_order_id) == ["accepted", "filled"]
        assert len(rig.reports.fills(dip.client_order_id)) == len(
            rig.server_orders(dip.client_order_id)[0].trades
        )

        # the stream is healthy again: the next drop is met with a short back-off, not with
        # the one the refused attempts had grown to
        await rig.server.drop_websockets()
        await rig.until(lambda: not subscribed(rig), "the user stream dropped again")
        await rig.until(lambda: subscribed(rig), "the user stream back promptly", timeout_s=2)


async def test_stream_survives_a_refused_subscription_and_comes_back(tmp_path: Path) -> None:
    """ccxt 4.5.90 raises KeyError('spot') from watch_orders when the venue refuses the
    user-data subscription (keys revoked); the stream must keep trying, not die."""
    async with live_rig(tmp_path, **NO_POLLING) as rig:
        await rig.until(lambda: subscribed(rig), "the user stream subscribed")
        secret = rig.server.signing.api_secret
        rig.server.signing.api_secret = "revoked"
        await rig.server.drop_websockets()
        await rig.until(
            lambda: sum(1 for r in rig.server.faults.requests if r == ("WS", USER_STREAM)) >= 3,
            "the stream retried after its subscription was refused",
        )
        assert not subscribed(rig)
        assert all(not loop.done() for loop in rig.updates._loops)

        rig.server.signing.api_secret = secret  # the keys work again
        await rig.until(lambda: subscribed(rig), "the user stream back", timeout_s=40)
        await rig.until(lambda: not rig.updates._polls, "the poll after resubscribing done")
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")
        reads = order_reads(rig)
        await cancel_at_the_venue(rig, resting)
        await rig.until_reported(resting, "canceled")
        assert order_reads(rig) == reads


async def test_without_websocket_polling_alone_reports_fills_and_cancels(tmp_path: Path) -> None:
    async with live_rig(tmp_path, use_websocket=False, poll_interval_s=0.25) as rig:
        dip = rig.submit(rig.order("buy", "0.5", "limit", price="97"))
        elsewhere = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(elsewhere, "accepted")
        await cancel_at_the_venue(rig, elsewhere)

        await rig.until_reported(elsewhere, "canceled")
        await rig.until_filled(dip)

        assert rig.reports.kinds(dip.client_order_id) == ["accepted", "filled"]
        assert not [r for r in rig.server.faults.requests if r[0] == "WS"]
        assert not subscribed(rig)
