"""TradingView alerts: typical templates map to the canonical signal; the body secret
authenticates them and is never kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.intake.rig import eventually
from tests.intake.webhook_rig import SECRET, TV_SECRET, running_webhook
from trading_bot.intake.tradingview import MappedAlert, derived_id, map_alert, resolve_ticker

MARKETS = {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/BTC"}


def market(symbol: str) -> object | None:
    return symbol if symbol in MARKETS else None


def mapped(alert: dict[str, Any]) -> dict[str, Any]:
    result = map_alert(alert, market)
    assert isinstance(result, MappedAlert), result
    return result.payload


@pytest.mark.parametrize(
    ("ticker", "symbol"),
    [
        ("BINANCE:BTCUSDT", "BTC/USDT"),
        ("BTCUSDT", "BTC/USDT"),
        ("btcusdt", "BTC/USDT"),
        ("ETHBTC", "ETH/BTC"),
        ("BTC/USDT", "BTC/USDT"),
        ("BTC-USDT", "BTC/USDT"),
        ("BINANCE:BTCUSDT.P", "BTC/USDT:USDT"),
        ("BYBIT:BTCUSDTPERP", "BTC/USDT:USDT"),
    ],
)
def test_ticker_resolves_to_the_venues_unified_symbol(ticker: str, symbol: str) -> None:
    assert resolve_ticker(ticker, market) == symbol


def test_ticker_matching_no_market_or_several_is_refused_by_name() -> None:
    assert resolve_ticker("BINANCE:DOGEUSDT", market) == []
    assert resolve_ticker("ABC", _both) == ["A/BC", "AB/C"]
    problems = map_alert({"ticker": "BINANCE:DOGEUSDT", "action": "buy", "contracts": 1}, market)
    assert problems == [
        "ticker: 'BINANCE:DOGEUSDT' matches no market of this venue (expected a ticker like "
        "BINANCE:BTCUSDT or BTCUSDT, or give asset: BTC/USDT)"
    ]


def test_perpetual_ticker_never_resolves_to_the_spot_market() -> None:
    def spot_only(symbol: str) -> object | None:
        return symbol if symbol == "BTC/USDT" else None

    assert resolve_ticker("BINANCE:BTCUSDT.P", spot_only) == []
    assert resolve_ticker("BTCUSDTPERP", spot_only) == []
    assert resolve_ticker("BTCUSDT", spot_only) == "BTC/USDT"


def _both(symbol: str) -> object | None:
    return symbol if symbol in {"A/BC", "AB/C"} else None


def test_typical_strategy_alert_maps_to_the_canonical_signal() -> None:
    alert = {
        "ticker": "BINANCE:BTCUSDT",
        "action": "Long",
        "contracts": "0.5",
        "price": "42000.5",
        "id": "Long Entry 17",
        "timenow": "2024-03-01T12:00:05Z",
        "time": "2024-03-01T12:00:00Z",
        "strategy": "ema-cross",
        "ttl_s": 30,
        "stop_loss": "41000",
        "take_profit": "45000",
        "exchange": "BINANCE",
        "interval": "5",
    }
    assert mapped(alert) == {
        "signal_id": "Long Entry 17",
        "side": "buy",
        "size": "0.5",
        "created_at": "2024-03-01T12:00:05Z",  # when the alert fired, not the bar's time
        "price": "42000.5",
        "ttl_s": 30,
        "stop_loss": "41000",
        "take_profit": "45000",
        "strategy": "ema-cross",
        "asset": "BTC/USDT",
        "metadata": {
            "tradingview": {
                "ticker": "BINANCE:BTCUSDT",
                "time": "2024-03-01T12:00:00Z",
                "exchange": "BINANCE",
                "interval": "5",
            }
        },
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"side": "sell", "quantity": 2}, {"side": "sell", "size": 2}),
        ({"action": "short", "qty": "1"}, {"side": "sell", "size": "1"}),
        ({"action": "BUY", "size": "3", "contracts": "3"}, {"side": "buy", "size": "3"}),
        ({"action": "buy", "notional": "100"}, {"side": "buy", "notional": "100"}),
    ],
)
def test_side_and_size_aliases(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    payload = mapped({"asset": "BTC/USDT", "signal_id": "a", **fields})
    assert {k: payload[k] for k in expected} == expected


def test_limit_alert_keeps_its_price_as_the_limit() -> None:
    payload = mapped(
        {"ticker": "ETHUSDT", "action": "sell", "contracts": 1, "order_type": "LIMIT", "price": 9}
    )
    assert (payload["order_type"], payload["price"], payload["asset"]) == ("limit", 9, "ETH/USDT")


def test_contradicting_or_missing_fields_are_named() -> None:
    problems = map_alert(
        {"ticker": "BTCUSDT", "action": "buy", "side": "sell", "id": "1", "signal_id": "2"}, market
    )
    assert problems == [
        "signal_id/id: give one value for the signal_id (signal_id='2', id='1')",
        "side/action: give one value for the side (side='sell', action='buy')",
        "contracts: missing (give contracts, quantity, qty, size or notional)",
    ]
    assert map_alert({"ticker": "BTCUSDT", "action": "exit", "size": 1}, market) == [
        "action: expected buy, sell, long or short, got 'exit'"
    ]


def test_alert_without_id_gets_one_derived_from_its_content() -> None:
    alert = {"ticker": "BTCUSDT", "action": "buy", "contracts": "1", "timenow": "2024-03-01T12:00Z"}
    first = mapped(alert)["signal_id"]
    assert first == mapped(dict(reversed(alert.items())))["signal_id"]  # key order is irrelevant
    assert first == derived_id(alert)
    assert first.startswith("tv-")
    assert first != mapped({**alert, "timenow": "2024-03-01T12:01Z"})["signal_id"]


# -- over HTTP ---------------------------------------------------------------------------------

ALERT = {"ticker": "BINANCE:BTCUSDT", "action": "buy", "contracts": "0.01", "secret": TV_SECRET}


async def test_alert_with_body_secret_sent_as_text_plain_is_executed_without_its_secret(
    tmp_path: Path,
) -> None:
    async with running_webhook(tmp_path, tradingview_secret=TV_SECRET, source="tv") as hook:
        body = json.dumps({**ALERT, "id": "tv1", "comment": "entry"}).encode()
        response = await hook.post(
            body, secret=None, path="/signals/tradingview", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 202, response.text
        assert response.json()["status_url"] == "/signals/tv1?source=tv"
        await eventually(lambda: hook.rig.signals().get(("tv", "tv1")) == "executed")
        status = (await hook.status("tv1")).json()
        assert status["orders"][0]["symbol"] == "BTC/USDT"
        stored = _stored_text(hook.rig.engine)
        assert "entry" in stored
        assert TV_SECRET not in stored


async def test_the_secret_repeated_in_another_field_is_not_stored(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, tradingview_secret=TV_SECRET, source="tv") as hook:
        alert = {**ALERT, "id": "tv2", "comment": f"auth {TV_SECRET}", "tags": [TV_SECRET]}
        response = await hook.post(alert, secret=None, path="/signals/tradingview")
        assert response.status_code == 202, response.text
        hook.rig.running.journal.flush()
        stored = _stored_text(hook.rig.engine)
        assert "auth ***" in stored
        assert TV_SECRET not in stored


async def test_resent_identical_alert_is_a_duplicate(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, tradingview_secret=TV_SECRET) as hook:
        first = await hook.post(ALERT, secret=None, path="/signals/tradingview")
        again = await hook.post(ALERT, secret=None, path="/signals/tradingview")
        assert (first.status_code, again.status_code) == (202, 200)
        assert again.json()["outcome"] == "duplicate"
        assert again.json()["signal_id"] == first.json()["signal_id"]
        assert len(hook.rig.orders_at_venue()) == 1


@pytest.mark.parametrize(
    ("secret", "error"),
    [(None, "missing_secret"), ("wrong-secret-000000000", "bad_secret"), (42, "bad_secret")],
)
async def test_alert_without_the_right_secret_is_refused(
    tmp_path: Path, secret: object, error: str
) -> None:
    async with running_webhook(tmp_path, tradingview_secret=TV_SECRET) as hook:
        alert = {k: v for k, v in ALERT.items() if k != "secret"}
        if secret is not None:
            alert["secret"] = secret
        response = await hook.post(alert, secret=None, path="/signals/tradingview")
        assert response.status_code == 401
        assert response.json()["error"] == error
        hook.rig.running.journal.flush()  # anything recorded is in the store now
        assert hook.rig.signals() == {}
        assert hook.rig.dead_letters() == []
        assert TV_SECRET not in response.text


async def test_signed_alert_needs_no_body_secret(tmp_path: Path) -> None:
    async with running_webhook(tmp_path) as hook:  # hmac_secret only
        alert = {k: v for k, v in ALERT.items() if k != "secret"}
        response = await hook.post(alert, secret=SECRET, path="/signals/tradingview")
        assert response.status_code == 202
        unsigned = await hook.post(ALERT, secret=None, path="/signals/tradingview")
        assert unsigned.status_code == 401


async def test_with_only_a_tradingview_secret_the_other_routes_are_closed(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, hmac_secret=None, tradingview_secret=TV_SECRET) as hook:
        response = await hook.post({"signal_id": "c1"}, secret=None)
        assert response.status_code == 401
        assert response.json()["error"] == "signing_not_configured"
        assert (await hook.http.get("/signals/c1")).status_code == 401
        assert (await hook.post(ALERT, secret=None, path="/signals/tradingview")).status_code == 202


async def test_malformed_alert_is_400_and_not_kept(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, tradingview_secret=TV_SECRET) as hook:
        broken = f'{{"secret": "{TV_SECRET}", "ticker": '.encode()
        response = await hook.post(broken, secret=None, path="/signals/tradingview")
        assert response.status_code == 400
        assert response.json()["error"] == "malformed_json"
        listed = await hook.post([ALERT], secret=None, path="/signals/tradingview")
        assert listed.json()["reason"] == "expected a JSON object, got list"
        hook.rig.running.journal.flush()  # anything recorded is in the store now
        assert hook.rig.dead_letters() == []


async def test_unmappable_alert_is_422_and_kept_without_its_secret(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, tradingview_secret=TV_SECRET) as hook:
        alert = {**ALERT, "ticker": "KRAKEN:XYZUSD", "contracts": "-1"}
        response = await hook.post(alert, secret=None, path="/signals/tradingview")
        assert response.status_code == 422
        assert response.json()["problems"][0].startswith("ticker: 'KRAKEN:XYZUSD' matches no")
        bad_size = {**ALERT, "contracts": "-1"}
        response = await hook.post(bad_size, secret=None, path="/signals/tradingview")
        assert response.status_code == 422
        assert response.json()["problems"][0].startswith("contracts (size): Input should be")
        await eventually(lambda: len(hook.rig.dead_letters()) == 2)
        for letter in hook.rig.dead_letters():
            assert TV_SECRET not in letter["raw"]
            assert '"ticker"' in letter["raw"]
        assert hook.rig.signals() == {}


def _stored_text(engine: Any) -> str:
    """Every signal and dead-letter row as text, to search for what must not be stored."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM signals")).all()
        rows += connection.execute(text("SELECT * FROM dead_letters")).all()
    return json.dumps([list(map(str, row)) for row in rows])
