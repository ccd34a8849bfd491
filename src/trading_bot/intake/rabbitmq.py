"""`rabbitmq`: the bot consumes a RabbitMQ queue (aio-pika), one JSON signal per message.

Deliveries are taken in batches (whatever has arrived, up to `batch`), offered one by one,
and acknowledged only once the batch is committed to the store: accepted and duplicate
messages are acked, invalid ones rejected without requeue so the broker dead-letters them
(the bot keeps its own dead letter too). A crash or a dropped connection before the ack means
a redelivery, which dedup records as a duplicate: no loss, no second order.

The reconnect loop is the source's own (not aio-pika's robust connection) so an outage is
logged once, retried with the shared jittered backoff, and a reconnect starts from a fresh
channel and consumer with nothing half-acknowledged carried over.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aio_pika.exceptions import (
    CONNECTION_EXCEPTIONS,
    ChannelNotFoundEntity,
    ChannelPreconditionFailed,
    ProbableAuthenticationError,
)
from loguru import logger
from pydantic import Field, field_validator, model_validator

from trading_bot.intake.gate import IntakeOutcome
from trading_bot.intake.remote import OutageLog, check_url, safe_url, unless_stopping
from trading_bot.intake.source import Backoff, SignalSource, SourceParams, SourceStartError
from trading_bot.monitoring.logging import SecretMasker

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
_ACKED = frozenset({IntakeOutcome.ACCEPTED, IntakeOutcome.DUPLICATE})


class RabbitMQParams(SourceParams):
    url: str = Field(
        default=DEFAULT_URL,
        description="amqp:// or amqps:// broker URL; its user and password are never logged",
        repr=False,  # the params' repr (a debugger, an error) must not show the password
    )
    queue: str = Field(min_length=1, max_length=255, description="the queue signals arrive on")
    declare: bool = Field(
        default=True,
        description="declare the queue (durable) and its dead-letter queue; false: both must "
        "exist already and are used as they are",
    )
    dead_letter_queue: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="where rejected messages go (default `<queue>.dead`; with declare only)",
    )
    prefetch: int = Field(
        default=500, ge=1, le=65_535, description="unacknowledged deliveries held at most"
    )
    batch: int = Field(default=100, ge=1, le=10_000, description="most messages per store commit")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=15, description="connect + open")
    reconnect_initial_s: float = Field(default=0.5, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    required_at_start: bool = Field(
        default=True,
        description="false: a broker down at start is retried in the background, not an error",
    )

    @field_validator("url")
    @classmethod
    def _amqp_url(cls, value: str) -> str:
        return check_url(value, ("amqp", "amqps"))

    @field_validator("queue", "dead_letter_queue")
    @classmethod
    def _queue_name(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("amq."):
            raise ValueError("queue names starting with 'amq.' are reserved by the broker")
        return value

    @model_validator(mode="after")
    def _distinct_queues(self) -> RabbitMQParams:
        if self.dead_letter_queue == self.queue:
            raise ValueError("dead_letter_queue must differ from queue (rejects would loop)")
        return self

    @property
    def dead_letters(self) -> str:
        return self.dead_letter_queue or f"{self.queue}.dead"


@dataclass
class _Session:
    """One connection's consumer: deliveries land in `inbox` until it `ended` (the channel
    closed, or the broker cancelled the consumer, e.g. because the queue was deleted)."""

    connection: AbstractConnection
    channel: AbstractChannel
    inbox: asyncio.Queue[AbstractIncomingMessage] = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    why: str = "closed by the broker"

    def end(self, why: str) -> None:
        if not self.ended.is_set():
            self.why = why
            self.ended.set()


class RabbitMQSource(SignalSource):
    Params = RabbitMQParams
    params: RabbitMQParams

    def __init__(self, params: RabbitMQParams, name: str) -> None:
        super().__init__(params, name)
        self._session: _Session | None = None
        self._backoff = Backoff(params.reconnect_initial_s, params.reconnect_max_s)
        self._masker = _url_masker(params.url)
        self._outage = OutageLog(name, f"consuming {params.queue!r} at {safe_url(params.url)}")

    def describe(self) -> str:
        params = self.params
        rejected = f"rejected to {params.dead_letters!r}" if params.declare else "declare: false"
        return (
            f"RabbitMQ queue {params.queue!r} at {safe_url(params.url)} "
            f"(prefetch {params.prefetch}, batch {params.batch}, {rejected})"
        )

    async def start(self) -> None:
        try:
            self._session = await self._connect()
        except _ConnectFailed as error:
            if self.params.required_at_start:
                raise SourceStartError(
                    f"cannot consume queue {self.params.queue!r} at "
                    f"{safe_url(self.params.url)}: {error}"
                ) from None
            self._outage.failed(str(error))

    async def run(self) -> None:
        while not self.stopping.is_set():
            reconnecting = self._session is None
            if self._session is None:
                try:
                    self._session = await unless_stopping(self._connect(), self.stopping)
                except _ConnectFailed as error:
                    self._outage.failed(str(error))
                    await self._backoff.wait(self.stopping)
                    continue
                if self._session is None:
                    return  # stopped while connecting
            if reconnecting and not self._outage.failures:
                logger.info("intake {}: consuming {!r} again", self.name, self.params.queue)
            self._outage.recovered()
            self._backoff.reset()
            try:
                why = await self._consume(self._session)
            finally:
                await self.close()
            if self.stopping.is_set():
                return
            logger.warning("intake {}: consuming stopped ({}); reconnecting", self.name, why)
            await self._backoff.wait(self.stopping)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await session.connection.close()  # unacked deliveries go back to the queue

    async def _connect(self) -> _Session:
        """Connect, open a channel and start consuming. Raises `_ConnectFailed` with a reason
        that holds no secret; nothing is left open when it fails or is cancelled."""
        params = self.params
        try:
            connection = await aio_pika.connect(
                params.url,
                timeout=params.connect_timeout_s,
                # shown by the broker's admin tools: which bot source holds this connection
                client_properties={
                    "connection_name": f"trading-bot intake {self.name} ({params.queue})"
                },
            )
        except TimeoutError:
            raise _ConnectFailed(f"no answer within {params.connect_timeout_s:g} s") from None
        except ProbableAuthenticationError:
            raise _ConnectFailed("the broker refused the user name or password") from None
        except Exception as error:  # whatever the library raises, start must say why clearly
            raise _ConnectFailed(self._reason(error)) from None
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=params.prefetch)
            queue = await self._queue(channel)
            session = _Session(connection, channel)
            channel.close_callbacks.add(lambda _, error: session.end(self._reason(error)))
            underlay = await channel.get_underlay_channel()
            underlay.on_consumer_cancel_callbacks.add(
                lambda _: session.end("the broker cancelled the consumer (queue deleted?)")
            )

            async def deliver(message: AbstractIncomingMessage) -> None:
                session.inbox.put_nowait(message)

            await queue.consume(deliver, no_ack=False)
        except BaseException as error:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await connection.close()
            if isinstance(error, ChannelNotFoundEntity):
                raise _ConnectFailed(
                    f"queue {params.queue!r} does not exist (with declare: false it must be "
                    "created beforehand)"
                ) from None
            if isinstance(error, ChannelPreconditionFailed):
                raise _ConnectFailed(
                    f"queue {params.queue!r} exists with other settings ({self._reason(error)}); "
                    "declare: false uses it as it is"
                ) from None
            if isinstance(error, Exception):
                raise _ConnectFailed(self._reason(error)) from None
            raise  # cancelled
        return session

    async def _queue(self, channel: AbstractChannel) -> AbstractQueue:
        params = self.params
        if not params.declare:
            return await channel.get_queue(params.queue, ensure=True)  # passive: must exist
        dead = params.dead_letters
        await channel.declare_queue(dead, durable=True)
        # the default exchange routes to every queue by name: the DLQ needs no binding of its own
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead,
        }
        return await channel.declare_queue(params.queue, durable=True, arguments=arguments)

    async def _consume(self, session: _Session) -> str:
        """Take batches until the channel closes (returns why) or the bot stops. Deliveries
        still waiting in the inbox at a stop are not taken: closing returns them to the queue."""
        ended = asyncio.ensure_future(session.ended.wait())
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            while True:
                if session.inbox.empty():
                    get = asyncio.ensure_future(session.inbox.get())
                    await asyncio.wait({get, ended, stop}, return_when=asyncio.FIRST_COMPLETED)
                    if not get.done():
                        get.cancel()  # Queue.get is cancel-safe: nothing is lost
                        return "bot stopping" if stop.done() else session.why
                    batch = [get.result()]
                else:
                    batch = []
                while len(batch) < self.params.batch and not session.inbox.empty():
                    batch.append(session.inbox.get_nowait())
                if not await self._take(batch):
                    # an ack can fail a moment before the close callbacks tell why
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(session.ended.wait(), 1.0)
                    return session.why
                if session.ended.is_set():
                    return session.why
                if self.stopping.is_set():
                    return "bot stopping"
        finally:
            ended.cancel()
            stop.cancel()

    async def _take(self, batch: list[AbstractIncomingMessage]) -> bool:
        """Offer a batch, wait until it is committed, then settle each delivery with the
        broker. False if the channel closed before all were settled (the broker redelivers).
        A stop during rate-limit waits offers no more: the rest goes back to the queue."""
        channel = self.channel
        queue = self.params.queue
        outcomes: list[IntakeOutcome] = []
        for message in batch:
            await channel.capacity()  # over the rate limit: consume slower, the queue waits
            if self.stopping.is_set() and outcomes:
                break
            where = message.message_id or f"delivery {message.delivery_tag}"
            outcomes.append(channel.offer(message.body, f"{queue}:{where}").outcome)
        await channel.recorded()
        try:
            for message, outcome in zip(batch, outcomes, strict=False):
                if outcome in _ACKED:
                    await message.ack()
                else:  # invalid or rate limited: to the queue's dead-letter queue
                    await message.reject(requeue=False)
        except CONNECTION_EXCEPTIONS:
            return False
        return True

    def _reason(self, error: BaseException | None) -> str:
        if error is None:
            return "closed"
        text = str(error) or type(error).__name__
        text = text if len(text) <= 200 else text[:197] + "..."
        return self._masker.mask(text)


class _ConnectFailed(Exception):
    """Connecting or subscribing failed; the message is safe to log."""


def _url_masker(url: str) -> SecretMasker:
    """The URL's user and password, as written and percent-decoded (a library may show
    either)."""
    parts = urlsplit(url)
    found = [part for part in (parts.username, parts.password) if part]
    return SecretMasker([*found, *map(unquote, found)])
