"""The webhook's HTTP routes (FastAPI on the bot's own event loop).

Each request is checked in order of cost, so what is refused costs least: client address,
the signature headers, the body size (Content-Length before reading, then the streamed
size), the signature over the raw body, JSON, then the shared intake path (fields, asset,
rate limit, dedup). Only a signal that got through all of them is executed, and the answer
(202, or 200 for a duplicate) is sent once it is durably recorded.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from trading_bot.intake.gate import IntakeChannel, IntakeOutcome, IntakeResult
from trading_bot.intake.http_auth import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HmacVerifier,
    Refusal,
    RefusalLog,
    tokens_match,
)
from trading_bot.intake.listener import IpAllowlist
from trading_bot.intake.parsing import PayloadError, load_json, validate_signal
from trading_bot.intake.tradingview import map_alert

ROUTES = "POST /signals, POST /signals/tradingview, GET /signals/{signal_id}?source="
NO_HMAC = (
    "signed requests are required here, but this webhook has no hmac_secret configured "
    "(set intake params hmac_secret)"
)


class WebhookRoutes:
    """Request handling for one webhook source. `open_access`: the webhook has no secret at
    all (allowed on a loopback host only), so unsigned requests are taken; with any secret
    configured, a route whose credential is missing refuses every request instead."""

    def __init__(
        self,
        channel: IntakeChannel,
        *,
        hmac: HmacVerifier | None,
        tradingview_secret: str | None,
        allowlist: IpAllowlist,
        open_access: bool,
        default_source: str,
    ) -> None:
        self.channel = channel
        self.hmac = hmac
        self.tradingview_secret = tradingview_secret
        self.allowlist = allowlist
        self.open = open_access
        self.default_source = default_source
        self.max_bytes = channel.max_bytes
        self.refusals = RefusalLog(channel.name)
        self.market = channel.gate.kernel.context.market

    def app(self) -> ASGIApp:
        """The ASGI app: the FastAPI routes, with the hot path (POST /signals) dispatched
        straight to its handler. FastAPI's routing and middleware cost more per request
        than everything the webhook itself does; the handler and its answers are the same."""
        routes = self._routes()
        post_signal, refused = self.post_signal, self._refused

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if (
                scope["type"] == "http"
                and scope["path"] == "/signals"
                and scope["method"] == "POST"
            ):
                request = Request(scope, receive)
                try:
                    response = await post_signal(request)
                except Refusal as refusal:
                    response = await refused(request, refusal)
                await response(scope, receive, send)
            else:
                await routes(scope, receive, send)

        return app

    def _routes(self) -> FastAPI:
        """Endpoints are module functions that find this object on `app.state`: FastAPI
        caches facts about each endpoint in process-wide caches, and a bound method there
        would keep this webhook, and through it the whole bot, alive after it stopped."""
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.state.webhook_routes = self
        app.add_api_route("/signals", _post_signal, methods=["POST"])
        app.add_api_route("/signals/tradingview", _post_tradingview, methods=["POST"])
        app.add_api_route("/signals/{signal_id:path}", _get_status, methods=["GET"])
        app.add_exception_handler(Refusal, self._refused)  # type: ignore[arg-type]
        app.add_exception_handler(HTTPException, _no_route)  # type: ignore[arg-type]
        return app

    # -- routes ---------------------------------------------------------------------------------

    async def post_signal(self, request: Request) -> Response:
        """The canonical JSON signal, HMAC-signed (unless open)."""
        self._screen(request)
        signed = self._signature_headers(request)
        body = await self._read_body(request)
        if signed is not None and self.hmac is not None:
            self.hmac.verify(*signed, body)
        location = _location(request)
        try:
            payload = load_json(body, self.max_bytes)
        except PayloadError as error:
            self.channel.dead_letter(body.decode("utf-8", "replace"), location, error.problems)
            raise Refusal(400, "malformed_json", "; ".join(error.problems)) from None
        return await self._answer(self.channel.offer(payload, location))

    async def post_tradingview(self, request: Request) -> Response:
        """A TradingView alert: signed, or with the shared `secret` in its JSON body."""
        self._screen(request)
        signed = None
        if request.headers.get(SIGNATURE_HEADER) or self.tradingview_secret is None:
            signed = self._signature_headers(request)
        body = await self._read_body(request)
        if signed is not None and self.hmac is not None:
            self.hmac.verify(*signed, body)
        try:
            alert = load_json(body, self.max_bytes)
        except PayloadError as error:  # not kept: it may hold the secret, unremovable
            raise Refusal(400, "malformed_json", "; ".join(error.problems)) from None
        if not isinstance(alert, dict):
            raise Refusal(
                400, "malformed_json", f"expected a JSON object, got {type(alert).__name__}"
            )
        secret = alert.pop("secret", None)  # before anything is stored or logged
        if self.tradingview_secret:  # nor may it ride along in another field (a comment)
            alert = _masked(alert, self.tradingview_secret)
        if signed is None and self.tradingview_secret is not None:
            if secret is None:
                raise Refusal(401, "missing_secret", "secret: missing from the alert body")
            if not isinstance(secret, str) or not tokens_match(secret, self.tradingview_secret):
                raise Refusal(401, "bad_secret", "secret: does not match")
        location = _location(request)
        mapped = map_alert(alert, self.market)
        if isinstance(mapped, list):
            return self._invalid(alert, location, mapped)
        payload = mapped.payload
        if self.channel.default_source and "source" not in payload:
            payload["source"] = self.channel.default_source
        signal = validate_signal(payload)
        if isinstance(signal, list):
            return self._invalid(alert, location, mapped.rename(signal))
        return await self._answer(self.channel.offer(signal, location))

    async def get_status(self, request: Request) -> Response:
        """What became of a signal: status, rejection reason, orders."""
        self._screen(request)
        signed = self._signature_headers(request)
        if signed is not None and self.hmac is not None:
            self.hmac.verify(*signed, b"", once=False)
        signal_id = request.path_params["signal_id"]
        source = request.query_params.get("source", self.default_source)
        status = self.channel.gate.signal_status(source, signal_id)
        if status is None:
            raise Refusal(404, "not_found", f"no signal {signal_id!r} from source {source!r}")
        return JSONResponse(status)

    # -- checks ---------------------------------------------------------------------------------

    def _screen(self, request: Request) -> None:
        if self.allowlist and not self.allowlist.allows(_peer(request)):
            raise Refusal(403, "ip_not_allowed", f"client address {_peer(request)} not allowed")

    def _signature_headers(self, request: Request) -> tuple[str, str] | None:
        """The checked signature headers; None when this webhook is open and unsigned."""
        if self.hmac is None:
            if self.open and not request.headers.get(SIGNATURE_HEADER):
                return None
            raise Refusal(401, "signing_not_configured", NO_HMAC)
        headers = request.headers
        return self.hmac.check_headers(headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER))

    async def _read_body(self, request: Request) -> bytes:
        """The raw body, refused with 413 as soon as it is known to be too large."""
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise Refusal(400, "bad_content_length", "Content-Length: expected a byte count")
            if int(length) > self.max_bytes:
                raise self._too_large(int(length))
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_large(size, streamed=True)
                chunks.append(chunk)
        except ClientDisconnect:
            # nobody to answer: a refusal like the others (counted, its log rate-limited),
            # not an unhandled error logged at ERROR with a traceback for each one
            raise Refusal(
                400, "client_disconnected", f"the client left after {size} bytes of the body"
            ) from None
        return b"".join(chunks)

    def _too_large(self, size: int, *, streamed: bool = False) -> Refusal:
        what = f"more than {size - 1}" if streamed else str(size)
        # what the sender still sends is discarded by the server as it arrives, never kept
        reason = f"body is {what} bytes; the limit is {self.max_bytes} (max_message_bytes)"
        return Refusal(413, "too_large", reason)

    # -- answers --------------------------------------------------------------------------------

    async def _answer(self, result: IntakeResult) -> Response:
        outcome = result.outcome
        if outcome is IntakeOutcome.ACCEPTED or outcome is IntakeOutcome.DUPLICATE:
            await self.channel.recorded()
            body = result.to_dict()
            url = status_url(result.signal_id or "", result.source or "")
            body["status_url"] = url
            code = 202 if outcome is IntakeOutcome.ACCEPTED else 200
            return JSONResponse(body, code, headers={"Location": url})
        if outcome is IntakeOutcome.RATE_LIMITED:
            rate = self.channel.rate
            retry_s = max(1, math.ceil((rate.wait_ms() if rate else 1000) / 1000))
            reason = "; ".join(result.problems) + f"; retry after {retry_s} s"
            raise Refusal(429, "rate_limited", reason, {"Retry-After": str(retry_s)})
        if outcome is IntakeOutcome.PAUSED:
            reason = "; ".join(result.problems) + f"; retry after {PAUSED_RETRY_S} s"
            raise Refusal(503, "paused", reason, {"Retry-After": str(PAUSED_RETRY_S)})
        return _unprocessable(list(result.problems))

    def _invalid(self, alert: dict[str, Any], location: str, problems: list[str]) -> Response:
        raw = json.dumps(alert, default=str, ensure_ascii=False)
        result = self.channel.dead_letter(raw, location, problems)
        return _unprocessable(list(result.problems))

    async def _refused(self, request: Request, refusal: Refusal) -> Response:
        if refusal.status >= 500 or refusal.error not in _QUIET:
            self.refusals.note(refusal, _peer(request), f"{request.method} {request.scope['path']}")
        self.channel.counts[f"refused {refusal.error}"] += 1
        return JSONResponse(refusal.body(), refusal.status, headers=refusal.headers or None)


PAUSED_RETRY_S = 5
_QUIET = {"not_found", "malformed_json"}  # ordinary answers, or already a logged dead letter


def _masked(value: Any, secret: str) -> Any:
    """`value` with every occurrence of `secret` in its strings (keys included) as ***."""
    if isinstance(value, str):
        return value.replace(secret, "***")
    if isinstance(value, dict):
        return {_masked(k, secret): _masked(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item, secret) for item in value]
    return value


def status_url(signal_id: str, source: str) -> str:
    return f"/signals/{quote(signal_id, safe='')}?source={quote(source, safe='')}"


def _unprocessable(problems: list[str]) -> Response:
    reason = "; ".join(problems) or "not a valid signal"
    body = {"error": "invalid_signal", "reason": reason, "problems": problems}
    return JSONResponse(body, 422)


def _peer(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _location(request: Request) -> str:
    return f"{_peer(request)} {request.scope['path']}"


async def _no_route(request: Request, error: HTTPException) -> Response:
    error_code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "bad_request")
    reason = f"{request.method} {request.url.path}: {error.detail}; routes: {ROUTES}"
    return JSONResponse({"error": error_code, "reason": reason}, error.status_code)


def _routes_of(request: Request) -> WebhookRoutes:
    routes: WebhookRoutes = request.app.state.webhook_routes
    return routes


async def _post_signal(request: Request) -> Response:
    return await _routes_of(request).post_signal(request)


async def _post_tradingview(request: Request) -> Response:
    return await _routes_of(request).post_tradingview(request)


async def _get_status(request: Request) -> Response:
    return await _routes_of(request).get_status(request)
