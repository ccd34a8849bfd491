"""Test-owned detectors on real sockets (127.0.0.1 only) that a test steers: what they send,
when they drop or fail, and what they saw from the bot (resumes, acks, polls, headers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

TOKEN = "Bearer tk-7c1e5a9d3b"
HOST = "127.0.0.1"


def signal(signal_id: str, **extra: Any) -> dict[str, Any]:
    return {"signal_id": signal_id, "asset": "BTC/USDT", "side": "buy", "size": "0.01", **extra}


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class WsDetector:
    """Numbers its signals (seq 1, 2...) and, on every connection, waits for the bot's
    `resume` and sends what comes after it, then anything published later."""

    def __init__(self) -> None:
        self.frames: list[tuple[int | None, str | bytes]] = []
        self.resumes: list[int | None] = []
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self.drop_after_acks: int | None = None  # close the next connection once this many acks
        self.silent_next = False  # the next connection stops reading (and answering pings)
        self.drop_at_once = 0  # this many next connections are dropped right after `resume`
        self.ignore_resume = False  # replay everything, as a detector without state would
        self.port = 0
        self.on_ack: Callable[[dict[str, Any]], None] | None = None
        self._more = asyncio.Event()
        self._acked = asyncio.Event()
        self._closing = asyncio.Event()

    def publish(self, payload: dict[str, Any]) -> int:
        seq = sum(1 for s, _ in self.frames if s is not None) + 1
        self.frames.append((seq, json.dumps({"seq": seq, "signal": payload})))
        self._more.set()
        return seq

    def send_raw(self, frame: str | bytes, seq: int | None = None) -> None:
        """A frame as is (bare signals, garbage); `seq` if it takes a number."""
        self.frames.append((seq, frame))
        self._more.set()

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/signals?token=q-5e8d2c"

    def acked_seqs(self) -> list[int]:
        return [ack["seq"] for ack in self.acks if ack.get("seq") is not None]

    @contextlib.asynccontextmanager
    async def running(self, port: int = 0) -> AsyncIterator[WsDetector]:
        server: Server = await serve(self._handle, HOST, port, process_request=_check_token)
        self.port = server.sockets[0].getsockname()[1] if server.sockets else port
        try:
            yield self
        finally:
            self._closing.set()
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        hello = json.loads(await ws.recv())
        assert hello["type"] == "resume", hello
        self.resumes.append(hello["after_seq"])
        after = -1 if self.ignore_resume or hello["after_seq"] is None else hello["after_seq"]
        if self.drop_at_once:
            self.drop_at_once -= 1
            ws.transport.abort()
            return
        if self.silent_next:
            self.silent_next = False
            ws.transport.pause_reading()  # pings go unanswered from now on
            await self._closing.wait()
            ws.transport.abort()
            return
        # until the bot goes away (the ack reader ends) or the feed drops the line
        tasks = {
            asyncio.create_task(self._read_acks(ws)),
            asyncio.create_task(self._feed(ws, after)),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _feed(self, ws: ServerConnection, after: int) -> None:
        index = sent = 0
        drop_at = self.drop_after_acks
        self.drop_after_acks = None
        while True:
            while index < len(self.frames):
                if drop_at is not None and sent >= drop_at + 2:
                    break  # two more in flight, unacknowledged, when the line drops
                seq, frame = self.frames[index]
                index += 1
                if seq is None or seq > after:
                    await ws.send(frame)
                    sent += 1
            if drop_at is not None:
                while len(self.acks) < drop_at:
                    self._acked.clear()
                    await self._acked.wait()
                ws.transport.abort()  # no close frame: a dropped connection
                return
            self._more.clear()
            await self._more.wait()

    async def _read_acks(self, ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._collect_acks(ws)

    async def _collect_acks(self, ws: ServerConnection) -> None:
        async for message in ws:
            ack = json.loads(message)
            if self.on_ack is not None:
                self.on_ack(ack)
            self.acks.append(ack)
            self._acked.set()


def _check_token(connection: ServerConnection, request: Request) -> Response | None:
    if request.headers.get("Authorization") != TOKEN:
        return connection.respond(HTTPStatus.UNAUTHORIZED, "bad token\n")
    return None


@dataclass
class HttpDetector:
    """Serves its signals a page at a time after the cursor a poll names (array pages: the
    cursor is a signal_id; object pages: an opaque `p<index>`); faults to answer with next."""

    signals: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 3
    form: str = "array"  # or "object"
    faults: list[str] = field(default_factory=list)  # "500", "garbage", "slow", "reset"
    raw_pages: list[bytes] = field(default_factory=list)  # served as is, before anything else
    polls: list[dict[str, list[str]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/signals?token=q-5e8d2c"

    def cursors(self) -> list[str | None]:
        return [poll.get("after", [None])[0] for poll in self.polls]

    @contextlib.asynccontextmanager
    async def running(self, port: int = 0) -> AsyncIterator[HttpDetector]:
        server = await asyncio.start_server(self._handle, HOST, port)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode()
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode().strip()) != "":
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            target = request_line.split(" ")[1]
            self.polls.append(parse_qs(urlsplit(target).query))
            self.headers.append(headers)
            if headers.get("authorization") != TOKEN:
                await _respond(writer, 401, b"bad token")
                return
            fault = self.faults.pop(0) if self.faults else None
            if fault == "reset":
                writer.transport.abort()
                return
            if fault == "slow":
                await asyncio.sleep(2.5)  # longer than the timeouts the tests set
            if fault == "500":
                await _respond(writer, 500, b"oops")
            elif fault == "garbage":
                await _respond(writer, 200, b"<html>not json</html>")
            elif self.raw_pages:
                await _respond(writer, 200, self.raw_pages.pop(0))
            else:
                await _respond(writer, 200, self._page(self.polls[-1].get("after", [None])[0]))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _page(self, after: str | None) -> bytes:
        if after is None:
            start = 0
        elif self.form == "object":
            start = int(after.removeprefix("p"))
        else:
            start = 1 + next(i for i, s in enumerate(self.signals) if s["signal_id"] == after)
        items = self.signals[start : start + self.page_size]
        if self.form == "array":
            return json.dumps(items).encode()
        cursor = f"p{start + len(items)}" if items else after
        return json.dumps({"signals": items, "next": cursor}).encode()


async def _respond(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
