"""`rest_poll`: the bot asks a detector's HTTP API for new signals every `interval_s`.

Each request is `GET url?<cursor_param>=<cursor>` (no parameter before the first signal is
recorded). The answer is a page (see `pages.read_page`); its signals are offered one by one,
then the page's cursor (its own, or the last signal's signal_id) is saved with them, so a
restart asks for exactly what comes after the last page recorded. A page with signals is
followed at once by the next request (catching up); an empty one waits the interval.

An unreachable detector, an HTTP error, a timeout or an answer that is not a page is logged once
per outage and retried with backoff; one bad signal in a page is dead-lettered on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

import httpx
from loguru import logger
from pydantic import Field, field_validator

from trading_bot.intake.pages import Page, PageError, item_id, item_text, read_page, twice_named
from trading_bot.intake.remote import (
    OutageLog,
    SecretHeaders,
    check_url,
    plain_headers,
    safe_url,
    source_masker,
    unless_stopping,
)
from trading_bot.intake.source import Backoff, SignalSource, SourceParams, SourceStartError


class RestPollParams(SourceParams):
    url: str = Field(description="the detector's http:// or https:// endpoint")
    interval_s: float = Field(default=5.0, gt=0, le=86_400, description="poll this often")
    cursor_param: str = Field(
        default="after",
        pattern=r"^[A-Za-z0-9_.~\-\[\]]{1,64}$",
        description="query parameter the saved cursor is sent in",
    )
    headers: SecretHeaders = Field(
        default_factory=dict, description="sent with every request (auth); values are secrets"
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="per request")
    max_page_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    retry_max_s: float = Field(default=60.0, gt=0, le=3600, description="longest backoff")
    required_at_start: bool = Field(
        default=True,
        description="false: a detector down at start is retried in the background, not an error",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_url(value, ("http", "https"))


class RestPollSource(SignalSource):
    Params = RestPollParams
    params: RestPollParams

    def __init__(self, params: RestPollParams, name: str) -> None:
        super().__init__(params, name)
        self._client: httpx.AsyncClient | None = None
        self._first: tuple[Page, bytes] | None = None  # fetched by `start`, taken first by `run`
        self._last: bytes | None = None  # digest of the last page offered
        first = min(1.0, params.interval_s, params.retry_max_s)
        self._backoff = Backoff(first, params.retry_max_s)
        self._masker = source_masker(params.url, params.headers)
        self._outage = OutageLog(name, f"polling {safe_url(params.url)}")

    def describe(self) -> str:
        return (
            f"polling {safe_url(self.params.url)} every {self.params.interval_s:g} s "
            f"(cursor in '{self.params.cursor_param}')"
        )

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            headers={"Accept": "application/json", **plain_headers(self.params.headers)},
            timeout=self.params.timeout_s,
        )
        try:
            self._first = await self._fetch()
        except _PollFailed as error:
            if self.params.required_at_start:
                await self.close()
                raise SourceStartError(
                    f"cannot poll the detector at {safe_url(self.params.url)}: {error}"
                ) from None
            self._outage.failed(str(error))

    async def run(self) -> None:
        while not self.stopping.is_set():
            fetched, self._first = self._first, None
            if fetched is None:
                try:
                    fetched = await unless_stopping(self._fetch(), self.stopping)
                except _PollFailed as error:
                    self._outage.failed(str(error))
                    await self._backoff.wait(self.stopping)
                    continue
                if fetched is None:
                    return  # stopped while asking: nothing was taken from this answer
            self._outage.recovered()
            self._backoff.reset()
            if not await self._take(*fetched):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.params.interval_s)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _fetch(self) -> tuple[Page, bytes]:
        """One request: the page and its body's digest. Raises `_PollFailed` (no secrets)."""
        if self._client is None:
            raise RuntimeError(f"intake source {self.name} is not started")
        params = self.params
        cursor = self.channel.cursor
        url = httpx.URL(params.url)  # its own query (a token, a page size) is kept
        if cursor is not None:
            url = url.copy_set_param(params.cursor_param, cursor)
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code == 204:
                    return Page([], None), b""
                if not 200 <= response.status_code < 300:
                    raise _PollFailed(f"HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > params.max_page_bytes:
                        raise _PollFailed(f"page larger than {params.max_page_bytes} bytes")
        except httpx.TimeoutException:
            raise _PollFailed(f"no answer within {params.timeout_s:g} s") from None
        except httpx.HTTPError as error:
            reason = str(error) or type(error).__name__
            raise _PollFailed(
                self._masker.mask(f"{type(error).__name__}: {reason[:200]}")
            ) from None
        try:
            page = read_page(bytes(body))
        except PageError as error:
            raise _PollFailed(self._masker.mask(str(error))) from None
        return page, hashlib.sha256(body).digest()

    async def _take(self, page: Page, digest: bytes) -> bool:
        """Offer the page's signals, then save its cursor with them. True if the cursor moved
        (more may be waiting: ask again at once)."""
        channel = self.channel
        before = channel.cursor
        cursor = page.cursor
        if cursor is None:
            cursor = next((i for i in map(item_id, reversed(page.items)) if i is not None), None)
        moved = cursor is not None and cursor != before
        if not page.items:
            if moved and cursor is not None:  # the detector moved on past nothing for us
                channel.move_cursor(cursor)
            return False  # caught up: wait the interval
        if not moved and digest == self._last:
            return False  # nothing new: the same page again is not offered twice
        where = f"after {before!r}" if before is not None else "first page"
        for number, item in enumerate(page.items, start=1):  # all of it, even when stopping
            await channel.capacity()
            problem = twice_named(item)
            if problem is not None:
                channel.dead_letter(item_text(item), f"{where} #{number}", [problem])
            else:
                channel.offer(item, f"{where} #{number}")
        if moved and cursor is not None:
            channel.move_cursor(cursor)  # committed with the page's signals
        self._last = digest
        await channel.recorded()
        if not moved:
            logger.debug("intake {}: page did not move the cursor {!r}", self.name, before)
        return moved


class _PollFailed(Exception):
    """A poll failed; the message is safe to log."""
