"""Binance request signing, checked as Binance checks it.

A signed request carries the API key in `X-MBX-APIKEY` and `signature` = hex HMAC-SHA256,
keyed by the API secret, of the query string followed by the body (as sent, without the
`signature` parameter itself). `timestamp` must fall within `recvWindow` (default 5000 ms)
behind the server's clock and at most 1000 ms ahead of it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qsl

from trading_bot.engine.clock import Clock
from trading_bot.venues.server import errors as E
from trading_bot.venues.server.errors import BinanceError

_SIGNATURE = re.compile(r"(?:^|&)signature=([^&]*)")


def parse_params(query: str, body: str) -> dict[str, str]:
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(parse_qsl(body, keep_blank_values=True))
    return params


def _split_signature(text: str) -> tuple[str, str | None]:
    match = _SIGNATURE.search(text)
    if match is None:
        return text, None
    rest = text[: match.start()] + text[match.end() :]
    if match.start() == 0 and rest.startswith("&"):
        rest = rest[1:]
    return rest, match.group(1)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class RequestSigning:
    def __init__(self, api_key: str, api_secret: str, clock: Clock, max_recv_window_ms: int):
        self.api_key = api_key
        self.api_secret = api_secret
        self._clock = clock
        self._max_recv_window = max_recv_window_ms

    def check_key(self, key: str | None) -> None:
        if not key:
            raise BinanceError(-2014, E.API_KEY_FORMAT, 401)
        if not hmac.compare_digest(key, self.api_key):
            raise BinanceError(-2015, E.BAD_API_KEY, 401)

    def verify(self, key: str | None, query: str, body: str) -> dict[str, str]:
        """The request's parameters once its key, signature and timestamp are right."""
        self.check_key(key)
        query_part, from_query = _split_signature(query)
        body_part, from_body = _split_signature(body)
        signature = from_query or from_body
        if not signature:
            raise E.missing("signature")
        expected = sign(self.api_secret, query_part + body_part)
        if not hmac.compare_digest(signature.lower(), expected):
            raise BinanceError(-1022, E.BAD_SIGNATURE)
        params = parse_params(query_part, body_part)
        self.check_timestamp(params)
        return params

    def verify_ws(self, params: dict[str, object]) -> None:
        """A WebSocket API request signed over its sorted parameters (`apiKey` included)."""
        key = params.get("apiKey")
        self.check_key(str(key) if key is not None else None)
        signature = params.get("signature")
        if not signature:
            raise E.missing("signature")
        payload = "&".join(
            f"{name}={value}" for name, value in sorted(params.items()) if name != "signature"
        )
        if not hmac.compare_digest(str(signature).lower(), sign(self.api_secret, payload)):
            raise BinanceError(-1022, E.BAD_SIGNATURE)
        self.check_timestamp({k: str(v) for k, v in params.items()})

    def check_timestamp(self, params: dict[str, str]) -> None:
        try:
            timestamp = int(params["timestamp"])
        except (KeyError, ValueError):
            raise E.missing("timestamp") from None
        try:
            window = int(params.get("recvWindow") or 5000)
        except ValueError:
            raise E.illegal("recvWindow") from None
        if window > self._max_recv_window or window <= 0:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        now = self._clock.now_ms()
        if timestamp >= now + 1000:
            raise BinanceError(-1021, E.AHEAD_OF_SERVER)
        if now - timestamp > window:
            raise BinanceError(-1021, E.OUTSIDE_RECV_WINDOW)
