"""`websocket` source end to end: a real paper bot and store, a test-owned WebSocket detector
on 127.0.0.1 that drops, replays, goes silent or is not there."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.intake.detectors import TOKEN, WsDetector, free_port, signal
from tests.intake.rig import LiveRig, eventually, live_bot
from trading_bot.intake.websocket_client import WebSocketClientParams, WebSocketClientSource
from trading_bot.service.intake_runner import IntakeStartError

SECRETS = ("tk-7c1e5a9d3b", "q-5e8d2c")  # the header token and the URL's query token


def ws_source(detector: WsDetector, **overrides: Any) -> WebSocketClientSource:
    params: dict[str, Any] = {
        "url": detector.url,
        "headers": {"Authorization": TOKEN},
        "source": "det",
        "ping_interval_s": 1,
        "ping_timeout_s": 2,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
        **overrides,
    }
    return WebSocketClientSource(WebSocketClientParams.model_validate(params), "ws")


def check_each_order_once(rig: LiveRig, count: int) -> None:
    orders = rig.orders_at_venue()
    assert len(orders) == len(set(orders)) == count


def no_secret_in(lines: list[str]) -> bool:
    return not any(secret in line for line in lines for secret in SECRETS)


async def test_signals_are_recorded_once_and_acknowledged_only_once_committed(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = WsDetector()
    for i in range(1, 6):
        detector.publish(signal(f"w{i}"))
    committed_at_ack: list[bool] = []
    async with detector.running(), live_bot(tmp_path) as rig:
        detector.on_ack = lambda ack: committed_at_ack.append(
            ("det", ack["signal_id"]) in rig.signals()
        )
        source = ws_source(detector)
        async with rig.serving(source):
            await eventually(lambda: len(detector.acks) == 5)
        assert set(rig.signals()) == {("det", f"w{i}") for i in range(1, 6)}
        check_each_order_once(rig, 5)
    assert committed_at_ack == [True] * 5
    assert detector.resumes == [None]
    assert [(a["type"], a["seq"], a["signal_id"]) for a in detector.acks] == [
        ("ack", i, f"w{i}") for i in range(1, 6)
    ]
    assert {a["outcome"] for a in detector.acks} == {"accepted"}
    assert source.describe() == f"WebSocket client of ws://127.0.0.1:{detector.port}/signals?…"
    assert no_secret_in(log_lines)
    store = (tmp_path / "store.sqlite").read_bytes()
    assert not any(secret.encode() in store for secret in SECRETS)


async def test_a_dropped_connection_is_resumed_without_loss_or_duplicates(tmp_path: Path) -> None:
    detector = WsDetector()
    for i in range(1, 11):
        detector.publish(signal(f"w{i}"))
    detector.drop_after_acks = 4  # six sent, four acknowledged, then the line drops
    async with detector.running(), live_bot(tmp_path) as rig, rig.serving(ws_source(detector)):
        await eventually(lambda: 10 in detector.acked_seqs())
        await asyncio.sleep(0.1)
        assert len(rig.signals()) == 10
        assert rig.duplicates() == 0
        check_each_order_once(rig, 10)
    assert detector.connections == 2
    first, resumed = detector.resumes
    assert first is None
    assert resumed is not None and 4 <= resumed <= 6  # at least what was acknowledged
    # acks lost with the line are covered by the resume: it says everything up to it is in
    assert set(detector.acked_seqs()) | set(range(1, resumed + 1)) == set(range(1, 11))


async def test_a_replay_of_recorded_signals_is_a_duplicate_done_once(tmp_path: Path) -> None:
    detector = WsDetector()
    detector.ignore_resume = True  # sends everything again on every connection
    for i in range(1, 7):
        detector.publish(signal(f"w{i}"))
    detector.drop_after_acks = 6
    async with detector.running(), live_bot(tmp_path) as rig, rig.serving(ws_source(detector)):
        await eventually(lambda: len(detector.acks) == 12)
        assert len(rig.signals()) == 6
        assert rig.duplicates() == 6
        check_each_order_once(rig, 6)
    assert [a["outcome"] for a in detector.acks[6:]] == ["duplicate"] * 6
    assert detector.resumes == [None, 6]


async def test_a_restarted_bot_resumes_after_the_last_seq_it_recorded(tmp_path: Path) -> None:
    detector = WsDetector()
    for i in range(1, 6):
        detector.publish(signal(f"w{i}"))
    async with detector.running():
        async with live_bot(tmp_path) as rig, rig.serving(ws_source(detector)):
            await eventually(lambda: len(detector.acks) == 5)
        for i in range(6, 9):
            detector.publish(signal(f"w{i}"))
        async with live_bot(tmp_path) as rig, rig.serving(ws_source(detector)):
            await eventually(lambda: len(detector.acks) == 8)
            assert len(rig.signals()) == 8
            assert rig.duplicates() == 0
            check_each_order_once(rig, 8)
    assert detector.resumes == [None, 5]


async def test_invalid_messages_are_dead_lettered_answered_and_the_stream_goes_on(
    tmp_path: Path,
) -> None:
    detector = WsDetector()
    detector.send_raw("not json")
    detector.send_raw(b"\xff\xfe binary")
    detector.publish({"signal_id": "incomplete"})  # seq 1
    detector.send_raw(json.dumps({"seq": 2, "signal": [1]}), seq=2)
    detector.send_raw(json.dumps({"seq": "x", "signal": signal("badseq")}))
    detector.send_raw(json.dumps(signal("eth", asset="ETH/USDT")))
    big = {"seq": 3, "signal": signal("big", metadata={"pad": "x" * 2000})}
    detector.send_raw(json.dumps(big), seq=3)
    detector.publish(signal("good"))  # seq 4
    detector.send_raw(json.dumps(signal("bare")))
    async with (
        detector.running(),
        live_bot(tmp_path) as rig,
        rig.serving(ws_source(detector, max_message_bytes=1024)),
    ):
        await eventually(lambda: len(detector.acks) == 9)
        assert set(rig.signals()) == {("det", "good"), ("det", "bare")}
        assert len(rig.dead_letters()) == 7
        assert rig.gate.channels["ws"].cursor == "4"  # invalid seqs are done with too
    errors = [a for a in detector.acks if a["outcome"] == "invalid"]
    assert len(errors) == 7
    assert all(a["problems"] and all(a["problems"]) for a in errors)
    by_seq = {a["seq"]: a for a in detector.acks if a["seq"] is not None}
    assert "larger than the 1024-byte limit" in " ".join(by_seq[3]["problems"])
    assert by_seq[2]["problems"] == ["signal: expected a JSON object"]
    assert by_seq[4]["outcome"] == "accepted"
    locations = {d["location"] for d in rig.dead_letters()}
    assert {"ws:message 1", "ws:seq 1", "ws:seq 2", "ws:seq 3"} <= locations


async def test_a_silent_detector_is_caught_by_the_heartbeat_and_reconnected(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = WsDetector()
    detector.silent_next = True  # reads the resume, then never answers a ping
    detector.publish(signal("w1"))
    async with (
        detector.running(),
        live_bot(tmp_path) as rig,
        rig.serving(ws_source(detector, ping_interval_s=0.2, ping_timeout_s=0.3)),
    ):
        await eventually(lambda: len(detector.acks) == 1)
        assert set(rig.signals()) == {("det", "w1")}
    assert detector.connections == 2
    assert any("code 1011 'keepalive ping timeout'" in line for line in log_lines)


async def test_a_detector_that_drops_every_new_connection_is_one_outage_in_the_log(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = WsDetector()
    detector.drop_at_once = 3
    detector.publish(signal("w1"))
    async with detector.running(), live_bot(tmp_path) as rig, rig.serving(ws_source(detector)):
        await eventually(lambda: len(detector.acks) == 1)
        assert set(rig.signals()) == {("det", "w1")}
    assert detector.connections == 4
    warnings = [line for line in log_lines if line.startswith("WARNING")]
    assert len(warnings) == 1 and "nothing received" in warnings[0], warnings
    assert sum("works again after 3 failed attempt(s)" in line for line in log_lines) == 1


async def test_over_the_rate_limit_the_bot_reads_slower_instead_of_refusing(
    tmp_path: Path,
) -> None:
    detector = WsDetector()
    for i in range(1, 7):
        detector.publish(signal(f"w{i}"))
    loop = asyncio.get_running_loop()
    async with (
        detector.running(),
        live_bot(tmp_path) as rig,
        rig.serving(ws_source(detector, rate_limit_per_s=20, rate_limit_burst=1)),
    ):
        began = loop.time()
        await eventually(lambda: len(detector.acks) == 6)
        assert loop.time() - began >= 0.2  # five waits of 50 ms
        assert {a["outcome"] for a in detector.acks} == {"accepted"}
        assert rig.dead_letters() == []


async def test_a_detector_down_at_start_is_a_clear_start_error(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = WsDetector()
    detector.port = free_port()
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError) as caught:
            async with rig.serving(ws_source(detector)):
                pass
    message = str(caught.value)
    assert message.startswith(
        f"intake source ws: cannot connect to the detector at ws://127.0.0.1:{detector.port}/signals"
    )
    assert no_secret_in([message, *log_lines])


async def test_a_refused_token_is_a_start_error_that_does_not_show_it(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = WsDetector()
    wrong = "Bearer wrong-0a1b2c3d"
    async with detector.running(), live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError, match="refused with HTTP 401") as caught:
            async with rig.serving(ws_source(detector, headers={"Authorization": wrong})):
                pass
    assert "wrong-0a1b2c3d" not in str(caught.value)
    assert not any("wrong-0a1b2c3d" in line for line in log_lines)


async def test_a_detector_not_up_yet_is_waited_for_when_not_required_at_start(
    tmp_path: Path, log_lines: list[str]
) -> None:
    detector = WsDetector()
    detector.port = free_port()
    for i in range(1, 4):
        detector.publish(signal(f"w{i}"))
    source = ws_source(detector, required_at_start=False)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await asyncio.sleep(0.5)  # several attempts fail meanwhile
        async with detector.running(detector.port):
            await eventually(lambda: len(detector.acks) == 3)
            assert len(rig.signals()) == 3
            outage = list(log_lines)
    warned = [line for line in outage if line.startswith("WARNING") and "failed" in line]
    assert len(warned) == 1  # once per outage, not once per attempt
    assert sum("works again" in line for line in outage) == 1
    assert no_secret_in(log_lines)
