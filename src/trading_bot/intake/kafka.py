"""`kafka`: the bot consumes signals from Kafka topics as a member of a consumer group.

Offsets are never committed automatically: each round takes up to `batch` records, offers
them one by one, waits until they are committed to the store, and only then commits the
offsets past them. A crash before the commit means the group reads them again, which the gate
records as duplicates (one order per signal). A record that is not a valid signal is kept as a
dead letter and committed past like any other, so it never comes back.

aiokafka reconnects to brokers by itself; a `getmany` across an outage returns nothing until
the cluster answers again. Errors it does raise (a failed commit, a lost group) are logged
once per outage and retried with jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context
from loguru import logger
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from trading_bot.intake.remote import OutageLog, unless_stopping
from trading_bot.intake.source import Backoff, SignalSource, SourceParams, SourceStartError
from trading_bot.monitoring.logging import SecretMasker

_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$")
_TOPIC = r"^[A-Za-z0-9._-]{1,249}$"


class KafkaParams(SourceParams):
    bootstrap_servers: list[str] = Field(
        default_factory=lambda: ["127.0.0.1:9092"],
        min_length=1,
        description="host:port of one or more brokers (a comma-separated string is accepted)",
    )
    topics: list[str] = Field(
        min_length=1,
        validation_alias=AliasChoices("topics", "topic"),
        description="the topic (or topics) signals are published to",
    )
    group_id: str = Field(
        default="trading-bot",
        min_length=1,
        max_length=255,
        description="consumer group: Kafka keeps its committed offsets (where this bot is)",
    )
    batch: int = Field(default=100, ge=1, le=10_000, description="records taken per round")
    fetch_wait_s: float = Field(
        default=1.0, gt=0, le=60, description="a round waits this long for records"
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="where a group with no committed offset starts (earliest: everything)",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: SecretStr | None = Field(default=None, description="secret")
    sasl_password: SecretStr | None = Field(default=None, description="secret")
    connect_timeout_s: float = Field(
        default=10.0, gt=0, le=15, description="connecting (bootstrap)"
    )
    reconnect_initial_s: float = Field(default=0.5, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    required_at_start: bool = Field(
        default=True,
        description="false: a cluster down at start is retried in the background, not an error",
    )

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port(cls, value: list[str]) -> list[str]:
        for server in value:
            if not _HOST_PORT.match(server):
                raise ValueError(f"expected host:port, got {server!r}")
        return value

    @field_validator("topics", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, value: list[str]) -> list[str]:
        for topic in value:
            if not re.match(_TOPIC, topic) or topic in {".", ".."}:
                raise ValueError(f"{topic!r} is not a Kafka topic name (letters, digits, . _ -)")
        return value

    @model_validator(mode="after")
    def _sasl(self) -> KafkaParams:
        sasl = self.security_protocol.startswith("SASL_")
        given = (self.sasl_username is not None, self.sasl_password is not None)
        if sasl and given != (True, True):
            raise ValueError(f"{self.security_protocol} needs sasl_username and sasl_password")
        if not sasl and any(given):
            raise ValueError("sasl_username/sasl_password need a SASL_ security_protocol")
        return self


class KafkaSource(SignalSource):
    Params = KafkaParams
    params: KafkaParams

    def __init__(self, params: KafkaParams, name: str) -> None:
        super().__init__(params, name)
        self._consumer: AIOKafkaConsumer | None = None
        self._backoff = Backoff(params.reconnect_initial_s, params.reconnect_max_s)
        secrets = (params.sasl_username, params.sasl_password)
        self._masker = SecretMasker(s.get_secret_value() for s in secrets if s is not None)
        self._where = ", ".join(params.bootstrap_servers)
        self._outage = OutageLog(name, f"Kafka at {self._where}")

    def describe(self) -> str:
        topics = ", ".join(self.params.topics)
        return f"Kafka group '{self.params.group_id}' on topic(s) {topics} at {self._where}"

    async def start(self) -> None:
        try:
            await self._open()
        except _KafkaFailed as error:
            if self.params.required_at_start:
                raise SourceStartError(
                    f"cannot consume {', '.join(self.params.topics)} from Kafka at "
                    f"{self._where}: {error}"
                ) from None
            self._outage.failed(str(error))

    async def run(self) -> None:
        while not self.stopping.is_set():
            consumer = self._consumer
            if consumer is None:
                try:
                    await unless_stopping(self._open(), self.stopping)
                except _KafkaFailed as error:
                    self._outage.failed(str(error))
                    await self._backoff.wait(self.stopping)
                continue
            try:
                fetched = await unless_stopping(
                    consumer.getmany(
                        timeout_ms=int(self.params.fetch_wait_s * 1000),
                        max_records=self.params.batch,
                    ),
                    self.stopping,
                )
                if fetched is None:
                    return  # stopped while waiting: nothing was taken
                if not fetched:
                    continue  # nothing new (aiokafka also answers so while brokers are away)
                await self._take(consumer, fetched)
            except KafkaError as error:  # taken records are not committed: read again
                self._outage.failed(self._masker.mask(_reason(error)))
                await self._backoff.wait(self.stopping)
                continue
            self._outage.recovered()  # records came and were committed: the cluster answers
            self._backoff.reset()

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()  # leaves the group; nothing uncommitted is committed

    async def _open(self) -> None:
        """Connect to the cluster; raises `_KafkaFailed` with a reason that holds no secret."""
        params = self.params
        consumer = AIOKafkaConsumer(
            *params.topics,
            bootstrap_servers=params.bootstrap_servers,
            client_id=f"trading-bot-{self.name}",
            group_id=params.group_id,
            enable_auto_commit=False,
            auto_offset_reset=params.auto_offset_reset,
            max_partition_fetch_bytes=max(1024 * 1024, params.max_message_bytes * 4),
            security_protocol=params.security_protocol,
            ssl_context=create_ssl_context() if "SSL" in params.security_protocol else None,
            sasl_mechanism=params.sasl_mechanism,
            sasl_plain_username=_plain(params.sasl_username),
            sasl_plain_password=_plain(params.sasl_password),
            retry_backoff_ms=int(params.reconnect_initial_s * 1000),
        )
        try:
            await asyncio.wait_for(consumer.start(), params.connect_timeout_s)
        except (KafkaError, OSError, TimeoutError) as error:
            await consumer.stop()
            reason = _reason(error) if not isinstance(error, TimeoutError) else ""
            reason = reason or f"no answer within {params.connect_timeout_s:g} s"
            raise _KafkaFailed(self._masker.mask(reason)) from None
        self._consumer = consumer
        logger.log(
            "DEBUG" if self._outage.failures else "INFO",
            "intake {}: consuming {} as group '{}'",
            self.name,
            ", ".join(params.topics),
            params.group_id,
        )

    async def _take(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        """Offer every record (all of them, even when stopping), wait until they are
        committed to the store, then commit each partition's offset past its last record."""
        channel = self.channel
        offsets: dict[TopicPartition, int] = {}
        for partition, records in fetched.items():
            for record in records:
                await channel.capacity()
                where = f"{record.topic}:{record.partition}:{record.offset}"
                if record.value is None:  # a tombstone: no payload at all
                    channel.dead_letter("", where, ["empty record (no value)"])
                else:
                    channel.offer(record.value, where)
            if records:
                offsets[partition] = records[-1].offset + 1
        await channel.recorded()
        await consumer.commit(offsets)


class _KafkaFailed(Exception):
    """Connecting failed; the message is safe to log."""


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
