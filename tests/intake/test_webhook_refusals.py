"""Every bad request gets a 4xx with a JSON reason naming what is wrong; nothing is executed,
and the webhook goes on serving the next good request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from loguru import logger

from tests.intake.rig import eventually
from tests.intake.webhook_rig import SECRET, Hook, encode, running_webhook, signal
from trading_bot.intake.http_auth import signature, signed_headers

Request = Callable[[Hook], Awaitable[httpx.Response]]


def _signed_at(timestamp: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Timestamp": timestamp, "X-Signature": signature(secret, timestamp, body)}


async def _missing_signature(hook: Hook) -> httpx.Response:
    return await hook.post(signal("bad"), secret=None)


async def _wrong_secret(hook: Hook) -> httpx.Response:
    return await hook.post(signal("bad"), secret="another-secret-0123456789")


async def _signature_of_another_body(hook: Hook) -> httpx.Response:
    headers = signed_headers(SECRET, encode(signal("other")))
    return await hook.post(signal("bad"), secret=None, headers=headers)


async def _malformed_signature(hook: Hook) -> httpx.Response:
    headers = {"X-Timestamp": f"{time.time():.0f}", "X-Signature": "md5=abc"}
    return await hook.post(signal("bad"), secret=None, headers=headers)


async def _expired_timestamp(hook: Hook) -> httpx.Response:
    body = encode(signal("bad"))
    return await hook.post(body, secret=None, headers=_signed_at(f"{time.time() - 400:.0f}", body))


async def _future_timestamp(hook: Hook) -> httpx.Response:
    body = encode(signal("bad"))
    return await hook.post(body, secret=None, headers=_signed_at(f"{time.time() + 400:.0f}", body))


async def _garbled_timestamp(hook: Hook) -> httpx.Response:
    body = encode(signal("bad"))
    return await hook.post(body, secret=None, headers=_signed_at("yesterday", body))


async def _streamed_too_large(hook: Hook) -> httpx.Response:
    body = b'{"signal_id": "' + b"x" * 100_000 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    headers = signed_headers(SECRET, body)
    return await hook.http.post("/signals", content=chunks(), headers=headers)


async def _malformed_json(hook: Hook) -> httpx.Response:
    return await hook.post(b'{"signal_id": "bad", "asset": ')


async def _wrong_types(hook: Hook) -> httpx.Response:
    return await hook.post(signal("bad", side="up", size="-1", confidence="high"))


async def _unknown_asset(hook: Hook) -> httpx.Response:
    return await hook.post(signal("bad", asset="ETH/USDT"))


CASES: dict[str, tuple[Request, int, str, str]] = {
    "missing signature": (_missing_signature, 401, "missing_signature", "X-Signature header"),
    "wrong secret": (_wrong_secret, 401, "bad_signature", "does not match"),
    "signature of another body": (_signature_of_another_body, 401, "bad_signature", "match"),
    "malformed signature": (_malformed_signature, 401, "bad_signature", "sha256=<hex"),
    "expired timestamp": (_expired_timestamp, 401, "expired_timestamp", "s old"),
    "timestamp in the future": (_future_timestamp, 401, "future_timestamp", "in the future"),
    "garbled timestamp": (_garbled_timestamp, 401, "bad_timestamp", "epoch seconds"),
    "streamed body too large": (_streamed_too_large, 413, "too_large", "limit is 65536"),
    "malformed JSON": (_malformed_json, 400, "malformed_json", "not valid JSON"),
    "wrong types": (_wrong_types, 422, "invalid_signal", "side:"),
    "unknown asset": (_unknown_asset, 422, "invalid_signal", "ETH/USDT is not traded"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_request_is_refused_with_a_reason_and_executes_nothing(
    tmp_path: Path, case: str
) -> None:
    send, status, error, reason = CASES[case]
    async with running_webhook(tmp_path) as hook:
        before = hook.snapshot()
        response = await send(hook)
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"] == error
        assert reason in body["reason"]
        assert SECRET not in response.text
        await asyncio.sleep(0.1)
        assert hook.executed_nothing_new(before)
        assert (await hook.post(signal("good"))).status_code == 202


async def test_wrong_types_are_reported_field_by_field(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        response = await hook.post(signal("bad", side="up", size="-1", confidence="high"))
        problems = response.json()["problems"]
        assert {p.split(":")[0] for p in problems} == {"side", "size", "confidence"}
        await eventually(lambda: len(hook.rig.dead_letters()) == 1)
        assert hook.rig.dead_letters()[0]["location"] == "webhook:127.0.0.1 /signals"


async def test_replayed_request_is_refused_as_replayed(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:
        body = encode(signal("r1"))
        headers = signed_headers(SECRET, body)
        assert (await hook.post(body, secret=None, headers=headers)).status_code == 202
        before = hook.snapshot()
        replay = await hook.post(body, secret=None, headers=headers)
        assert replay.status_code == 409
        assert replay.json()["error"] == "replayed"
        assert "replayed request" in replay.json()["reason"]
        assert hook.executed_nothing_new(before)
        assert hook.rig.duplicates() == 0  # refused before it reached the bot
        assert (await hook.post(signal("r2"))).status_code == 202


async def test_oversized_body_is_refused_from_its_content_length_before_it_is_sent(
    tmp_path: Path,
) -> None:
    async with running_webhook(tmp_path) as hook:
        reader, writer = await asyncio.open_connection("127.0.0.1", hook.source.port)
        headers = signed_headers(SECRET, b"never sent")
        head = (
            "POST /signals HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
            f"X-Timestamp: {headers['X-Timestamp']}\r\nX-Signature: {headers['X-Signature']}\r\n"
            "Content-Length: 50000000\r\n\r\n"
        )
        writer.write(head.encode())  # the headers only: the answer must not wait for the body
        await writer.drain()
        head_lines = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *header_lines = head_lines.decode().strip().split("\r\n")
        assert status_line == "HTTP/1.1 413 Request Entity Too Large"
        length = next(
            int(h.split(":")[1]) for h in header_lines if h.lower().startswith("content-length")
        )
        body = json.loads(await reader.readexactly(length))
        writer.close()
        assert body["error"] == "too_large"
        assert "body is 50000000 bytes; the limit is 65536" in body["reason"]
        assert (await hook.post(signal("after"))).status_code == 202


async def test_address_outside_the_allowlist_is_refused_403(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, allowed_ips=["10.0.0.0/8"]) as hook:
        before = hook.snapshot()
        response = await hook.post(signal("ip"))
        assert response.status_code == 403
        assert response.json() == {
            "error": "ip_not_allowed",
            "reason": "client address 127.0.0.1 not allowed",
        }
        assert hook.executed_nothing_new(before)


async def test_allowlist_reads_the_client_address_from_a_trusted_proxy(tmp_path: Path) -> None:
    params = {"allowed_ips": ["203.0.113.0/24"], "trusted_proxies": ["127.0.0.1"]}
    async with running_webhook(tmp_path, **params) as hook:
        via_proxy = {"X-Forwarded-For": "203.0.113.7"}
        assert (await hook.post(signal("p1"), headers=via_proxy)).status_code == 202
        elsewhere = {"X-Forwarded-For": "198.51.100.1"}
        assert (await hook.post(signal("p2"), headers=elsewhere)).status_code == 403


async def test_over_the_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, rate_limit_per_s=0.5, rate_limit_burst=1) as hook:
        assert (await hook.post(signal("q1"))).status_code == 202
        before = hook.snapshot()
        limited = await hook.post(signal("q2"))
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert "rate limit of 0.5 signals/s" in limited.json()["reason"]
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert hook.executed_nothing_new(before)
        await asyncio.sleep(int(limited.headers["retry-after"]))
        assert (await hook.post(signal("q2"))).status_code == 202


async def test_clients_leaving_mid_body_are_refusals_logged_once_not_errors(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message), level="WARNING", format="{message}")
    try:
        async with running_webhook(tmp_path) as hook:
            body = encode(signal("left"))
            headers = signed_headers(SECRET, body)
            head = (
                "POST /signals HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                f"X-Timestamp: {headers['X-Timestamp']}\r\n"
                f"X-Signature: {headers['X-Signature']}\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            for _ in range(20):
                _, writer = await asyncio.open_connection("127.0.0.1", hook.source.port)
                writer.write(head.encode() + body[: len(body) // 2])  # then the client leaves
                await writer.drain()
                writer.close()
                await writer.wait_closed()
            await eventually(
                lambda: hook.source.channel.counts["refused client_disconnected"] == 20
            )
            assert (await hook.post(signal("after"))).status_code == 202
    finally:
        logger.remove(sink)
    left = [line for line in lines if "the client left after" in line]
    assert len(left) == 1  # one line for the 20, not an ERROR with a traceback each
    assert not [line for line in lines if "Exception in ASGI application" in line]
