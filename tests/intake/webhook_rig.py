"""A running webhook on a live paper bot, and signed requests to it over real HTTP."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.intake.rig import LiveRig, live_bot
from trading_bot.intake.http_auth import signed_headers
from trading_bot.intake.webhook import WebhookParams, WebhookSource

SECRET = "test-hmac-secret-0123456789"
TV_SECRET = "tradingview-secret-abcdef"
FAST_FILLS = {"replay_speed": 600, "horizon_hours": 1}  # a candle every 100 ms: fills come fast


def signal(signal_id: str = "x1", **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "signal_id": signal_id,
        "asset": "BTC/USDT",
        "side": "buy",
        "size": "0.01",
    }
    payload.update(fields)
    return payload


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


@dataclass
class Hook:
    rig: LiveRig
    source: WebhookSource
    http: httpx.AsyncClient

    async def post(
        self, payload: Any, *, secret: str | None = SECRET, path: str = "/signals", **kw: Any
    ) -> httpx.Response:
        """POST, signed with `secret` (None: unsigned)."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        headers = dict(kw.pop("headers", {}))
        if secret is not None:
            headers.update(signed_headers(secret, body))
        return await self.http.post(path, content=body, headers=headers, **kw)

    async def status(self, signal_id: str, source: str | None = None) -> httpx.Response:
        params = {"source": source} if source is not None else {}
        headers = signed_headers(SECRET, b"") if self.source.params.hmac_secret else {}
        return await self.http.get(f"/signals/{signal_id}", params=params, headers=headers)

    def snapshot(self) -> tuple[set[tuple[str, str]], set[str]]:
        """The signals recorded and the orders the venue took."""
        self.rig.running.journal.flush()
        return set(self.rig.signals()), set(self.rig.orders_at_venue())

    def executed_nothing_new(self, before: tuple[set[tuple[str, str]], set[str]]) -> bool:
        return self.snapshot() == before


@contextlib.asynccontextmanager
async def running_webhook(tmp_path: Path, **params: Any) -> AsyncIterator[Hook]:
    """A paper bot with one webhook (signed with SECRET unless params say otherwise)."""
    params.setdefault("hmac_secret", SECRET)
    params.setdefault("port", 0)
    source = WebhookSource(WebhookParams(**params), "webhook")
    async with (
        live_bot(tmp_path, paper=FAST_FILLS) as rig,
        rig.serving(source),
        httpx.AsyncClient(base_url=source.url, timeout=10) as http,
    ):
        yield Hook(rig, source, http)
