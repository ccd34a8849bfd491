"""`nats`: the bot pulls signals from a NATS JetStream stream through a durable consumer.

Each round fetches up to `batch` messages, offers them one by one, waits until they are all
committed to the store, and only then acknowledges them: a crash before the acks means the
stream delivers them again, which the gate records as duplicates (one order per signal). A
message that is not a valid signal is kept as a dead letter and then `term()`ed, so JetStream
stops redelivering it (and publishes a MSG_TERMINATED advisory an operator can watch).

nats-py reconnects by itself a few times, keeping the subscription and buffering acks; a fetch
that spans a drop just times out and is asked again. If the client gives up, the source opens
a fresh connection with jittered exponential backoff, forever. Messages in flight when a line
drops are redelivered after `ack_wait_s`.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import nats
import nats.errors
import nats.js.errors
from loguru import logger
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pydantic import Field, SecretStr, field_validator, model_validator

from trading_bot.intake.gate import IntakeOutcome, IntakeResult
from trading_bot.intake.remote import OutageLog, check_url, safe_url, unless_stopping
from trading_bot.intake.source import Backoff, SignalSource, SourceParams, SourceStartError
from trading_bot.monitoring.logging import SecretMasker

# nats-py's own reconnect attempts per server before the client gives up and the source takes
# over with its backoff (the first connection also tries each server this many times + 1).
CLIENT_RETRIES = 2
# How long the rest of a batch is gathered after its first message (already there, mostly).
GATHER_S = 0.05
_SCHEMES = ("nats", "tls", "ws", "wss")
_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # stream and consumer names: no dots, wildcards or spaces


class NatsJetStreamParams(SourceParams):
    servers: list[str] = Field(
        default_factory=lambda: ["nats://127.0.0.1:4222"],
        min_length=1,
        repr=False,  # may hold credentials
        description="nats:// (or tls://, ws://, wss://) URLs; one URL alone is accepted too; "
        "credentials in them are secrets",
    )
    stream: str = Field(pattern=_NAME, description="the JetStream stream signals are in")
    subject: str = Field(description="the subject signals are published on (wildcards allowed)")
    durable: str = Field(
        default="trading-bot",
        pattern=_NAME,
        description="durable consumer name: where this bot has read up to, kept by the server",
    )
    create_stream: bool = Field(
        default=True,
        description="create the stream for the subject if missing (false: a missing stream is "
        "a start error)",
    )
    batch: int = Field(default=32, ge=1, le=1000, description="messages fetched per round")
    fetch_wait_s: float = Field(
        default=5.0, gt=0, le=60, description="a fetch waits this long for the first message"
    )
    ack_wait_s: float = Field(
        default=30.0, ge=1, le=3600, description="an unacknowledged message is redelivered after"
    )
    max_deliver: int | None = Field(
        default=None, ge=1, description="deliveries of one message at most (null: no limit)"
    )
    token: SecretStr | None = Field(default=None, description="auth token (secret)")
    user: SecretStr | None = Field(default=None, description="auth user name (secret)")
    password: SecretStr | None = Field(default=None, description="auth password (secret)")
    connect_timeout_s: float = Field(default=5.0, gt=0, le=15, description="per attempt")
    reconnect_initial_s: float = Field(default=0.5, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    required_at_start: bool = Field(
        default=True,
        description="false: a server down at start is retried in the background, not an error",
    )

    @field_validator("servers", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("subject")
    @classmethod
    def _nats_subject(cls, value: str) -> str:
        tokens = value.split(".")
        if any(not t or any(c.isspace() for c in t) for t in tokens) or len(value) > 255:
            raise ValueError("expected a NATS subject: dot-separated tokens without spaces")
        if any(">" in t and (t != ">" or i != len(tokens) - 1) for i, t in enumerate(tokens)):
            raise ValueError("'>' is only allowed as the whole last token")
        return value

    @model_validator(mode="after")
    def _urls_and_auth(self) -> NatsJetStreamParams:
        # checked here, not on the field: a field's error would quote the URL and its password
        for url in self.servers:
            try:
                check_url(url, _SCHEMES)
            except ValueError as error:
                raise ValueError(f"servers: {error}") from None
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        if self.token is not None and self.user is not None:
            raise ValueError("give either a token or a user and password, not both")
        return self

    def secrets(self) -> list[str]:
        """Every secret value: the auth params and what the URLs carry (user, password, a
        token in the user part or the query)."""
        values = [s.get_secret_value() for s in (self.token, self.user, self.password) if s]
        for url in self.servers:
            parts = urlsplit(url)
            values += [v for v in (parts.username, parts.password) if v]
            values += [v for _, v in parse_qsl(parts.query)]
        return values


class NatsJetStreamSource(SignalSource):
    Params = NatsJetStreamParams
    params: NatsJetStreamParams

    def __init__(self, params: NatsJetStreamParams, name: str) -> None:
        super().__init__(params, name)
        self._nc: Client | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._backoff = Backoff(params.reconnect_initial_s, params.reconnect_max_s)
        self._masker = SecretMasker(params.secrets())
        self._where = ", ".join(safe_url(url) for url in params.servers)
        self._outage = OutageLog(name, f"NATS at {self._where}")

    def describe(self) -> str:
        p = self.params
        return (
            f"JetStream consumer '{p.durable}' of stream '{p.stream}' (subject '{p.subject}') "
            f"on {self._where}"
        )

    async def start(self) -> None:
        try:
            await self._open()
        except _NatsFailed as error:
            if self.params.required_at_start:
                raise SourceStartError(
                    f"cannot consume stream '{self.params.stream}' from NATS at {self._where}: "
                    f"{error}"
                ) from None
            self._outage.failed(str(error))

    async def run(self) -> None:
        while not self.stopping.is_set():
            sub = self._sub
            if sub is None or self._nc is None or self._nc.is_closed:
                try:
                    await unless_stopping(self._open(), self.stopping)
                except _NatsFailed as error:
                    self._outage.failed(str(error))
                    await self._backoff.wait(self.stopping)
                continue
            try:
                first = await unless_stopping(
                    sub.fetch(1, timeout=self.params.fetch_wait_s), self.stopping
                )
                if first is None:
                    return  # stopped while waiting: nothing was taken
                # offered at once, so the signal executes while the rest is gathered
                taken = await self._offer(first)
                taken += await self._offer(await self._rest_of_batch(sub))
            except nats.errors.TimeoutError:
                continue  # nothing new, or the line dropped meanwhile: ask again
            except (nats.errors.Error, nats.js.errors.Error, OSError) as error:
                # a closed client or a consumer deleted meanwhile: the next round binds afresh
                self._outage.failed(self._masker.mask(_reason(error)))
                await self._unbind()
                await self._backoff.wait(self.stopping)
                continue
            self._outage.recovered()
            self._backoff.reset()
            await self._settle(taken)

    async def close(self) -> None:
        self._sub = None
        if self._nc is not None:
            nc, self._nc = self._nc, None
            try:
                if nc.is_connected:
                    await nc.flush(timeout=1)  # the last acks reach the server
            except (nats.errors.Error, TimeoutError) as error:
                logger.debug("intake {}: acks not flushed on close: {}", self.name, _reason(error))
            await nc.close()

    async def _rest_of_batch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """What is already waiting, up to `batch` - 1 messages. A single fetch of `batch` would
        hold a lone signal until its whole wait is over; the first message is waited for alone
        and the rest only gathered briefly."""
        if self.params.batch == 1:
            return []
        try:
            return await sub.fetch(self.params.batch - 1, timeout=GATHER_S)
        except nats.errors.TimeoutError:
            return []
        except (nats.errors.Error, nats.js.errors.Error) as error:  # the first is still taken
            logger.debug(
                "intake {}: gathering a batch failed: {}",
                self.name,
                self._masker.mask(_reason(error)),
            )
            return []

    async def _unbind(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _open(self) -> None:
        """Connect (unless connected), make sure the stream exists, bind the durable consumer.
        Raises `_NatsFailed` with a reason that holds no secret."""
        params = self.params
        if self._nc is None or self._nc.is_closed:
            self._nc = await self._connect()
        js = self._nc.jetstream(timeout=params.connect_timeout_s)
        try:
            await self._ensure_stream(js)
            config = ConsumerConfig(
                durable_name=params.durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=params.ack_wait_s,
                max_deliver=params.max_deliver,
            )
            self._sub = await js.pull_subscribe(
                params.subject, durable=params.durable, stream=params.stream, config=config
            )
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as error:
            await self.close()
            raise _NatsFailed(self._masker.mask(_reason(error))) from None
        logger.log(
            "DEBUG" if self._outage.failures else "INFO",
            "intake {}: consuming '{}' from stream '{}' as '{}'",
            self.name,
            params.subject,
            params.stream,
            params.durable,
        )

    async def _connect(self) -> Client:
        """A client that retries a dropped line by itself `CLIENT_RETRIES` times; its
        callbacks report an outage once it has connected (before that, `_NatsFailed` does)."""
        params = self.params
        failures: list[str] = []
        up = False

        def reporting() -> bool:  # not while connecting first, nor once closed on purpose
            return up and self._nc is not None and not self.stopping.is_set()

        async def on_error(error: Exception) -> None:
            failures.append(self._masker.mask(_reason(error)))
            if reporting():
                self._outage.failed(failures[-1])

        async def on_disconnect() -> None:
            # the callbacks run as tasks: one for a drop the client already recovered from
            # (connected again) would report a second outage that is not there
            if reporting() and self._nc is not None and not self._nc.is_connected:
                self._outage.failed("connection lost")

        async def on_reconnect() -> None:
            self._outage.recovered()

        try:
            nc = await nats.connect(
                servers=params.servers,
                name=f"trading-bot intake {self.name}",
                connect_timeout=params.connect_timeout_s,  # type: ignore[arg-type]
                reconnect_time_wait=params.reconnect_initial_s,  # type: ignore[arg-type]
                max_reconnect_attempts=CLIENT_RETRIES,
                token=_plain(params.token),
                user=_plain(params.user),
                password=_plain(params.password),
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
        except (nats.errors.Error, OSError, TimeoutError) as error:
            raise _NatsFailed(
                failures[-1] if failures else self._masker.mask(_reason(error))
            ) from None
        up = True
        return nc

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        params = self.params
        try:
            await js.stream_info(params.stream)
        except nats.js.errors.NotFoundError:
            if not params.create_stream:
                raise _NatsFailed(
                    f"stream '{params.stream}' does not exist (create_stream is false)"
                ) from None
            await js.add_stream(name=params.stream, subjects=[params.subject])
            logger.info(
                "intake {}: created stream '{}' for '{}'", self.name, params.stream, params.subject
            )

    async def _offer(self, messages: list[Msg]) -> list[tuple[Msg, IntakeResult]]:
        channel = self.channel
        taken = []
        for msg in messages:
            await channel.capacity()  # a rate limit slows the reading down, nothing is refused
            meta = msg.metadata
            taken.append((msg, channel.offer(msg.data, f"{meta.stream}:{meta.sequence.stream}")))
        return taken

    async def _settle(self, taken: list[tuple[Msg, IntakeResult]]) -> None:
        """Once the batch is committed, acknowledge each message: ack what was recorded, term
        what was dead-lettered (it would never become valid by being redelivered)."""
        await self.channel.recorded()
        for msg, result in taken:
            try:
                if result.outcome in (IntakeOutcome.INVALID, IntakeOutcome.RATE_LIMITED):
                    await msg.term()
                else:
                    await msg.ack()
            except nats.errors.Error as error:  # redelivered later: a duplicate, done once
                logger.debug(
                    "intake {}: ack not sent ({}); it will be redelivered",
                    self.name,
                    _reason(error),
                )


class _NatsFailed(Exception):
    """Connecting or binding the consumer failed; the message is safe to log."""


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
