"""`nats` source end to end: a real paper bot and store, the local nats-server with JetStream
(127.0.0.1:4222, or `TRADING_BOT_NATS`), and a TCP proxy in between where the line must drop.

Each test has its own stream, subject and durable consumer, deleted at the end. Without a
reachable server the tests skip, unless TRADING_BOT_REQUIRE_SERVICES=1 (then they fail)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js.client import JetStreamContext

from tests.conftest import services_required
from tests.intake.detectors import free_port, signal
from tests.intake.rig import LiveRig, eventually, live_bot
from tests.intake.tcp_proxy import TcpProxy
from trading_bot.intake import nats_jetstream
from trading_bot.intake.nats_jetstream import NatsJetStreamParams, NatsJetStreamSource
from trading_bot.service.intake_runner import IntakeStartError

NATS = os.environ.get("TRADING_BOT_NATS", "127.0.0.1:4222")
SECRETS = ("tk-nats-5f3a9c", "u-4d2e71", "pw-8b1f06")


@dataclass
class Broker:
    """The test's side of NATS: publishes and inspects its own stream."""

    nc: Client
    js: JetStreamContext
    stream: str
    subject: str
    durable: str

    async def create_stream(self) -> None:
        """As a detector that publishes before any bot is there would."""
        await self.js.add_stream(name=self.stream, subjects=[self.subject])

    async def publish(self, *payloads: dict[str, Any] | bytes) -> None:
        for payload in payloads:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            await self.js.publish(self.subject, data, stream=self.stream)

    async def unacked(self) -> tuple[int, int]:
        """(messages not delivered yet, delivered but not acknowledged) for the consumer."""
        info = await self.js.consumer_info(self.stream, self.durable)
        return info.num_pending or 0, info.num_ack_pending or 0

    def source(
        self, *, servers: str | list[str] | None = None, **overrides: Any
    ) -> NatsJetStreamSource:
        params: dict[str, Any] = {
            "servers": servers or f"nats://{NATS}",
            "stream": self.stream,
            "subject": self.subject,
            "durable": self.durable,
            "source": "det",
            "fetch_wait_s": 0.5,
            "ack_wait_s": 2,
            "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.2,
            **overrides,
        }
        return NatsJetStreamSource(NatsJetStreamParams.model_validate(params), "nats")


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    try:
        nc = await nats.connect(
            f"nats://{NATS}", connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1
        )
    except Exception as error:
        if services_required():
            pytest.fail(f"NATS required but unreachable at {NATS}: {error!r}")
        pytest.skip(f"NATS is not reachable at {NATS}")
    tag = uuid.uuid4().hex[:10]
    broker = Broker(nc, nc.jetstream(), f"TB_{tag}", f"tb.{tag}.signals", f"bot_{tag}")
    try:
        yield broker
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await broker.js.delete_stream(broker.stream)
        await nc.close()


def check_each_order_once(rig: LiveRig, count: int) -> None:
    orders = rig.orders_at_venue()
    assert len(orders) == len(set(orders)) == count


def no_secret_in(lines: list[str]) -> bool:
    return not any(secret in line for line in lines for secret in SECRETS)


async def no_pull_waiting(broker: Broker) -> None:
    """Until the server has dropped the pull requests of a bot that stopped (it learns of the
    closed connection a moment later, and would meanwhile deliver to the dead request)."""
    deadline = asyncio.get_running_loop().time() + 5
    while (await broker.js.consumer_info(broker.stream, broker.durable)).num_waiting:
        assert asyncio.get_running_loop().time() < deadline, "a pull request outlived its bot"
        await asyncio.sleep(0.05)


async def all_acked(broker: Broker) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while await broker.unacked() != (0, 0):
        assert asyncio.get_running_loop().time() < deadline, await broker.unacked()
        await asyncio.sleep(0.05)


async def test_published_signals_are_executed_once_and_all_acknowledged(
    tmp_path: Path, broker: Broker
) -> None:
    source = broker.source(batch=3, fetch_wait_s=30)  # a lone signal is not held that long
    async with live_bot(tmp_path) as rig, rig.serving(source):  # creates the stream
        await broker.publish(signal("n1"))
        await eventually(lambda: len(rig.signals()) == 1, timeout_s=2)
        await broker.publish(*(signal(f"n{i}") for i in range(2, 8)))
        await eventually(lambda: len(rig.signals()) == 7, timeout_s=2)
        await all_acked(broker)
        assert set(rig.signals()) == {("det", f"n{i}") for i in range(1, 8)}
        check_each_order_once(rig, 7)
        assert rig.duplicates() == 0 and rig.dead_letters() == []
    assert source.describe() == (
        f"JetStream consumer '{broker.durable}' of stream '{broker.stream}' "
        f"(subject '{broker.subject}') on nats://{NATS}"
    )


async def test_a_lone_signal_executes_without_waiting_for_a_batch_to_gather(
    tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nats_jetstream, "GATHER_S", 10.0)  # gathering the rest takes long
    async with live_bot(tmp_path) as rig, rig.serving(broker.source(batch=50)):
        await broker.publish(signal("lone"))
        await eventually(lambda: len(rig.orders_at_venue()) == 1, timeout_s=1)
        await all_acked(broker)  # acknowledged once the gathering is over and it is recorded


async def test_bad_messages_are_dead_lettered_terminated_and_the_stream_goes_on(
    tmp_path: Path, broker: Broker
) -> None:
    await broker.create_stream()
    await broker.publish(
        b"not json",
        {"signal_id": "typed", "asset": "BTC/USDT", "side": "sideways", "size": "lots"},
        signal("eth", asset="ETH/USDT"),
        signal("big", metadata={"pad": "x" * 2000}),
        signal("good1"),
        signal("good2"),
    )
    async with (
        live_bot(tmp_path) as rig,
        rig.serving(broker.source(max_message_bytes=1024)),
    ):
        await eventually(lambda: len(rig.signals()) == 2 and len(rig.dead_letters()) == 4)
        await all_acked(broker)  # terminated: never redelivered
        assert set(rig.signals()) == {("det", "good1"), ("det", "good2")}
        check_each_order_once(rig, 2)
    letters = {d["location"]: d for d in rig.dead_letters()}
    assert set(letters) == {f"nats:{broker.stream}:{seq}" for seq in (1, 2, 3, 4)}
    assert "ETH/USDT is not traded" in str(letters[f"nats:{broker.stream}:3"]["errors"])
    assert "1024-byte limit" in str(letters[f"nats:{broker.stream}:4"]["errors"])


async def test_a_dropped_connection_loses_nothing_and_orders_nothing_twice(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    await broker.create_stream()
    await broker.publish(*(signal(f"n{i}") for i in range(1, 31)))
    host, port = NATS.rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    async with proxy.running(), live_bot(tmp_path) as rig:
        source = broker.source(servers=f"nats://{proxy.address}", batch=3, ack_wait_s=1)
        async with rig.serving(source):
            await eventually(lambda: len(rig.signals()) >= 6)
            proxy.drop_all()  # mid-stream: batches in hand, acks and fetches in flight
            await broker.publish(*(signal(f"n{i}") for i in range(31, 41)))
            await eventually(lambda: len(rig.signals()) == 40)
            await all_acked(broker)
            check_each_order_once(rig, 40)
    assert proxy.connections >= 2
    warnings = [line for line in log_lines if line.startswith("WARNING")]
    assert len(warnings) == 1 and "failed" in warnings[0], warnings  # the outage, once
    assert sum("works again" in line for line in log_lines) == 1


async def test_a_signal_delivered_twice_is_a_duplicate_with_one_order(
    tmp_path: Path, broker: Broker
) -> None:
    await broker.create_stream()
    await broker.publish(signal("twice"), signal("once"), signal("twice"))
    async with live_bot(tmp_path) as rig, rig.serving(broker.source()):
        await eventually(lambda: rig.duplicates() == 1 and len(rig.signals()) == 2)
        await all_acked(broker)
        check_each_order_once(rig, 2)


async def test_over_the_rate_limit_the_bot_takes_slower_instead_of_refusing(
    tmp_path: Path, broker: Broker
) -> None:
    await broker.create_stream()
    await broker.publish(*(signal(f"n{i}") for i in range(1, 7)))
    loop = asyncio.get_running_loop()
    source = broker.source(rate_limit_per_s=20, rate_limit_burst=1)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        began = loop.time()
        await eventually(lambda: len(rig.signals()) == 6)
        assert loop.time() - began >= 0.2  # five waits of 50 ms
        assert rig.dead_letters() == []
        await all_acked(broker)


async def test_signals_recorded_but_not_acknowledged_come_back_as_duplicates(
    tmp_path: Path, broker: Broker
) -> None:
    """The bot stops after recording a batch whose acks never reach the server (the line is
    deaf one way): the next bot gets the batch again and orders nothing twice."""
    await broker.create_stream()
    await broker.publish(*(signal(f"n{i}") for i in range(1, 4)))
    host, port = NATS.rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    slowly = {"rate_limit_per_s": 5, "rate_limit_burst": 1}  # the batch is in hand a while
    async with proxy.running(), live_bot(tmp_path) as rig:
        source = broker.source(servers=f"nats://{proxy.address}", ack_wait_s=1, **slowly)
        async with rig.serving(source):
            await eventually(lambda: rig.gate.channels["nats"].counts["received"] >= 1)
            proxy.pause(downstream=False)  # fetched: the acks will not get through
        assert len(rig.signals()) == 3  # the batch in hand was finished on stop
        proxy.drop_all()
        assert await broker.unacked() == (0, 3)
    async with live_bot(tmp_path) as rig, rig.serving(broker.source()):
        await eventually(lambda: rig.duplicates() == 3)
        await all_acked(broker)
        assert len(rig.signals()) == 3
        check_each_order_once(rig, 3)


async def test_a_restarted_bot_takes_what_was_published_while_it_was_down(
    tmp_path: Path, broker: Broker
) -> None:
    await broker.create_stream()
    await broker.publish(*(signal(f"n{i}") for i in range(1, 4)))
    async with live_bot(tmp_path) as rig, rig.serving(broker.source()):
        await eventually(lambda: len(rig.signals()) == 3)
    await no_pull_waiting(broker)
    await broker.publish(*(signal(f"n{i}") for i in range(4, 7)))
    assert await broker.unacked() == (3, 0)  # the durable consumer kept its place
    async with live_bot(tmp_path) as rig, rig.serving(broker.source()):
        await eventually(lambda: len(rig.signals()) == 6)
        await all_acked(broker)
        assert rig.duplicates() == 0
        check_each_order_once(rig, 6)


async def test_a_server_down_at_start_is_a_clear_start_error_without_secrets(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    port = free_port()
    source = broker.source(servers=f"nats://{SECRETS[1]}:{SECRETS[2]}@127.0.0.1:{port}")
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError) as caught:
            async with rig.serving(source):
                pass
    assert loop.time() - began < 5
    message = str(caught.value)
    assert message.startswith(
        f"intake source nats: cannot consume stream '{broker.stream}' "
        f"from NATS at nats://127.0.0.1:{port}: "
    ), message
    assert no_secret_in([message, *log_lines])


async def test_a_missing_stream_is_a_start_error_when_it_may_not_be_created(
    tmp_path: Path, broker: Broker
) -> None:
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError, match="does not exist \\(create_stream is false\\)"):
            async with rig.serving(broker.source(create_stream=False)):
                pass


async def test_a_server_not_up_yet_is_waited_for_when_not_required_at_start(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    await broker.create_stream()
    await broker.publish(*(signal(f"n{i}") for i in range(1, 4)))
    host, port = NATS.rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    listen = free_port()
    source = broker.source(servers=f"nats://127.0.0.1:{listen}", required_at_start=False)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await asyncio.sleep(0.5)  # several attempts fail meanwhile
        async with proxy.running(listen):
            await eventually(lambda: len(rig.signals()) == 3)
            outage = list(log_lines)
    warned = [line for line in outage if line.startswith("WARNING")]
    assert len(warned) == 1 and "failed" in warned[0], warned  # once, not once per attempt
    assert sum("works again" in line for line in outage) == 1


async def test_credentials_never_reach_the_log_or_the_store(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    """A token the server does not ask for is still sent; a second server with a user and
    password in its URL is down, so the client reports errors about it."""
    await broker.create_stream()
    down = f"nats://{SECRETS[1]}:{SECRETS[2]}@127.0.0.1:{free_port()}"
    source = broker.source(servers=[f"nats://{NATS}", down], token=SECRETS[0])
    await broker.publish(signal("n1"), b"not json")
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await eventually(lambda: len(rig.signals()) == 1 and len(rig.dead_letters()) == 1)
    assert no_secret_in([source.describe(), repr(source.params), *log_lines])
    store = (tmp_path / "store.sqlite").read_bytes()
    assert not any(secret.encode() in store for secret in SECRETS)


def test_params_take_one_url_or_many_and_never_quote_a_url_in_an_error() -> None:
    params = NatsJetStreamParams.model_validate({"stream": "S", "subject": "a.*.>"})
    assert params.servers == ["nats://127.0.0.1:4222"]
    one = {"stream": "S", "subject": "a", "servers": "tls://h:4222"}
    assert NatsJetStreamParams.model_validate(one).servers == ["tls://h:4222"]
    bad_url = {"stream": "S", "subject": "a", "servers": f"http://{SECRETS[1]}:{SECRETS[2]}@h"}
    cases: list[tuple[dict[str, Any], str]] = [
        (bad_url, "servers: expected a URL starting with nats://, tls://, ws:// or wss://"),
        ({"stream": "S", "subject": "a..b"}, "dot-separated tokens"),
        ({"stream": "S", "subject": "a.>.b"}, "'>' is only allowed as the whole last token"),
        ({"stream": "a.b", "subject": "a"}, "String should match pattern"),
        ({"stream": "S", "subject": "a", "user": "u"}, "user and password go together"),
        (
            {"stream": "S", "subject": "a", "token": "t", "user": "u", "password": "p"},
            "either a token or a user and password",
        ),
    ]
    for data, expected in cases:
        with pytest.raises(ValueError, match=re.escape(expected)) as caught:
            NatsJetStreamParams.model_validate(data)
        shown = [str(item["msg"]) for item in caught.value.errors()]  # type: ignore[attr-defined]
        assert no_secret_in(shown)
    assert no_secret_in(
        [
            repr(
                NatsJetStreamParams.model_validate(
                    {**bad_url, "servers": "nats://" + SECRETS[1] + "@h"}
                )
            )
        ]
    )
