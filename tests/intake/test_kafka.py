"""`kafka` source: params and start errors without a broker; end to end (a real paper bot and
store, a real topic) when `TRADING_BOT_KAFKA` names a reachable broker (host:port).

Kafka is not a required service: without that variable, or with a broker that does not
answer, the end-to-end tests skip with the reason, even under TRADING_BOT_REQUIRE_SERVICES=1.
Each end-to-end test has its own topic (two partitions) and group, the topic deleted at the
end."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.intake.detectors import free_port, signal
from tests.intake.rig import LiveRig, eventually, live_bot
from trading_bot.intake.kafka import KafkaParams, KafkaSource
from trading_bot.service.intake_runner import IntakeStartError

KAFKA = os.environ.get("TRADING_BOT_KAFKA")
SECRETS = ("ku-3f9a1c", "kp-6d2e8b")


@dataclass
class Topic:
    """The test's side of Kafka: produces to its own topic and reads the group's offsets."""

    admin: AIOKafkaAdminClient
    producer: AIOKafkaProducer
    name: str
    group: str

    async def produce(self, *payloads: dict[str, Any] | bytes | None, partition: int = 0) -> None:
        for payload in payloads:
            value = json.dumps(payload).encode() if isinstance(payload, dict) else payload
            await self.producer.send_and_wait(self.name, value, partition=partition)

    async def committed(self) -> dict[int, int]:
        """partition -> the group's committed offset."""
        offsets = await self.admin.list_consumer_group_offsets(self.group)
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == self.name}

    def source(self, **overrides: Any) -> KafkaSource:
        params: dict[str, Any] = {
            "bootstrap_servers": KAFKA,
            "topic": self.name,
            "group_id": self.group,
            "source": "det",
            "fetch_wait_s": 0.2,
            "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.5,
            **overrides,
        }
        return KafkaSource(KafkaParams.model_validate(params), "kafka")


@pytest.fixture
async def topic() -> AsyncIterator[Topic]:
    if not KAFKA:
        pytest.skip("TRADING_BOT_KAFKA is not set (host:port of a Kafka broker to test against)")
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 10)
    except Exception as error:
        await admin.close()
        pytest.skip(f"the Kafka broker at {KAFKA} (TRADING_BOT_KAFKA) is not reachable: {error}")
    tag = uuid.uuid4().hex[:10]
    name = f"tb-signals-{tag}"
    await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    try:
        yield Topic(admin, producer, name, f"tb-bot-{tag}")
    finally:
        await producer.stop()
        await admin.delete_topics([name])
        await admin.close()


def check_each_order_once(rig: LiveRig, count: int) -> None:
    orders = rig.orders_at_venue()
    assert len(orders) == len(set(orders)) == count


def no_secret_in(lines: list[str]) -> bool:
    return not any(secret in line for line in lines for secret in SECRETS)


async def test_produced_signals_are_executed_once_and_committed(
    tmp_path: Path, topic: Topic
) -> None:
    await topic.produce(*(signal(f"k{i}") for i in range(1, 5)), partition=0)
    await topic.produce(*(signal(f"k{i}") for i in range(5, 8)), partition=1)
    source = topic.source(batch=3)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await eventually(lambda: len(rig.signals()) == 7, timeout_s=20)
        assert set(rig.signals()) == {("det", f"k{i}") for i in range(1, 8)}
        check_each_order_once(rig, 7)
        assert rig.duplicates() == 0 and rig.dead_letters() == []
    assert await topic.committed() == {0: 4, 1: 3}
    assert source.describe() == (f"Kafka group '{topic.group}' on topic(s) {topic.name} at {KAFKA}")


async def test_bad_records_are_dead_lettered_committed_past_and_the_topic_goes_on(
    tmp_path: Path, topic: Topic
) -> None:
    await topic.produce(
        b"not json",
        {"signal_id": "typed", "asset": "BTC/USDT", "side": "sideways", "size": "lots"},
        signal("eth", asset="ETH/USDT"),
        None,  # a tombstone
        signal("good1"),
        signal("good2"),
    )
    async with live_bot(tmp_path) as rig, rig.serving(topic.source()):
        await eventually(
            lambda: len(rig.signals()) == 2 and len(rig.dead_letters()) == 4, timeout_s=20
        )
        check_each_order_once(rig, 2)
    assert await topic.committed() == {0: 6}
    locations = {d["location"] for d in rig.dead_letters()}
    assert locations == {f"kafka:{topic.name}:0:{offset}" for offset in range(4)}


async def test_a_restarted_bot_resumes_from_the_committed_offset(
    tmp_path: Path, topic: Topic
) -> None:
    await topic.produce(*(signal(f"k{i}") for i in range(1, 4)))
    async with live_bot(tmp_path) as rig, rig.serving(topic.source()):
        await eventually(lambda: len(rig.signals()) == 3, timeout_s=20)
    await topic.produce(*(signal(f"k{i}") for i in range(4, 7)))
    async with live_bot(tmp_path) as rig, rig.serving(topic.source()):
        await eventually(lambda: len(rig.signals()) == 6, timeout_s=20)
        assert rig.duplicates() == 0  # nothing read twice
        check_each_order_once(rig, 6)
    assert await topic.committed() == {0: 6}


async def test_a_signal_produced_twice_is_a_duplicate_with_one_order(
    tmp_path: Path, topic: Topic
) -> None:
    await topic.produce(signal("twice"), signal("once"), signal("twice"))
    async with live_bot(tmp_path) as rig, rig.serving(topic.source()):
        await eventually(lambda: rig.duplicates() == 1 and len(rig.signals()) == 2, timeout_s=20)
        check_each_order_once(rig, 2)


# --- without a broker -------------------------------------------------------------------------


async def test_an_unreachable_cluster_is_a_clear_start_error_in_bounded_time(
    tmp_path: Path, log_lines: list[str]
) -> None:
    port = free_port()  # nothing listens there
    params = KafkaParams.model_validate(
        {
            "bootstrap_servers": f"127.0.0.1:{port}",
            "topic": "signals",
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_username": SECRETS[0],
            "sasl_password": SECRETS[1],
            "connect_timeout_s": 3,
        }
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError) as caught:
            async with rig.serving(KafkaSource(params, "kafka")):
                pass
    assert loop.time() - began < 5
    message = str(caught.value)
    assert message.startswith(
        f"intake source kafka: cannot consume signals from Kafka at 127.0.0.1:{port}: "
    ), message
    assert no_secret_in([message, repr(params), *log_lines])


async def test_a_cluster_down_at_start_is_retried_in_the_background_when_allowed(
    tmp_path: Path, log_lines: list[str]
) -> None:
    params = KafkaParams.model_validate(
        {
            "bootstrap_servers": f"127.0.0.1:{free_port()}",
            "topic": "signals",
            "required_at_start": False,
            "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.1,
        }
    )
    loop = asyncio.get_running_loop()
    async with live_bot(tmp_path) as rig:
        async with rig.serving(KafkaSource(params, "kafka")):
            await asyncio.sleep(0.5)  # several attempts fail meanwhile
            stopping = loop.time()
        assert loop.time() - stopping < 2  # the stop is not held up by a retry
    warned = [line for line in log_lines if line.startswith("WARNING")]
    assert len(warned) == 1 and "Kafka at 127.0.0.1:" in warned[0], warned


def test_params_validation_names_the_problem() -> None:
    params = KafkaParams.model_validate({"topic": "signals", "bootstrap_servers": "a:1, b:2"})
    assert params.topics == ["signals"] and params.bootstrap_servers == ["a:1", "b:2"]
    assert KafkaParams.model_validate({"topics": ["a", "b"]}).topics == ["a", "b"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"topic": "s", "bootstrap_servers": "kafka"}, "expected host:port, got 'kafka'"),
        ({"topic": "bad topic"}, "'bad topic' is not a Kafka topic name"),
        ({"topics": []}, "at least 1 item"),
        ({"topic": "s", "security_protocol": "SASL_SSL"}, "needs sasl_username and sasl_password"),
        ({"topic": "s", "sasl_username": "u", "sasl_password": "p"}, "need a SASL_"),
        ({"topic": "s", "batch": 0}, "greater than or equal to 1"),
        ({"topic": "s", "group": "x"}, "Extra inputs are not permitted"),
    ]
    for data, expected in cases:
        with pytest.raises(ValueError, match=re.escape(expected)):
            KafkaParams.model_validate(data)
