"""`webhook`: detectors (and TradingView) POST signals to the bot over HTTP.

uvicorn serves the routes (see `webhook_routes`) inside the bot's own event loop, on a port
the bot binds in `start`, so a port in use stops the start with a clear message. Stopping
lets requests in flight finish and answer before the bot flushes and exits.

A webhook reachable from other machines must authenticate: without `hmac_secret` or
`tradingview_secret` it only starts on a loopback host, and says so in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from loguru import logger
from pydantic import Field, SecretStr, field_validator, model_validator

from trading_bot.intake.http_auth import HmacVerifier
from trading_bot.intake.listener import (
    IpAllowlist,
    ListenerParams,
    bind_listener,
    bound_port,
    check_secret_length,
    optional_secret,
    url_host,
)
from trading_bot.intake.source import SignalSource, SourceStartError
from trading_bot.intake.webhook_routes import WebhookRoutes

GRACEFUL_STOP_S = 5.0


class WebhookParams(ListenerParams):
    hmac_secret: SecretStr | None = Field(
        default=None,
        description="signs requests: X-Signature = sha256=HMAC-SHA256(secret, ts + '.' + body)",
    )
    tradingview_secret: SecretStr | None = Field(
        default=None,
        description="POST /signals/tradingview may carry this as `secret` in its JSON body",
    )
    replay_window_s: float = Field(
        default=300, ge=1, le=3600, description="X-Timestamp may be this far off; replays refused"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies whose X-Forwarded-For names the client (for allowed_ips)",
    )

    @field_validator("hmac_secret", "tradingview_secret", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return optional_secret(value)

    @field_validator("hmac_secret", "tradingview_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        return check_secret_length(value)

    @model_validator(mode="after")
    def _authenticated_unless_loopback(self) -> WebhookParams:
        if self.hmac_secret is None and self.tradingview_secret is None and not self.loopback:
            raise ValueError(
                f"a webhook on {self.host!r} (not a loopback address) needs hmac_secret or "
                "tradingview_secret, e.g. hmac_secret: ${WEBHOOK_SECRET}; without a secret "
                "only host 127.0.0.1 is allowed"
            )
        return self

    @property
    def open_access(self) -> bool:
        return self.hmac_secret is None and self.tradingview_secret is None


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside the bot's loop. The bot owns SIGINT/SIGTERM: uvicorn's own capture
    would replace the bot's handlers (and re-raise the signal after stopping)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebhookSource(SignalSource):
    Params = WebhookParams
    params: WebhookParams

    def __init__(self, params: WebhookParams, name: str) -> None:  # type: ignore[override]
        super().__init__(params, name)
        self.port = params.port
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{url_host(self.params.host)}:{self.port}"

    def describe(self) -> str:
        params = self.params
        auth = [
            name
            for name, on in (
                ("HMAC-signed requests", params.hmac_secret is not None),
                ("TradingView body secret", params.tradingview_secret is not None),
            )
            if on
        ]
        allow = f", {len(params.allowed_ips)} allowed network(s)" if params.allowed_ips else ""
        how = " and ".join(auth) or "NO authentication (loopback only)"
        return f"webhook on {self.url} (POST /signals, /signals/tradingview; {how}{allow})"

    async def start(self) -> None:
        params = self.params
        if params.open_access:
            if not params.loopback:  # the params refuse this already; never serve it open
                raise SourceStartError(f"a webhook on {params.host} needs a secret")
            logger.warning(
                "intake {}: the webhook has no secret: anyone on this machine can send "
                "signals (fine for local tests; set hmac_secret for anything else)",
                self.name,
            )
        await self._launch()

    async def _launch(self) -> None:
        params = self.params
        if self._socket is not None:  # a relaunch after a failure: free the port first
            self._socket.close()
        self._socket = bind_listener(params.host, params.port)
        self.port = bound_port(self._socket)
        secret = params.hmac_secret
        tradingview = params.tradingview_secret
        routes = WebhookRoutes(
            self.channel,
            hmac=HmacVerifier(secret.get_secret_value(), params.replay_window_s)
            if secret is not None
            else None,
            tradingview_secret=tradingview.get_secret_value() if tradingview else None,
            allowlist=IpAllowlist(params.allowed_ips),
            open_access=params.open_access,
            default_source=params.source or "",
        )
        config = uvicorn.Config(
            routes.app(),
            http="httptools",
            ws="none",
            lifespan="off",
            access_log=False,
            log_level="warning",
            log_config=None,
            server_header=False,
            proxy_headers=bool(params.trusted_proxies),
            forwarded_allow_ips=params.trusted_proxies or None,
            timeout_graceful_shutdown=int(GRACEFUL_STOP_S),
            backlog=2048,
        )
        server = self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(server.serve(sockets=[self._socket]), name=self.name)
        while not server.started:
            if self._task.done():
                error = self._task.exception()
                raise SourceStartError(f"the HTTP server did not start: {error!r}")
            await asyncio.sleep(0.005)

    async def run(self) -> None:
        if self._task is None or self._task.done():
            await self._launch()  # restarted by the supervisor after a failure
        task = self._task
        assert task is not None
        stop = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not self.stopping.is_set():
            error = task.exception() if not task.cancelled() else None
            raise RuntimeError(f"the webhook's HTTP server stopped unexpectedly: {error!r}")
        await self._stop_server()

    async def close(self) -> None:
        await self._stop_server()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def _stop_server(self) -> None:
        """Stop taking connections, let requests in flight answer, then end."""
        server, task = self._server, self._task
        if server is None or task is None or task.done():
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), GRACEFUL_STOP_S + 2)
        except TimeoutError:
            server.force_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2)
