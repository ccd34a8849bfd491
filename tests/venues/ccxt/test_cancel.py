"""A cancel is safe to repeat: a failed one is retried, one that happened but whose answer
was lost is found done, and a cancel of an order that filled meanwhile leaves the fill
reported (the cancel refused: order not found)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.venues.ccxt.rig import ORDER_PATH, R, live_rig
from trading_bot.domain.order_status import OrderStatus
from trading_bot.venues.server import FaultRule

D = Decimal
S = OrderStatus


def cancels_sent(rig) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for request in rig.server.faults.requests if request == ("DELETE", ORDER_PATH))


async def test_cancel_answered_503_is_retried_and_cancels_once(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig:
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")
        rig.server.faults.inject(FaultRule(kind="status", status=503, method="DELETE"))

        rig.manager.cancel(resting)
        await rig.until_reported(resting, "canceled")

        assert rig.reports.kinds(resting.client_order_id) == ["accepted", "canceled"]
        assert resting.status is S.CANCELED
        assert cancels_sent(rig) == 2
        (held,) = rig.server_orders(resting.client_order_id)
        assert held.status == "CANCELED"


async def test_cancel_done_but_unanswered_is_found_done_on_the_retry(tmp_path: Path) -> None:
    async with live_rig(tmp_path, timeout_ms=400) as rig:
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")
        rig.server.faults.inject(
            FaultRule(kind="timeout_after_accept", method="DELETE", path=ORDER_PATH, delay_s=1)
        )

        rig.manager.cancel(resting)
        await rig.until_reported(resting, "canceled")
        await rig.until(lambda: not rig.venue._tasks, "the cancel finished")

        # the retry was told "unknown order" and found it canceled: not a refusal
        assert rig.reports.kinds(resting.client_order_id) == ["accepted", "canceled"]
        assert cancels_sent(rig) == 2


async def test_cancel_of_an_order_that_filled_meanwhile_reports_the_fill(tmp_path: Path) -> None:
    # no stream and a slow poll: the bot does not know the order filled when it cancels
    async with live_rig(tmp_path, use_websocket=False, poll_interval_s=60) as rig:
        resting = rig.submit(rig.order("buy", "0.5", "limit", price="97"))
        await rig.until_reported(resting, "accepted")
        await rig.until(
            lambda: rig.server_orders(resting.client_order_id)[0].status == "FILLED",
            "the order filled at the venue on the dip",
        )
        assert not rig.reports.has(resting.client_order_id, "filled")

        rig.manager.cancel(resting)
        await rig.until_reported(resting, "cancel_rejected")

        assert rig.reports.kinds(resting.client_order_id) == [
            "accepted",
            "filled",
            "cancel_rejected",
        ]
        assert rig.reports.reason(resting.client_order_id, "cancel_rejected") is R.ORDER_NOT_FOUND
        assert resting.status is S.FILLED and resting.filled_amount == D("0.5")
        (fill,) = rig.reports.fills(resting.client_order_id)
        assert fill.price == D("97")


async def test_a_cancel_is_reported_from_its_answer_without_an_error_logged(
    tmp_path: Path, log_lines: list[str]
) -> None:
    # no stream and a slow poll: the cancel's own answer is what reports it. That answer names
    # the order in origClientOrderId and the cancel request in clientOrderId (as Binance does)
    async with live_rig(tmp_path, use_websocket=False, poll_interval_s=60) as rig:
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")

        rig.manager.cancel(resting)
        await rig.until_reported(resting, "canceled", timeout_s=5)

        assert rig.reports.kinds(resting.client_order_id) == ["accepted", "canceled"]
        assert resting.status is S.CANCELED
        assert [line for line in log_lines if line.startswith("ERROR")] == []
