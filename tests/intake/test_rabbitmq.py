"""`rabbitmq` source end to end: the real broker on 127.0.0.1:5672, a real paper bot and store.
Each test has its own queue (deleted afterwards); drops are made by the broker itself
(`rabbitmqctl close_connection`), an absent broker by a port nothing listens on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection
from pydantic import ValidationError

from tests.conftest import services_required
from tests.intake.detectors import free_port, signal
from tests.intake.rig import LiveRig, eventually, live_bot
from tests.intake.webhook_rig import FAST_FILLS
from trading_bot.config.errors import issues_from_validation
from trading_bot.intake.rabbitmq import RabbitMQParams, RabbitMQSource
from trading_bot.service.intake_runner import IntakeStartError

URL = "amqp://guest:guest@127.0.0.1:5672/"
RABBITMQCTL = "/usr/sbin/rabbitmqctl"
SECRET = "s3cr3t-pw-9f2e"


class Broker:
    """The test's own publisher connection and a fresh queue name."""

    def __init__(self, connection: AbstractConnection, channel: AbstractChannel) -> None:
        self.connection = connection
        self.channel = channel
        self.queue = f"tb-test-{uuid.uuid4().hex[:12]}"

    @property
    def dead(self) -> str:
        return f"{self.queue}.dead"

    async def declare(self) -> None:
        """Declare the queue as the source does (a producer may publish before the bot runs)."""
        await self.channel.declare_queue(self.dead, durable=True)
        arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dead}
        await self.channel.declare_queue(self.queue, durable=True, arguments=arguments)

    async def publish(self, payload: dict[str, Any] | bytes, message_id: str | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        message = aio_pika.Message(
            body, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        )
        await self.channel.default_exchange.publish(message, routing_key=self.queue)

    async def ready(self, queue: str) -> int:
        """Messages waiting in `queue` (delivered-but-unacknowledged ones not counted)."""
        declared = await self.channel.get_queue(queue, ensure=True)
        count = declared.declaration_result.message_count
        return count if count is not None else 0

    async def drain(self, queue: str) -> list[bytes]:
        bodies = []
        declared = await self.channel.get_queue(queue, ensure=True)
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            bodies.append(message.body)
        return bodies

    async def settle(self, queue: str, count: int, timeout_s: float = 5.0) -> None:
        """Wait until `queue` holds `count` ready messages (rejects reach a DLQ asynchronously)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (found := await self.ready(queue)) != count:
            assert asyncio.get_running_loop().time() < deadline, f"{queue}: {found} != {count}"
            await asyncio.sleep(0.02)


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    try:
        connection = await aio_pika.connect(URL, timeout=3)
    except Exception as error:
        if services_required():
            pytest.fail(f"RabbitMQ required but unreachable on 127.0.0.1:5672: {error!r}")
        pytest.skip("RabbitMQ is not reachable on 127.0.0.1:5672")
    broker = Broker(connection, await connection.channel())
    try:
        yield broker
    finally:
        cleanup = await connection.channel()  # the test's own channel may have been closed
        for queue in (broker.queue, broker.dead):
            await cleanup.queue_delete(queue)
        await connection.close()


def rabbit_source(broker: Broker, name: str = "rmq", **overrides: Any) -> RabbitMQSource:
    params: dict[str, Any] = {
        "url": URL,
        "queue": broker.queue,
        "source": "det",
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
        **overrides,
    }
    return RabbitMQSource(RabbitMQParams.model_validate(params), name)


def check_each_order_once(rig: LiveRig, count: int) -> None:
    orders = rig.orders_at_venue()
    assert len(orders) == len(set(orders)) == count


def no_secret_in(lines: list[str], *secrets: str) -> bool:
    return not any(secret in line for line in lines for secret in secrets)


async def close_connections_of(queue: str) -> int:
    """Have the broker close the bot's connection to `queue`, as a broker restart or an
    operator would (the test's own publisher connection is left alone)."""
    if not os.access(RABBITMQCTL, os.X_OK):
        if services_required():
            pytest.fail(f"{RABBITMQCTL} is needed to drop connections")
        pytest.skip(f"{RABBITMQCTL} is not available")
    listed = await asyncio.create_subprocess_exec(
        *(RABBITMQCTL, "-q", "list_connections", "pid", "client_properties"),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await listed.communicate()
    # one line per connection: its pid, a tab, its client properties (with connection_name)
    pids = [line.split("\t")[0] for line in out.decode().splitlines() if queue in line]
    for pid in pids:
        closing = await asyncio.create_subprocess_exec(
            RABBITMQCTL, "-q", "close_connection", pid, "test", stdout=asyncio.subprocess.DEVNULL
        )
        await closing.wait()
    return len(pids)


@contextlib.asynccontextmanager
async def late_broker(port: int) -> AsyncIterator[None]:
    """The broker appearing on `port`: a plain TCP relay to the real one."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5672)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_published_signals_are_executed_once_and_acknowledged(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    source = rabbit_source(broker)
    async with live_bot(tmp_path, paper=FAST_FILLS) as rig:
        async with rig.serving(source):
            for i in range(1, 6):
                await broker.publish(signal(f"r{i}"), message_id=f"m{i}")
            await eventually(lambda: set(rig.signals().values()) == {"executed"})
            await broker.settle(broker.queue, 0)
        assert set(rig.signals()) == {("det", f"r{i}") for i in range(1, 6)}
        check_each_order_once(rig, 5)
        assert rig.dead_letters() == [] and rig.duplicates() == 0
    # the connection is closed: anything left unacknowledged would be back in the queue
    await broker.settle(broker.queue, 0)
    assert await broker.ready(broker.dead) == 0
    assert source.describe() == (
        f"RabbitMQ queue '{broker.queue}' at amqp://127.0.0.1:5672/ "
        f"(prefetch 500, batch 100, rejected to '{broker.queue}.dead')"
    )
    assert no_secret_in(log_lines, "guest")
    assert b"guest" not in (tmp_path / "store.sqlite").read_bytes()


async def test_bad_messages_go_to_the_dead_letters_and_the_dlq_and_consuming_goes_on(
    tmp_path: Path, broker: Broker
) -> None:
    bad = [
        b"not json",
        json.dumps(signal("neg", size="-1")).encode(),
        json.dumps(signal("eth", asset="ETH/USDT")).encode(),
        json.dumps(signal("big", metadata={"pad": "x" * 2000})).encode(),
    ]
    await broker.declare()
    for body in bad:
        await broker.publish(body)
    await broker.publish(signal("good1"))
    async with live_bot(tmp_path) as rig:
        async with rig.serving(rabbit_source(broker, max_message_bytes=1024)):
            await eventually(lambda: len(rig.signals()) == 1)
            await broker.publish(signal("good2"))
            await eventually(lambda: len(rig.signals()) == 2)
            await broker.settle(broker.dead, 4)
        assert set(rig.signals()) == {("det", "good1"), ("det", "good2")}
        check_each_order_once(rig, 2)
        letters = rig.dead_letters()
    assert len(letters) == 4
    # aio-pika gives every message a message_id: the dead letter names it
    assert all(letter["location"].startswith(f"rmq:{broker.queue}:") for letter in letters)
    problems = " ".join(str(letter["errors"]) for letter in letters)
    assert "ETH/USDT is not traded on this venue" in problems
    assert "larger than the 1024-byte limit" in problems
    assert "size" in problems
    assert sorted(await broker.drain(broker.dead)) == sorted(bad)
    await broker.settle(broker.queue, 0)


async def test_a_connection_dropped_by_the_broker_loses_nothing_and_orders_nothing_twice(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    await broker.declare()
    for i in range(1, 151):
        await broker.publish(signal(f"r{i}"))
    # read at 25 signals/s so the drop lands mid-stream, with deliveries prefetched unacked
    # (the 6 s stream outlasts rabbitmqctl's two runs even on a loaded machine)
    source = rabbit_source(broker, rate_limit_per_s=25, rate_limit_burst=1, batch=5)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await eventually(lambda: len(rig.signals()) >= 10)
        assert await close_connections_of(broker.queue) == 1
        assert len(rig.signals()) < 150  # the drop came while signals were still arriving
        for i in range(151, 161):
            await broker.publish(signal(f"r{i}"))
        await eventually(lambda: len(rig.signals()) == 160, timeout_s=30)
        await broker.settle(broker.queue, 0)
        assert set(rig.signals()) == {("det", f"r{i}") for i in range(1, 161)}
        check_each_order_once(rig, 160)  # redeliveries were only duplicates
        assert rig.dead_letters() == []
    assert any("consuming stopped" in line and "CONNECTION_FORCED" in line for line in log_lines)
    assert any("consuming" in line and "again" in line for line in log_lines)


async def test_a_queue_deleted_under_the_consumer_is_declared_again(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    async with live_bot(tmp_path) as rig, rig.serving(rabbit_source(broker)):
        await broker.publish(signal("r1"))
        await eventually(lambda: len(rig.signals()) == 1)
        await broker.channel.queue_delete(broker.queue)
        await eventually(lambda: any("consuming" in line and "again" in line for line in log_lines))
        await broker.publish(signal("r2"))
        await eventually(lambda: len(rig.signals()) == 2)
        check_each_order_once(rig, 2)
    assert any("the broker cancelled the consumer" in line for line in log_lines)


async def test_a_redelivered_signal_is_a_duplicate_with_one_order(
    tmp_path: Path, broker: Broker
) -> None:
    await broker.declare()
    await broker.publish(signal("twice"))
    await broker.publish(signal("twice"))
    await broker.publish(signal("once"))
    async with live_bot(tmp_path) as rig:
        async with rig.serving(rabbit_source(broker)):
            await eventually(lambda: rig.duplicates() == 1 and len(rig.signals()) == 2)
            await broker.settle(broker.queue, 0)
        check_each_order_once(rig, 2)
        assert rig.dead_letters() == []
    await broker.settle(broker.dead, 0)  # a duplicate is acknowledged, not rejected


async def test_signals_published_while_the_bot_is_down_are_executed_after_restart(
    tmp_path: Path, broker: Broker
) -> None:
    await broker.declare()
    for i in range(1, 4):
        await broker.publish(signal(f"r{i}"))
    async with live_bot(tmp_path) as rig, rig.serving(rabbit_source(broker)):  # runner.stop on exit
        await eventually(lambda: len(rig.signals()) == 3)
    for i in range(4, 7):
        await broker.publish(signal(f"r{i}"))
    async with live_bot(tmp_path) as rig:
        async with rig.serving(rabbit_source(broker)):
            await eventually(lambda: len(rig.signals()) == 6)
            await broker.settle(broker.queue, 0)
        assert rig.duplicates() == 0
        check_each_order_once(rig, 6)


async def test_an_unreachable_broker_is_a_start_error_without_the_password(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    port = free_port()
    url = f"amqp://bot:{SECRET}@127.0.0.1:{port}/"
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError) as caught:
            async with rig.serving(rabbit_source(broker, url=url, connect_timeout_s=2)):
                pass
    message = str(caught.value)
    assert message.startswith(
        f"intake source rmq: cannot consume queue '{broker.queue}' at amqp://127.0.0.1:{port}/: "
    )
    assert no_secret_in([message, *log_lines], SECRET)


async def test_a_wrong_password_and_a_missing_queue_are_clear_start_errors(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    wrong = f"amqp://guest:{SECRET}@127.0.0.1:5672/"
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError, match="refused the user name or password") as bad:
            async with rig.serving(rabbit_source(broker, url=wrong)):
                pass
        with pytest.raises(IntakeStartError, match="does not exist") as missing:
            async with rig.serving(rabbit_source(broker, "rmq-passive", declare=False)):
                pass
    assert no_secret_in([str(bad.value), *log_lines], SECRET)
    assert f"queue '{broker.queue}' does not exist (with declare: false" in str(missing.value)


async def test_an_existing_queue_is_used_as_it_is_with_declare_false(
    tmp_path: Path, broker: Broker
) -> None:
    await broker.channel.declare_queue(broker.queue, durable=True)  # no dead-letter exchange
    await broker.publish(signal("r1"))
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError, match="exists with other settings"):
            async with rig.serving(rabbit_source(broker)):
                pass
        async with rig.serving(rabbit_source(broker, "rmq-passive", declare=False)):
            await eventually(lambda: len(rig.signals()) == 1)


async def test_a_broker_not_up_yet_is_waited_for_when_not_required_at_start(
    tmp_path: Path, broker: Broker, log_lines: list[str]
) -> None:
    port = free_port()
    await broker.declare()
    for i in range(1, 4):
        await broker.publish(signal(f"r{i}"))
    url = f"amqp://guest:guest@127.0.0.1:{port}/"
    source = rabbit_source(broker, url=url, required_at_start=False)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await eventually(lambda: sum("failed again" in line for line in log_lines) >= 2)
        async with late_broker(port):
            await eventually(lambda: len(rig.signals()) == 3)
            outage = list(log_lines)
        check_each_order_once(rig, 3)
    assert sum(line.startswith("WARNING") for line in outage) == 1  # once per outage
    assert sum("works again" in line for line in outage) == 1
    assert no_secret_in(log_lines, "guest")


def test_a_bad_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ValidationError) as caught:
        RabbitMQParams.model_validate({"url": f"http://bot:{SECRET}@host/", "queue": "q"})
    issues = [str(issue) for issue in issues_from_validation(caught.value, "params")]
    assert issues == [
        "params.url: expected a URL starting with amqp:// or amqps:// (got 'http://bot:***@host/')"
    ]
    params = RabbitMQParams.model_validate({"url": f"amqp://bot:{SECRET}@host/", "queue": "q"})
    assert SECRET not in repr(params)
    with pytest.raises(ValidationError, match="must differ from queue"):
        RabbitMQParams.model_validate({"queue": "q", "dead_letter_queue": "q"})
    with pytest.raises(ValidationError, match="reserved by the broker"):
        RabbitMQParams.model_validate({"queue": "amq.signals"})
