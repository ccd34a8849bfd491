"""A TCP proxy on 127.0.0.1 that a test puts between a source and its broker, to break the line
where a broker gives no handle to do so (nats-server here has no monitoring port): `drop_all`
closes every live connection at once, `pause` holds bytes (both ways, or only those from the
client: it then still receives but is not heard) until `resume`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

HOST = "127.0.0.1"


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # accepted so far
        self._live: set[asyncio.StreamWriter] = set()
        self._up = asyncio.Event()  # client -> target flows
        self._down = asyncio.Event()  # target -> client flows
        self._up.set()
        self._down.set()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @contextlib.asynccontextmanager
    async def running(self, port: int = 0) -> AsyncIterator[TcpProxy]:
        """Listen on `port` (0: any free one) until the block ends."""
        server = await asyncio.start_server(self._handle, HOST, port)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            self.drop_all()
            await server.wait_closed()

    def drop_all(self) -> None:
        """Close every live connection, both sides, as a broken network would."""
        for writer in list(self._live):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._live.clear()

    def pause(self, *, downstream: bool = True) -> None:
        """Stop forwarding what the client sends (and, with `downstream`, what it is sent);
        connections stay open, the bytes wait."""
        self._up.clear()
        if downstream:
            self._down.clear()

    def resume(self) -> None:
        self._up.set()
        self._down.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._live |= {writer, up_writer}
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer, self._up)),
            asyncio.create_task(self._pipe(up_reader, writer, self._down)),
        ]
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for pipe in pipes:
            pipe.cancel()
        for end in (writer, up_writer):
            self._live.discard(end)
            end.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(65536):
                await flowing.wait()
                writer.write(chunk)
                await writer.drain()
