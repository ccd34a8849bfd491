"""`redis` source end to end: the real Redis on 127.0.0.1:6379, a real paper bot and store.

Each test uses its own stream key; connections are dropped from the server side with
CLIENT KILL, as a Redis restart or a network cut would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import services_required
from tests.intake.detectors import free_port, signal
from tests.intake.rig import LiveRig, eventually, live_bot
from trading_bot.intake.redis_streams import RedisStreamParams, RedisStreamSource
from trading_bot.service.intake_runner import IntakeStartError

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "rd-pw-9f3a71c2"


@pytest.fixture
def stream() -> Iterator[str]:
    """A fresh stream key on the shared Redis, deleted afterwards."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as error:
        if services_required():
            raise RuntimeError(f"Redis required but unreachable: {error}") from error
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    key = f"tb-test-{uuid.uuid4().hex[:12]}"
    yield key
    client.delete(key, f"{key}:dead")
    client.close()


def redis_source(stream: str, name: str = "redis", **overrides: Any) -> RedisStreamSource:
    params: dict[str, Any] = {
        "url": REDIS_URL,
        "stream": stream,
        "source": "det",
        "consumer": "bot-a",
        "block_ms": 50,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
        **overrides,
    }
    return RedisStreamSource(RedisStreamParams.model_validate(params), name)


def publish(stream: str, *payloads: dict[str, Any] | str, url: str = REDIS_URL) -> None:
    with redis.Redis.from_url(url) as client:
        for payload in payloads:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            client.xadd(stream, {"data": data})


def pending(stream: str, group: str = "trading-bot") -> int:
    with redis.Redis.from_url(REDIS_URL) as client:
        return int(client.xpending(stream, group)["pending"])


def kill_bot_connections() -> int:
    """CLIENT KILL the source's connections (it names them `trading-bot:<source name>`)."""
    with redis.Redis.from_url(REDIS_URL) as client:
        killed = 0
        for info in client.client_list():
            if info.get("name") == "trading-bot:redis":
                killed += int(client.client_kill_filter(_id=int(info["id"])))
        return killed


def each_order_once(rig: LiveRig, count: int) -> bool:
    orders = rig.orders_at_venue()
    return len(orders) == len(set(orders)) == count


async def test_entries_are_executed_once_each_and_acknowledged_after_recording(
    tmp_path: Path, stream: str, log_lines: list[str]
) -> None:
    publish(stream, *(signal(f"r{i}") for i in range(1, 6)))  # before the group exists
    async with live_bot(tmp_path) as rig:
        source = redis_source(stream)
        async with rig.serving(source):
            publish(stream, *(signal(f"r{i}") for i in range(6, 11)))
            await eventually(lambda: len(rig.signals()) == 10)
            await eventually(lambda: pending(stream) == 0)
            assert each_order_once(rig, 10)
    assert rig.duplicates() == 0
    assert source.describe() == (
        f"Redis stream {stream!r} at redis://127.0.0.1:6379/0, group 'trading-bot' as 'bot-a', "
        "field 'data'"
    )


async def test_a_group_starting_at_latest_skips_what_was_already_in_the_stream(
    tmp_path: Path, stream: str
) -> None:
    publish(stream, signal("old"))
    async with live_bot(tmp_path) as rig, rig.serving(redis_source(stream, group_start="latest")):
        publish(stream, signal("new"))
        await eventually(lambda: len(rig.signals()) == 1)
        assert list(rig.signals()) == [("det", "new")]


async def test_invalid_entries_are_dead_letters_acknowledged_and_copied_to_the_dead_stream(
    tmp_path: Path, stream: str
) -> None:
    async with live_bot(tmp_path) as rig:
        source = redis_source(stream, dead_letter_stream=f"{stream}:dead")
        async with rig.serving(source):
            publish(stream, "{not json", signal("bad", size="lots"), signal("x", asset="DOGE/EUR"))
            with redis.Redis.from_url(REDIS_URL) as client:
                client.xadd(stream, {"payload": "{}"})  # the signal is not in the field `data`
            publish(stream, signal("good"))
            await eventually(lambda: len(rig.signals()) == 1 and len(rig.dead_letters()) == 4)
            await eventually(lambda: pending(stream) == 0)
            assert each_order_once(rig, 1)
        letters = rig.dead_letters()
        assert all(letter["location"].startswith(f"redis:{stream}:") for letter in letters)
        errors = " | ".join(str(letter["errors"]) for letter in letters)
        assert "size" in errors
        assert "DOGE/EUR is not traded" in errors
        assert "no field 'data' (fields: payload)" in errors
        with redis.Redis.from_url(REDIS_URL) as client:
            dead = client.xrange(f"{stream}:dead")
        assert len(dead) == 4
        assert dead[0][1][b"data"] == b"{not json"
        assert json.loads(dead[0][1][b"problems"])  # the reasons travel with the entry


async def test_a_connection_killed_by_the_server_mid_stream_loses_and_repeats_no_order(
    tmp_path: Path, stream: str, log_lines: list[str]
) -> None:
    async with live_bot(tmp_path) as rig, rig.serving(redis_source(stream)):
        publish(stream, *(signal(f"a{i}") for i in range(50)))
        await eventually(lambda: len(rig.signals()) >= 10)
        for _ in range(3):
            assert kill_bot_connections() >= 1
            publish(stream, *(signal(f"b{len(rig.signals())}-{i}") for i in range(20)))
            await asyncio.sleep(0.1)
        await eventually(lambda: len(rig.signals()) == 110)
        await eventually(lambda: pending(stream) == 0)
        assert each_order_once(rig, 110)
    outages = [line for line in log_lines if "failed:" in line and line.startswith("WARNING")]
    assert outages  # told, and told once per outage rather than once per retry
    assert len(outages) <= 3


async def test_entries_recorded_but_not_acknowledged_before_a_crash_come_back_as_duplicates(
    tmp_path: Path, stream: str
) -> None:
    async with live_bot(tmp_path) as rig, rig.serving(redis_source(stream)):
        publish(stream, *(signal(f"r{i}") for i in range(3)))
        await eventually(lambda: len(rig.signals()) == 3 and pending(stream) == 0)
    with redis.Redis.from_url(REDIS_URL) as client:  # as if the bot died before its XACK
        ids = [entry_id for entry_id, _ in client.xrange(stream)]
        client.xclaim(stream, "trading-bot", "bot-a", 0, ids, force=True)
    assert pending(stream) == 3
    async with live_bot(tmp_path) as rig, rig.serving(redis_source(stream)):
        publish(stream, signal("r3"))
        await eventually(lambda: len(rig.signals()) == 4 and rig.duplicates() == 3)
        await eventually(lambda: pending(stream) == 0)
        assert each_order_once(rig, 4)


async def test_entries_a_dead_consumer_left_pending_are_taken_over(
    tmp_path: Path, stream: str, log_lines: list[str]
) -> None:
    with redis.Redis.from_url(REDIS_URL) as client:
        client.xgroup_create(stream, "trading-bot", id="0", mkstream=True)
    publish(stream, signal("d1"), signal("d2"))
    with redis.Redis.from_url(REDIS_URL) as client:  # a consumer that read and then died
        client.xreadgroup("trading-bot", "dead-bot", {stream: ">"})
    source = redis_source(stream, claim_idle_s=0.05, claim_interval_s=0.05)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await eventually(lambda: len(rig.signals()) == 2 and pending(stream) == 0)
        assert each_order_once(rig, 2)
    assert any("took over 2 entries" in line for line in log_lines)


async def test_a_restarted_bot_executes_what_arrived_while_it_was_down(
    tmp_path: Path, stream: str
) -> None:
    async with live_bot(tmp_path) as rig, rig.serving(redis_source(stream)):
        publish(stream, signal("r1"))
        await eventually(lambda: len(rig.signals()) == 1)
    publish(stream, signal("r2"), signal("r3"))
    async with live_bot(tmp_path) as rig, rig.serving(redis_source(stream)):
        await eventually(lambda: len(rig.signals()) == 3)
        await eventually(lambda: pending(stream) == 0)
        assert each_order_once(rig, 3)
        assert rig.duplicates() == 0


async def test_a_deleted_group_is_recreated_and_reading_goes_on(
    tmp_path: Path, stream: str
) -> None:
    async with live_bot(tmp_path) as rig, rig.serving(redis_source(stream)):
        publish(stream, signal("r1"))
        await eventually(lambda: len(rig.signals()) == 1)
        with redis.Redis.from_url(REDIS_URL) as client:
            client.xgroup_destroy(stream, "trading-bot")
        publish(stream, signal("r2"))
        await eventually(lambda: len(rig.signals()) == 2)
        assert rig.duplicates() == 1  # the new group starts at the first entry again
        assert each_order_once(rig, 2)


async def test_a_missing_group_refuses_the_start_when_the_bot_may_not_create_it(
    tmp_path: Path, stream: str
) -> None:
    async with live_bot(tmp_path) as rig:
        with pytest.raises(IntakeStartError, match="has no consumer group 'trading-bot'"):
            async with rig.serving(redis_source(stream, create_group=False)):
                pass


@contextlib.asynccontextmanager
async def private_redis(port: int | None = None) -> AsyncIterator[int]:
    """A throwaway redis-server of our own that requires a password (and may start late)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = port or free_port()
    args = ("--requirepass", PASSWORD)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *args],
        stdout=subprocess.DEVNULL,
    )
    try:
        await eventually(lambda: _answers(port), timeout_s=5)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)


def _answers(port: int) -> bool:
    try:
        with redis.Redis(port=port, password=PASSWORD, socket_connect_timeout=0.2) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


async def test_a_wrong_password_or_no_server_refuses_the_start_without_revealing_it(
    tmp_path: Path, log_lines: list[str]
) -> None:
    async with private_redis() as port, live_bot(tmp_path) as rig:
        wrong = redis_source("s", url=f"redis://:{PASSWORD}x@127.0.0.1:{port}/0")
        with pytest.raises(IntakeStartError) as refused:
            async with rig.serving(wrong):
                pass
        assert "intake source redis" in str(refused.value)
        assert PASSWORD not in str(refused.value)
        url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
        with pytest.raises(IntakeStartError, match="cannot reach Redis") as refused:
            async with rig.serving(redis_source("s", "redis-2", url=url)):
                pass
        assert PASSWORD not in str(refused.value)
    assert not any(PASSWORD in line for line in log_lines)


async def test_a_server_down_at_start_is_waited_for_when_not_required(
    tmp_path: Path, log_lines: list[str]
) -> None:
    port = free_port()
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    source = redis_source("late", url=url, required_at_start=False)
    async with live_bot(tmp_path) as rig, rig.serving(source):
        await asyncio.sleep(0.3)
        async with private_redis(port):
            publish("late", signal("r1"), url=url)
            await eventually(lambda: len(rig.signals()) == 1)
            assert each_order_once(rig, 1)
            await eventually(lambda: any("works again" in line for line in log_lines))
    assert not any(PASSWORD in line for line in log_lines)
    assert PASSWORD.encode() not in (tmp_path / "store.sqlite").read_bytes()


def test_params_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="redis://"):
        RedisStreamParams.model_validate({"url": "http://127.0.0.1", "stream": "s"})
    with pytest.raises(ValueError, match="stream"):
        RedisStreamParams.model_validate({})
