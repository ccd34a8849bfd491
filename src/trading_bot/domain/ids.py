"""Deterministic identifiers: the same signal always maps to the same client order id."""

from __future__ import annotations

import base64
import hashlib

_PREFIX = "tb"


def client_order_id(source: str, signal_id: str, leg: int = 0) -> str:
    """Client order id for leg `leg` of the signal (`source`, `signal_id`).

    A pure function of its inputs so a signal replayed after a crash or a retry maps to the
    order already sent, never to a new one. 120 bits of BLAKE2b keep collisions out of reach;
    the result (at most 32 characters of `[a-z0-9-]`) fits every major venue's limit
    (Binance: 36).
    """
    if leg < 0:
        raise ValueError(f"leg must be >= 0, got {leg}")
    digest = hashlib.blake2b(f"{source}\x1f{signal_id}".encode(), digest_size=15).digest()
    return f"{_PREFIX}-{base64.b32encode(digest).decode().lower()}-{leg}"
