"""TradingView alerts -> the canonical signal.

TradingView cannot sign requests and lets users write any alert message, so this accepts the
usual templates: `ticker` ("BINANCE:BTCUSDT", "BTCUSDT", "BTCUSDT.P") resolved against the
venue's markets, or an explicit `asset`; `action`/`side` (buy, sell, long, short);
`contracts`/`quantity`/`qty`/`size` as the size; `id`/`signal_id`; `timenow`/`time` as
`created_at`; the canonical optional fields as they are. Other keys (`exchange`, `interval`,
`comment`...) are kept under `metadata.tradingview` instead of being refused.

An alert without an id gets one derived from a hash of its content, so TradingView re-sending
an identical alert is a duplicate, not a second trade. The body's `secret` is removed by the
caller before anything here sees it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# canonical field -> alert keys that may carry it, in order of preference
ALIASES: dict[str, tuple[str, ...]] = {
    "signal_id": ("signal_id", "id"),
    "side": ("side", "action"),
    "size": ("size", "contracts", "quantity", "qty"),
    "created_at": ("created_at", "timenow", "time"),
}
PASSED = (
    "notional",
    "target_position",
    "price",
    "order_type",
    "stop_loss",
    "take_profit",
    "ttl_s",
    "expires_at",
    "strategy",
    "source",
    "confidence",
    "metadata",
)
PREFERRED = {"created_at"}  # several given (bar time and fire time): the first wins
SIDES = {"buy": "buy", "sell": "sell", "long": "buy", "short": "sell"}
PERPETUAL_SUFFIXES = (".P", "PERP")

MarketLookup = Callable[[str], object | None]


@dataclass
class MappedAlert:
    """The canonical payload, and for each canonical field the alert key it came from (so a
    validation problem names the key the user wrote)."""

    payload: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)

    def rename(self, problems: list[str]) -> list[str]:
        renamed = []
        for problem in problems:
            name, sep, rest = problem.partition(":")
            key = self.origin.get(name)
            renamed.append(f"{key} ({name}){sep}{rest}" if sep and key and key != name else problem)
        return renamed


def derived_id(alert: Mapping[str, Any]) -> str:
    """A deterministic id for an alert that names none: the same content, the same id."""
    text = json.dumps(alert, sort_keys=True, default=str, separators=(",", ":"))
    return "tv-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def map_alert(alert: Mapping[str, Any], market: MarketLookup) -> MappedAlert | list[str]:
    """Map one alert (secret already removed); the problems, each naming its key, if it
    cannot be a signal."""
    given = {k: v for k, v in alert.items() if v is not None and v != ""}
    problems: list[str] = []
    mapped = MappedAlert({})
    consumed: set[str] = set(PASSED) | {"asset"}
    for name, keys in ALIASES.items():
        present = [k for k in keys if k in given]
        if not present:
            continue
        if name in PREFERRED:
            present = present[:1]
        elif len({json.dumps(given[k], default=str) for k in present}) > 1:
            shown = ", ".join(f"{k}={given[k]!r}" for k in present)
            problems.append(f"{'/'.join(present)}: give one value for the {name} ({shown})")
        mapped.payload[name] = given[present[0]]
        mapped.origin[name] = present[0]
        consumed.update(present)
    for name in PASSED:
        if name in given:
            mapped.payload[name] = given[name]
    _map_side(mapped, problems)
    _map_asset(given, mapped, market, problems)
    if not any(k in mapped.payload for k in ("size", "notional", "target_position")):
        problems.append("contracts: missing (give contracts, quantity, qty, size or notional)")
    if isinstance(mapped.payload.get("order_type"), str):
        mapped.payload["order_type"] = mapped.payload["order_type"].strip().lower()
    if "signal_id" not in mapped.payload:
        mapped.payload["signal_id"] = derived_id(alert)
    # the rest (exchange, interval, the ticker as written...) is kept, not refused
    extra = {k: v for k, v in given.items() if k not in consumed}
    if extra:
        metadata = mapped.payload.get("metadata", {})
        if isinstance(metadata, Mapping):
            mapped.payload["metadata"] = {**metadata, "tradingview": extra}
    return problems or mapped


def _map_side(mapped: MappedAlert, problems: list[str]) -> None:
    side = mapped.payload.get("side")
    if side is None:
        return
    key = mapped.origin.get("side", "side")
    normalized = SIDES.get(side.strip().lower()) if isinstance(side, str) else None
    if normalized is None:
        problems.append(f"{key}: expected buy, sell, long or short, got {side!r}")
    else:
        mapped.payload["side"] = normalized


def _map_asset(
    given: Mapping[str, Any], mapped: MappedAlert, market: MarketLookup, problems: list[str]
) -> None:
    if "asset" in given:
        mapped.payload["asset"] = given["asset"]
        return
    key = next((k for k in ("ticker", "symbol") if k in given), None)
    if key is None:
        problems.append("ticker: missing (give ticker, e.g. BINANCE:BTCUSDT, or asset: BTC/USDT)")
        return
    ticker = given[key]
    if not isinstance(ticker, str):
        problems.append(f"{key}: expected text like 'BINANCE:BTCUSDT', got {ticker!r}")
        return
    found = resolve_ticker(ticker, market)
    if isinstance(found, str):
        mapped.payload["asset"] = found
        mapped.origin["asset"] = key
    elif found:
        problems.append(f"{key}: {ticker!r} is ambiguous on this venue ({', '.join(found)})")
    else:
        problems.append(
            f"{key}: {ticker!r} matches no market of this venue (expected a ticker like "
            "BINANCE:BTCUSDT or BTCUSDT, or give asset: BTC/USDT)"
        )


def resolve_ticker(ticker: str, market: MarketLookup) -> str | list[str]:
    """The venue's unified symbol for a TradingView ticker, or the candidates when none or
    several match. "BINANCE:BTCUSDT" -> "BTC/USDT"; a perpetual ("BTCUSDT.P") only
    ever resolves to the swap, "BTC/USDT:USDT". Tickers carry no separator, so every split is tried against the
    venue's markets."""
    text = ticker.strip().upper()
    if ":" in text and "/" not in text:
        text = text.split(":", 1)[1]
    perpetual = text.endswith(PERPETUAL_SUFFIXES)
    for suffix in PERPETUAL_SUFFIXES:
        text = text.removesuffix(suffix)
    text = text.replace("-", "/").replace("_", "/")
    if "/" in text:
        splits = [tuple(text.split("/", 1))]
    else:
        splits = [(text[:i], text[i:]) for i in range(1, len(text))]
    found: list[str] = []
    for base, quote in splits:
        quote, _, settle = quote.partition(":")
        spot = f"{base}/{quote}"
        swap = f"{base}/{quote}:{settle or quote}"
        # a perpetual is never traded as spot: buying spot BTC on a BTCUSDT.P alert would
        # put the money in a different instrument than the alert's strategy trades
        order = (swap,) if perpetual or settle else (spot, swap)
        match = next((s for s in order if market(s) is not None), None)
        if match is not None:
            found.append(match)
    return found[0] if len(found) == 1 else found
