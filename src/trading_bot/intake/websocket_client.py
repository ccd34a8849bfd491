"""`websocket`: the bot connects to a detector's WebSocket and takes the signals it pushes.

Wire protocol (all messages are JSON text; see the README's "Signal intake"):

- detector -> bot: a canonical signal object, or an envelope `{"seq": N, "signal": {...}}`
  where `seq` counts up by one per signal, per detector stream.
- bot -> detector, first on every connection: `{"type": "resume", "after_seq": N}` (null when
  this bot has recorded nothing from the detector yet): resend what comes after N.
- bot -> detector, per message once it is committed to the store:
  `{"type": "ack", "seq": N|null, "signal_id": ..., "outcome": ..., ...}`; an invalid message
  gets an ack with outcome `invalid` and its `problems`.

The highest unbroken seq recorded is saved with the signals, so a restart resumes right after
it; a replay of something already recorded is a duplicate by (source, signal_id), done once.
Drops are reconnected with jittered exponential backoff, forever; pings detect a silent peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from loguru import logger
from pydantic import Field, field_validator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from trading_bot.intake.remote import (
    OutageLog,
    SecretHeaders,
    check_url,
    plain_headers,
    safe_url,
    source_masker,
    unless_stopping,
)
from trading_bot.intake.sequence import SeqCursor, unpack
from trading_bot.intake.source import Backoff, SignalSource, SourceParams, SourceStartError

# A connection that stayed up this long was healthy: the next drop starts the backoff afresh.
STABLE_S = 10.0
# websockets logs request headers (the token) at debug level: its logger stays above that.
_PROTOCOL_LOG = logging.getLogger("trading_bot.intake.websocket_client.protocol")
_PROTOCOL_LOG.setLevel(logging.INFO)


class WebSocketClientParams(SourceParams):
    url: str = Field(description="the detector's ws:// or wss:// URL")
    headers: SecretHeaders = Field(
        default_factory=dict, description="sent with the handshake (auth); values are secrets"
    )
    ping_interval_s: float | None = Field(
        default=20.0, gt=0, le=600, description="heartbeat ping this often (null: no pings)"
    )
    ping_timeout_s: float | None = Field(
        default=20.0, gt=0, le=600, description="no pong within this: the connection is dead"
    )
    open_timeout_s: float = Field(default=10.0, gt=0, le=15, description="connect + handshake")
    reconnect_initial_s: float = Field(default=0.5, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    required_at_start: bool = Field(
        default=True,
        description="false: a detector down at start is retried in the background, not an error",
    )

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        return check_url(value, ("ws", "wss"))

    @property
    def read_limit(self) -> int:
        """Frames up to this size are read (larger ones close the connection, code 1009);
        those above `max_message_bytes` are dead-lettered and acknowledged, not resent."""
        return max(4 * self.max_message_bytes, 1024 * 1024)


class WebSocketClientSource(SignalSource):
    Params = WebSocketClientParams
    params: WebSocketClientParams

    def __init__(self, params: WebSocketClientParams, name: str) -> None:
        super().__init__(params, name)
        self._ws: ClientConnection | None = None
        self._seq = SeqCursor(None)
        self._messages = 0
        self._taken = 0  # messages on the current connection
        self._backoff = Backoff(params.reconnect_initial_s, params.reconnect_max_s)
        self._masker = source_masker(params.url, params.headers)
        self._outage = OutageLog(name, f"connecting to {safe_url(params.url)}")

    def describe(self) -> str:
        return f"WebSocket client of {safe_url(self.params.url)}"

    async def start(self) -> None:
        self._seq = SeqCursor.from_saved(self.channel.cursor, self.name)
        try:
            self._ws = await self._connect()
        except _ConnectFailed as error:
            if self.params.required_at_start:
                raise SourceStartError(
                    f"cannot connect to the detector at {safe_url(self.params.url)}: {error}"
                ) from None
            self._outage.failed(str(error))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            if self._ws is None:
                try:
                    self._ws = await unless_stopping(self._connect(), self.stopping)
                except _ConnectFailed as error:
                    self._outage.failed(str(error))
                    await self._backoff.wait(self.stopping)
                    continue
                if self._ws is None:
                    return  # stopped while connecting
            began, self._taken = loop.time(), 0
            try:
                ended = await self._session(self._ws)
            finally:
                await self.close()
            if self.stopping.is_set():
                return
            if self._taken or loop.time() - began >= STABLE_S:
                self._outage.recovered()
                self._backoff.reset()
                logger.warning("intake {}: connection lost ({}); reconnecting", self.name, ended)
            else:  # connected, then dropped before anything came: still an outage
                lasted = loop.time() - began
                self._outage.failed(
                    f"connection lost after {lasted:.1f} s, nothing received ({ended})"
                )
            await self._backoff.wait(self.stopping)

    async def close(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.close(1001, "bot stopping")  # a no-op on a connection already closed

    async def _connect(self) -> ClientConnection:
        """Open a connection and ask for what the bot has not recorded. Raises `_ConnectFailed`
        with a reason that holds no secret."""
        params = self.params
        try:
            ws = await connect(
                params.url,
                additional_headers=plain_headers(params.headers),
                open_timeout=params.open_timeout_s,
                ping_interval=params.ping_interval_s,
                ping_timeout=params.ping_timeout_s,
                # a peer that missed a pong is not waited on long for a close handshake
                close_timeout=min(5.0, params.ping_timeout_s or 5.0),
                max_size=params.read_limit,
                logger=_PROTOCOL_LOG,
            )
        except InvalidStatus as error:
            raise _ConnectFailed(f"refused with HTTP {error.response.status_code}") from None
        except TimeoutError:
            raise _ConnectFailed(f"no answer within {params.open_timeout_s:g} s") from None
        except (OSError, InvalidHandshake) as error:
            raise _ConnectFailed(self._masker.mask(_reason(error))) from None
        except Exception as error:  # whatever the library raises, start must say why clearly
            reason = f"{type(error).__name__}: {_reason(error)}"
            raise _ConnectFailed(self._masker.mask(reason)) from None
        try:
            await ws.send(json.dumps({"type": "resume", "after_seq": self._seq.cursor}))
        except ConnectionClosed as closed:
            raise _ConnectFailed(f"closed before resuming: {_closed(closed)}") from None
        logger.log(
            "DEBUG" if self._outage.failures else "INFO",
            "intake {}: connected to {}, resuming after seq {}",
            self.name,
            safe_url(params.url),
            "(none)" if self._seq.cursor is None else self._seq.cursor,
        )
        return ws

    async def _session(self, ws: ClientConnection) -> str:
        """Take messages until the connection drops (returns why) or the bot stops; acks are
        sent by a companion task as soon as what they answer is committed."""
        acks: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        acker = asyncio.create_task(self._send_acks(ws, acks), name=f"intake:{self.name}:acks")
        stop = asyncio.create_task(self.stopping.wait())
        try:
            while not acker.done():
                receive = asyncio.ensure_future(ws.recv())
                await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():  # stopping: recv is cancel-safe, nothing is lost
                    receive.cancel()
                    await asyncio.wait({receive})
                    if not receive.cancelled() and receive.exception() is None:
                        acks.put_nowait(await self._take(receive.result()))  # came meanwhile
                    return "bot stopping"
                acks.put_nowait(await self._take(receive.result()))
            return "could not send acknowledgements"
        except ConnectionClosed as closed:
            return _closed(closed)
        finally:
            stop.cancel()
            acks.put_nowait(None)  # the acker sends what is committed, then ends
            with contextlib.suppress(ConnectionClosed):
                await acker

    async def _take(self, message: str | bytes) -> dict[str, Any]:
        channel = self.channel
        if not self._taken:
            self._outage.recovered()  # the detector answers: any outage is over
        await channel.capacity()  # over the rate limit: read slower, the detector waits
        self._messages += 1
        self._taken += 1
        params = self.params
        unpacked = unpack(message, params.max_message_bytes, params.read_limit)
        seq = unpacked.seq
        location = f"seq {seq}" if seq is not None else f"message {self._messages}"
        if unpacked.problems:
            raw = message if isinstance(message, str) else message.decode("utf-8", "replace")
            result = channel.dead_letter(raw, location, unpacked.problems)
        else:
            result = channel.offer(unpacked.payload, location)
        if seq is not None and self._seq.recorded(seq) and self._seq.cursor is not None:
            channel.move_cursor(str(self._seq.cursor))  # committed with the signal
        return {"type": "ack", "seq": seq, "signal_id": result.signal_id, **result.to_dict()}

    async def _send_acks(
        self, ws: ClientConnection, acks: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        """Wait until what was taken is committed, then acknowledge it all at once (one store
        commit answers every message that arrived meanwhile)."""
        finished = False
        while not finished:
            batch = [await acks.get()]
            while not acks.empty():
                batch.append(acks.get_nowait())
            finished = None in batch
            ready = [ack for ack in batch if ack is not None]
            if not ready:
                continue
            await self.channel.recorded()
            for ack in ready:
                await ws.send(json.dumps(ack))


class _ConnectFailed(Exception):
    """Connecting failed; the message is safe to log."""


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _closed(closed: ConnectionClosed) -> str:
    frame = closed.rcvd or closed.sent
    if frame is None:
        return "closed without a close frame"
    return f"code {frame.code}" + (f" {frame.reason[:100]!r}" if frame.reason else "")
