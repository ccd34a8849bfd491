"""What the sources detectors connect to (webhook, WebSocket server) share: where they listen,
who may connect, and binding the port up front.

The port is bound in the source's `start`, by the bot itself, so "address already in use" or
"cannot assign requested address" stops the bot's start with a message naming host and port,
instead of surfacing later inside a server task.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Sequence

from pydantic import Field, IPvAnyNetwork, SecretStr

from trading_bot.intake.source import SourceParams, SourceStartError

MIN_SECRET_CHARS = 16


class ListenerParams(SourceParams):
    """Settings of a source that listens on a TCP port."""

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address to listen on; without a secret only a loopback address is allowed",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="0: any free port")
    allowed_ips: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="CIDRs allowed to connect (e.g. 52.89.214.238/32); empty: any address",
    )

    @property
    def loopback(self) -> bool:
        return is_loopback_host(self.host)


def optional_secret(value: object) -> object:
    """`${WEBHOOK_SECRET:-}` left empty means "no secret", not a secret of zero length."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def check_secret_length(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
        raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters (a random string)")
    return value


def is_loopback_host(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class IpAllowlist:
    """Which client addresses may connect; empty allows any."""

    def __init__(self, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def allows(self, host: str | None) -> bool:
        if not self._networks:
            return True
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; raises `SourceStartError` saying why not."""
    try:
        sock = socket.create_server((host, port), backlog=2048)
    except socket.gaierror as error:
        raise SourceStartError(f"cannot listen on {host}:{port}: unknown host ({error})") from None
    except OSError as error:
        why = {
            errno.EADDRINUSE: "the port is already in use (another bot or program listens on it)",
            errno.EADDRNOTAVAIL: "this machine has no such address",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
        }.get(error.errno or 0, error.strerror or str(error))
        raise SourceStartError(f"cannot listen on {host}:{port}: {why}") from None
    # Accepted connections inherit this. asyncio only sets it on sockets created with
    # proto=IPPROTO_TCP, which `create_server` does not do: without it a response written in
    # two parts waits ~40 ms for the client's delayed ACK (Nagle), on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def bound_port(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


def url_host(host: str) -> str:
    """The host as it appears in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
