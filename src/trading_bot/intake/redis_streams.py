"""`redis`: signals from a Redis Stream, read through a consumer group.

One stream entry is one signal: the canonical JSON object in the entry's field `data` (the
`field` param). Entries are read in batches with XREADGROUP; each batch is offered to the bot,
and only after `channel.recorded()` (the signals are committed to the store) are its entries
acknowledged with XACK, pipelined with the next read (one round trip per batch, not two; at
stop, on its own). A crash in between leaves them pending for this consumer: the next
start reads its own pending entries first (XREADGROUP from id 0), and what was already recorded
comes back as a duplicate, never as a second order.

Entries left pending by another consumer that died (idle longer than `claim_idle_s`) are taken
over with XAUTOCLAIM, so a bot replacing a dead one, under another consumer name, finishes its
work. Invalid entries are dead letters in the store (and, when `dead_letter_stream` is set,
copied there with the reasons) and then acknowledged: they would never become valid by being
read again.

A dropped connection (server restart, `CLIENT KILL`, network) is logged once, retried with
jittered backoff, and reading resumes where the group left off.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from typing import Any, Literal

from loguru import logger
from pydantic import Field, field_validator
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from trading_bot.intake.gate import IntakeOutcome
from trading_bot.intake.remote import OutageLog, check_url, safe_url, source_masker
from trading_bot.intake.source import Backoff, SignalSource, SourceParams, SourceStartError

Entry = tuple[bytes, dict[bytes, bytes] | None]  # (entry id, fields; None: deleted meanwhile)


class RedisStreamParams(SourceParams):
    url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="redis:// or rediss:// URL (a password in it is never logged)",
    )
    stream: str = Field(min_length=1, max_length=256, description="the stream key")
    group: str = Field(default="trading-bot", min_length=1, max_length=128)
    consumer: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=128,
        description="this bot's name in the group; keep it stable so a restart finds its "
        "pending entries (default: the host name)",
    )
    field: str = Field(default="data", min_length=1, description="entry field holding the JSON")
    create_group: bool = Field(
        default=True,
        description="create the stream and group if missing; false: a missing group is an error",
    )
    group_start: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="where a newly created group starts: every entry already in the stream, "
        "or only entries added after it (existing groups keep their position)",
    )
    batch: int = Field(default=500, ge=1, le=10_000, description="entries read per call")
    block_ms: int = Field(
        default=1000, ge=10, le=60_000, description="longest wait for new entries per read"
    )
    claim_idle_s: float = Field(
        default=60.0,
        gt=0,
        description="entries pending this long at another consumer are taken over",
    )
    claim_interval_s: float = Field(default=10.0, gt=0, description="look for them this often")
    dead_letter_stream: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="also copy invalid entries here (fields: id, data, problems)",
    )
    reconnect_initial_s: float = Field(default=0.2, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    required_at_start: bool = Field(
        default=True,
        description="false: a server down at start is retried in the background, not an error",
    )

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return check_url(value, ("redis", "rediss", "unix"))


class RedisStreamSource(SignalSource):
    Params = RedisStreamParams
    params: RedisStreamParams

    def __init__(self, params: RedisStreamParams, name: str) -> None:
        super().__init__(params, name)
        self._redis: aioredis.Redis | None = None
        self._masker = source_masker(params.url, {})
        self._outage = OutageLog(name, f"reading {params.stream} at {safe_url(params.url)}")
        self._backoff = Backoff(params.reconnect_initial_s, params.reconnect_max_s)
        self._own_pending_read = False  # this consumer's pending entries re-read since connect
        self._next_claim = 0.0
        # recorded entries not acknowledged yet, and those of them to copy to the dead-letter
        # stream first: sent with the next read (one round trip instead of two per batch),
        # before any other read, and at stop
        self._unacked: list[bytes] = []
        self._dead: list[tuple[bytes, bytes | None, tuple[str, ...]]] = []

    def describe(self) -> str:
        p = self.params
        return (
            f"Redis stream {p.stream!r} at {safe_url(p.url)}, group {p.group!r} "
            f"as {p.consumer!r}, field {p.field!r}"
        )

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(
            self.params.url,
            socket_connect_timeout=5,
            socket_keepalive=True,
            health_check_interval=30,
            client_name=f"trading-bot:{self.name}",  # tells operators whose connection it is
        )
        try:
            await self._prepare()
        except SourceStartError:
            await self.close()
            raise
        except RedisError as error:
            if self.params.required_at_start:
                await self.close()
                raise SourceStartError(
                    f"cannot reach Redis at {safe_url(self.params.url)}: {self._reason(error)}"
                ) from None
            self._outage.failed(self._reason(error))

    async def run(self) -> None:
        try:
            await self._read_until_stopped()
        finally:
            if self._unacked and self._redis is not None:
                try:
                    await self._acknowledge()
                except (RedisError, OSError) as error:  # re-read after a restart: duplicates
                    logger.warning(
                        "intake {}: {} recorded entries left unacknowledged at stop: {}",
                        self.name,
                        len(self._unacked),
                        self._reason(error),
                    )

    async def _read_until_stopped(self) -> None:
        while not self.stopping.is_set():
            try:
                entries = await self._read()
                self._outage.recovered()  # a read answered: told before a long batch is taken
                if entries:
                    await self._take(entries)
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                self._lost(error)
                await self._backoff.wait(self.stopping)
                continue
            except ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                logger.warning(
                    "intake {}: group {!r} of stream {!r} is gone; recreating it",
                    self.name,
                    self.params.group,
                    self.params.stream,
                )
                self._own_pending_read = False
                try:
                    await self._prepare()
                except SourceStartError as refused:
                    self._outage.failed(str(refused))
                    await self._backoff.wait(self.stopping)
                continue
            self._backoff.reset()

    async def close(self) -> None:
        if self._redis is not None:
            client, self._redis = self._redis, None
            await client.aclose()

    def _lost(self, error: BaseException) -> None:
        """The connection failed: the next read starts over from this consumer's pending
        entries (a batch read but not acknowledged is taken again, as duplicates at worst)."""
        self._own_pending_read = False
        self._outage.failed(self._reason(error))

    async def _prepare(self) -> None:
        """Make sure the group exists (or say why it cannot)."""
        p, client = self.params, self._client()
        if p.create_group:
            start_id = "0" if p.group_start == "earliest" else "$"
            try:
                await client.xgroup_create(p.stream, p.group, id=start_id, mkstream=True)
                logger.info(
                    "intake {}: created group {!r} on stream {!r} (from the {} entry)",
                    self.name,
                    p.group,
                    p.stream,
                    "first" if p.group_start == "earliest" else "next",
                )
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise SourceStartError(self._reason(error)) from None
            return
        try:
            groups = await client.xinfo_groups(p.stream)
        except ResponseError:
            groups = []
        if not any(_text(g.get("name")) == p.group for g in groups):
            raise SourceStartError(
                f"stream {p.stream!r} has no consumer group {p.group!r} "
                "(create it, or set create_group: true)"
            )

    async def _read(self) -> list[Entry]:
        """The next entries to offer: first this consumer's own pending ones (left by a crash
        or a dropped connection), then any a dead consumer left behind, then new ones."""
        p, client = self.params, self._client()
        if not self._own_pending_read:
            await self._acknowledge()  # what was recorded is not offered again
            own = await client.xreadgroup(p.group, p.consumer, {p.stream: "0"}, count=p.batch)
            entries = _entries(own)
            if entries:
                return entries
            self._own_pending_read = True
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_claim:
            self._next_claim = loop.time() + p.claim_interval_s
            await self._acknowledge()
            claimed = await self._claim()
            if claimed:
                return claimed
        if self.stopping.is_set():
            return []
        if not self._unacked:
            fresh = await client.xreadgroup(
                p.group, p.consumer, {p.stream: ">"}, count=p.batch, block=p.block_ms
            )
            return _entries(fresh)
        async with client.pipeline(transaction=False) as pipe:
            self._queue_acknowledgement(pipe)
            pipe.xreadgroup(p.group, p.consumer, {p.stream: ">"}, count=p.batch, block=p.block_ms)
            answers = await pipe.execute()
        self._unacked, self._dead = [], []
        return _entries(answers[-1])

    async def _acknowledge(self) -> None:
        if self._unacked:
            async with self._client().pipeline(transaction=False) as pipe:
                self._queue_acknowledgement(pipe)
                await pipe.execute()
            self._unacked, self._dead = [], []

    def _queue_acknowledgement(self, pipe: Any) -> None:
        """Copy the dead letters to the dead-letter stream (only kept when it is set), then
        acknowledge: an entry leaves this consumer's pending list only once it is recorded,
        or kept as a dead letter."""
        p = self.params
        for entry_id, data, problems in self._dead:
            pipe.xadd(
                p.dead_letter_stream,
                {
                    "id": entry_id,
                    "data": data if data is not None else b"",
                    "problems": json.dumps(list(problems)),
                },
            )
        pipe.xack(p.stream, p.group, *self._unacked)

    async def _claim(self) -> list[Entry]:
        p, client = self.params, self._client()
        claimed: list[Entry] = []
        start = "0-0"
        while len(claimed) < p.batch:
            answer = await client.xautoclaim(
                p.stream,
                p.group,
                p.consumer,
                min_idle_time=int(p.claim_idle_s * 1000),
                start_id=start,
                count=p.batch - len(claimed),
            )
            start, found = _text(answer[0]), answer[1]
            claimed += [(entry_id, fields) for entry_id, fields in found]
            deleted = answer[2] if len(answer) > 2 else []
            if deleted:  # gone from the stream: nothing to offer, XAUTOCLAIM dropped them
                logger.warning(
                    "intake {}: {} pending entries were deleted from the stream before being read",
                    self.name,
                    len(deleted),
                )
            if start == "0-0":
                break
        if claimed:
            logger.info(
                "intake {}: took over {} entries idle at another consumer for over {:g} s",
                self.name,
                len(claimed),
                p.claim_idle_s,
            )
        return claimed

    async def _take(self, entries: Sequence[Entry]) -> None:
        """Offer the batch and wait until it is recorded; it is acknowledged after that."""
        p, channel = self.params, self.channel
        field = p.field.encode()
        dead: list[tuple[bytes, bytes | None, tuple[str, ...]]] = []
        for entry_id, fields in entries:
            location = f"{p.stream}:{entry_id.decode()}"
            if fields is None:
                logger.warning(
                    "intake {}: entry {} was deleted before being read", self.name, location
                )
                continue
            data = fields.get(field)
            await channel.capacity()
            if data is None:
                problem = f"entry has no field {p.field!r} (fields: {_field_names(fields)})"
                result = channel.dead_letter(_describe_fields(fields), location, [problem])
            else:
                result = channel.offer(data, location)
            if result.outcome in (IntakeOutcome.INVALID, IntakeOutcome.RATE_LIMITED):
                dead.append((entry_id, data, result.problems))
        await channel.recorded()
        # acknowledged with the next read (or at stop): a crash before then offers them again,
        # and the signal ledger answers those as duplicates
        if p.dead_letter_stream:
            self._dead += dead
        self._unacked += [entry_id for entry_id, _ in entries]

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError(f"intake source {self.name} is not started")
        return self._redis

    def _reason(self, error: BaseException) -> str:
        text = str(error) or type(error).__name__
        return self._masker.mask(f"{type(error).__name__}: {text[:300]}")


def _entries(answer: Any) -> list[Entry]:
    """XREADGROUP's answer (RESP2 list or RESP3 dict) as (id, fields) pairs for one stream."""
    if not answer:
        return []
    streams = answer.values() if isinstance(answer, dict) else (s[1] for s in answer)
    entries: list[Entry] = []
    for stream_entries in streams:
        if stream_entries and isinstance(stream_entries[0], list) and len(stream_entries) == 1:
            stream_entries = stream_entries[0]  # RESP3 wraps each stream's entries once more
        entries += [(entry_id, fields or None) for entry_id, fields in stream_entries]
    return entries


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field_names(fields: dict[bytes, bytes]) -> str:
    names = [name.decode(errors="replace") for name in list(fields)[:10]]
    return ", ".join(names) or "none"


def _describe_fields(fields: dict[bytes, bytes]) -> str:
    """The entry as text for its dead letter (the gate masks and cuts it)."""
    return json.dumps(
        {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    )
