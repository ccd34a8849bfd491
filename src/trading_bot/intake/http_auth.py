"""Authentication of pushed signals: HMAC-signed requests, shared tokens, and refusals.

A signed request carries `X-Timestamp` (epoch seconds) and
`X-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`. The timestamp
must lie within `window_s` of now (either way: a sender's clock may run ahead), and a
signature is taken once: seen again within the window, the request is a replay. Beyond the
window the timestamp check refuses it anyway, so signatures are only remembered that long.
Every comparison with a secret is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

TIMESTAMP_HEADER = "x-timestamp"
SIGNATURE_HEADER = "x-signature"
SIGNATURE_PREFIX = "sha256="
_TIMESTAMP = re.compile(r"^\d{1,12}(\.\d{1,9})?$")
_HEX_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Signature` value for `body` sent at `timestamp` (what senders compute)."""
    message = timestamp.encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Headers that sign `body` now (milliseconds in the timestamp, so two requests with the
    same body in one second still differ and neither is taken for a replay)."""
    timestamp = f"{time.time() if now is None else now:.3f}"
    return {"X-Timestamp": timestamp, "X-Signature": signature(secret, timestamp, body)}


def tokens_match(given: str, expected: str) -> bool:
    """Constant-time comparison of a presented token or secret with the configured one."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass
class Refusal(Exception):
    """A request refused before anything was executed: HTTP status, a short code, and a
    reason a sender can act on (never a secret)."""

    status: int
    error: str
    reason: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "reason": self.reason}


class HmacVerifier:
    """Checks signed requests and remembers used signatures for the replay window."""

    def __init__(
        self, secret: str, window_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = secret.encode()
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[bytes, float] = {}  # signature -> when it may be forgotten

    def check_headers(self, timestamp: str | None, sig: str | None) -> tuple[str, str]:
        """Before reading the body: both headers present, well formed, timestamp in the
        window. Returns (timestamp, hex digest). Raises `Refusal`."""
        if not sig:
            raise Refusal(401, "missing_signature", _SIGNING_HINT)
        if not timestamp:
            raise Refusal(401, "missing_timestamp", "X-Timestamp header is missing; " + _HINT)
        if not _TIMESTAMP.match(timestamp):
            raise Refusal(
                401, "bad_timestamp", "X-Timestamp: expected epoch seconds like 1700000000"
            )
        age = self._clock() - float(timestamp)
        if age > self.window_s:
            raise Refusal(
                401,
                "expired_timestamp",
                f"X-Timestamp is {age:.0f} s old; requests older than {self.window_s:g} s are "
                "refused (sign each request when sending it; check the sender's clock)",
            )
        if -age > self.window_s:
            raise Refusal(
                401,
                "future_timestamp",
                f"X-Timestamp is {-age:.0f} s in the future; more than {self.window_s:g} s "
                "ahead is refused (check the sender's clock)",
            )
        digest = sig.strip()
        if digest[: len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
            raise Refusal(401, "bad_signature", "X-Signature: expected 'sha256=<hex digest>'")
        digest = digest[len(SIGNATURE_PREFIX) :]
        if not _HEX_SIGNATURE.match(digest):
            raise Refusal(
                401, "bad_signature", "X-Signature: expected 64 hex digits after 'sha256='"
            )
        return timestamp, digest.lower()

    def verify(self, timestamp: str, digest: str, body: bytes, *, once: bool = True) -> None:
        """After reading the body: the signature matches and (`once`) was not used before.
        Raises `Refusal`; on success a `once` signature is remembered. Reads that change
        nothing pass `once=False`: two status polls signed in the same second carry the same
        signature, and refusing the second as a replay protected nothing."""
        expected = hmac.new(self._key, timestamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), digest):
            raise Refusal(401, "bad_signature", "X-Signature does not match; " + _HINT)
        if not once:
            return
        key = bytes.fromhex(digest)[:16]
        now = self._clock()
        self._forget_before(now)
        if key in self._seen:
            raise Refusal(
                409,
                "replayed",
                "replayed request: this signature was already used; sign every request "
                "afresh (a new X-Timestamp), retries included",
            )
        self._seen[key] = float(timestamp) + self.window_s

    def _forget_before(self, now: float) -> None:
        # insertion order is nearly expiry order; stopping at the first live entry keeps
        # this cheap (a late-expiring entry only delays forgetting, never a check)
        seen = self._seen
        while seen:
            first = next(iter(seen))
            if seen[first] >= now:
                return
            del seen[first]


_HINT = 'sign HMAC-SHA256(secret, X-Timestamp + "." + raw body) as X-Signature: sha256=<hex>'
_SIGNING_HINT = "X-Signature header is missing; this endpoint takes signed requests only: " + _HINT


class RefusalLog:
    """Logs refused requests without letting a flood of them flood the log: each kind is
    logged at most once per `every_s`, with the count of those not logged."""

    def __init__(self, name: str, every_s: float = 10.0) -> None:
        self._name = name
        self._every_s = every_s
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def note(self, refusal: Refusal, peer: str, what: str) -> None:
        now = time.monotonic()
        kind = refusal.error
        if now - self._last.get(kind, -1e18) < self._every_s:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            return
        self._last[kind] = now
        quiet = self._quiet.pop(kind, 0)
        more = f" ({quiet} more like it not logged)" if quiet else ""
        logger.warning(
            "intake {}: refused {} from {}: {} ({}){}",
            self._name,
            what,
            peer,
            refusal.reason,
            refusal.status,
            more,
        )
