"""A modify is a cancel-replace at Binance: sent once (it creates an order), and when its
answer is lost, what the venue did is read back by client order id."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.venues.ccxt.rig import live_rig
from trading_bot.domain.order_status import OrderStatus
from trading_bot.venues.server import FaultRule

D = Decimal
S = OrderStatus
REPLACE_PATH = "/api/v3/order/cancelReplace"


async def test_modify_done_but_unanswered_is_read_back_as_modified(tmp_path: Path) -> None:
    async with live_rig(tmp_path, timeout_ms=400) as rig:
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")
        rig.server.faults.inject(
            FaultRule(kind="timeout_after_accept", method="POST", path=REPLACE_PATH, delay_s=1)
        )

        assert rig.manager.modify(resting, price=D("91"))
        await rig.until(lambda: not rig.venue._tasks, "the modify finished")

        # the stream told the cancel half first: it did not end the order
        assert rig.reports.kinds(resting.client_order_id) == ["accepted", "modified"]
        assert resting.price == D("91") and resting.status is S.ACCEPTED
        replaced, new = rig.server_orders(resting.client_order_id)
        assert (replaced.status, new.status, new.price) == ("CANCELED", "NEW", D("91"))
        assert rig.server.faults.requests.count(("POST", REPLACE_PATH)) == 1

        rig.manager.cancel(resting)  # the bot follows the new order
        await rig.until_reported(resting, "canceled")
        assert new.status == "CANCELED"


async def test_modify_failing_before_the_server_acts_is_refused_and_the_order_stands(
    tmp_path: Path,
) -> None:
    async with live_rig(tmp_path) as rig:
        resting = rig.submit(rig.order("buy", "0.2", "limit", price="90"))
        await rig.until_reported(resting, "accepted")
        rig.server.faults.inject(FaultRule(kind="status", status=503, path=REPLACE_PATH))

        assert rig.manager.modify(resting, price=D("91"))
        await rig.until_reported(resting, "modify_rejected")

        assert resting.price == D("90") and resting.status is S.ACCEPTED
        (held,) = rig.server_orders(resting.client_order_id)
        assert held.status == "NEW" and held.price == D("90")
