"""`rest_poll` source end to end: a real paper bot and store, a test-owned HTTP detector on
127.0.0.1 that pages, fails, answers garbage or is not there."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.intake.detectors import TOKEN, HttpDetector, free_port, signal
from tests.intake.rig import LiveRig, eventually, live_bot
from trading_bot.intake.rest_poll import RestPollParams, RestPollSource
from trading_bot.service.intake_runner import IntakeStartError

SECRETS = ("tk-7c1e5a9d3b", "q-5e8d2c")  # the header token and the URL's query token


def poll_source(detector: HttpDetector, **overrides: Any) -> RestPollSource:
    params: dict[str, Any] = {
        "url": detector.url,
        "headers": {"Authorization": TOKEN},
        "source": "det",
        "interval_s": 0.05,
        "timeout_s": 2.0,
        "retry_max_s": 0.2,
        **overrides,
    }
    return RestPollSource(RestPollParams.model_validate(params), "poll")


def check_each_order_once(rig: LiveRig, count: int) -> None:
    orders = rig.orders_at_venue()
    assert len(orders) == len(set(orders)) == count


def no_secret_in(lines: list[str]) -> bool:
    return not any(secret in line for line in lines for secret in SECRETS)


@pytest.mark.parametrize("form", ["array", "object"])
async def test_pages_are_taken_at_once_until_caught_up_then_polled_at_the_interval(
    tmp_path: Path, form: str, log_lines: list[str]
) -> None:
    detector = HttpDetector([signal(f"r{i}") for i in range(1, 11)], page_size=3, form=form)
    async with detector.running(), live_bot(tmp_path) as rig:
        source = poll_source(detector, interval_s=30)  # only catching up can be this quick
        async with rig.serving(source):
            await eventually(lambda: len(rig.signals()) == 10, timeout_s=5)
            await asyncio.sleep(0.3)
            polls = len(detector.polls)
            assert polls == 5  # four pages, then one empty answer; the next is 30 s away
            assert rig.duplicates() == 0
            check_each_order_once(rig, 10)
    if form == "array":
        assert detector.cursors() == [None, "r3", "r6", "r9", "r10"]
    else:
        assert detector.cursors() == [None, "p3", "p6", "p9", "p10"]
    assert {h["authorization"] for h in detector.headers} == {TOKEN}
    assert all(p["token"] == ["q-5e8d2c"] for p in detector.polls)  # the URL's query is kept
    assert source.describe() == (
        f"polling http://127.0.0.1:{detector.port}/signals?… every 30 s (cursor in 'after')"
    )
    assert no_secret_in(log_lines)
    store = (tmp_path / "store.sqlite").read_bytes()
    assert not any(secret.encode() in store for secret in SECRETS)


async def test_a_restarted_bot_polls_from_the_saved_cursor(tmp_path: Path) -> None:
    detector = HttpDetector([signal(f"r{i}") for i in range(1, 6)], page_size=2)
    async with detector.running():
        async with live_bot(tmp_path) as rig, rig.serving(poll_source(detector)):
            await eventually(lambda: len(rig.signals()) == 5)
        detector.signals += [signal(f"r{i}") for i in range(6, 9)]
        detector.polls.clear()
        async with live_bot(tmp_path) as rig, rig.serving(poll_source(detector)):
            await eventually(lambda: len(rig.signals()) == 8)
            await asyncio.sleep(0.1)
            assert rig.duplicates() == 0
            check_each_order_once(rig, 8)
    assert detector.cursors()[0] == "r5"


async def test_a_bad_signal_is_dead_lettered_and_the_rest_of_its_page_taken(
    tmp_path: Path,
) -> None:
    page = [
        signal("ok1"),
        {"signal_id": "incomplete"},
        signal("eth", asset="ETH/USDT"),
        [1, 2],
        signal("ok2"),
    ]
    text = json.dumps(page)[:-1] + ', {"signal_id": "twice", "signal_id": "again"}]'
    detector = HttpDetector([signal("ok1"), signal("ok2")])
    detector.raw_pages = [text.encode(), text.encode()]  # the same page twice: taken once
    async with detector.running(), live_bot(tmp_path) as rig, rig.serving(poll_source(detector)):
        await eventually(lambda: len(detector.polls) >= 4)
        assert set(rig.signals()) == {("det", "ok1"), ("det", "ok2")}
        dead = rig.dead_letters()
        assert len(dead) == 4
        assert rig.gate.channels["poll"].cursor == "ok2"
    problems = " ".join(d["errors"] for d in dead)
    assert "key 'signal_id' appears twice in one object" in problems
    assert "ETH/USDT is not traded" in problems
    assert dead[0]["location"] == "poll:first page #2"


async def test_failures_are_logged_once_retried_and_polling_goes_on(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = HttpDetector([signal("r1")])
    async with (
        detector.running(),
        live_bot(tmp_path) as rig,
        rig.serving(poll_source(detector, timeout_s=1)),
    ):
        await eventually(lambda: len(rig.signals()) == 1)
        detector.signals.append(signal("r2"))
        detector.faults += ["500", "garbage", "slow", "reset"]
        await eventually(lambda: len(rig.signals()) == 2, timeout_s=8)
    assert not detector.faults
    failures = [line for line in log_lines if "failed" in line and "works again" not in line]
    assert [line.split(" ")[0] for line in failures] == ["WARNING", "DEBUG", "DEBUG", "DEBUG"]
    assert "HTTP 500" in failures[0]
    assert "not JSON" in failures[1]
    assert "no answer within 1 s" in failures[2]
    assert sum("works again after 4 failed attempt(s)" in line for line in log_lines) == 1
    assert no_secret_in(log_lines)


async def test_a_detector_down_at_start_is_a_clear_start_error(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = HttpDetector()
    detector.port = free_port()
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError) as caught:
            async with rig.serving(poll_source(detector)):
                pass
    message = str(caught.value)
    assert message.startswith(
        f"intake source poll: cannot poll the detector at http://127.0.0.1:{detector.port}/signals"
    )
    assert "ConnectError" in message
    assert no_secret_in([message, *log_lines])


async def test_a_refused_token_is_a_start_error_that_does_not_show_it(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = HttpDetector()
    async with detector.running(), live_bot(tmp_path) as rig:
        source = poll_source(detector, headers={"Authorization": "Bearer wrong-0a1b2c3d"})
        with pytest.raises(IntakeStartError, match="HTTP 401") as caught:
            async with rig.serving(source):
                pass
    assert "wrong-0a1b2c3d" not in str(caught.value)
    assert not any("wrong-0a1b2c3d" in line for line in log_lines)


async def test_a_detector_not_up_yet_is_waited_for_when_not_required_at_start(
    tmp_path: Path,
) -> None:
    detector = HttpDetector([signal("r1"), signal("r2")])
    detector.port = free_port()
    async with live_bot(tmp_path) as rig:
        async with rig.serving(poll_source(detector, required_at_start=False)):
            await asyncio.sleep(0.3)
            async with detector.running(detector.port):
                await eventually(lambda: len(rig.signals()) == 2)
        assert rig.duplicates() == 0


async def test_a_stop_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    detector = HttpDetector([signal("r1")])
    loop = asyncio.get_running_loop()
    async with detector.running(), live_bot(tmp_path) as rig:
        async with rig.serving(poll_source(detector, interval_s=3600)):
            await eventually(lambda: len(rig.signals()) == 1)
            stopping_at = loop.time()
        assert loop.time() - stopping_at < 2
