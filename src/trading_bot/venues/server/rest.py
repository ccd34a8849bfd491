"""The REST API (Binance spot `/api/v3` subset) over the paper venue.

Every handler is `async def`: they run on the event loop that drives the venue's clock, so
requests and matching never run at the same time.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from trading_bot.domain.enums import Side
from trading_bot.venues.server import errors as E
from trading_bot.venues.server.auth import RequestSigning, parse_params
from trading_bot.venues.server.errors import BinanceError
from trading_bot.venues.server.faults import FaultInjector, FaultRule
from trading_bot.venues.server.formats import INTERVALS_MS, num
from trading_bot.venues.server.market_feed import SymbolFeed
from trading_bot.venues.server.venue import ORDER_TYPES, NewOrder, SpotVenue

_NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_TIME_IN_FORCE = ("GTC", "IOC", "FOK")
Params = dict[str, str]


def decimal_param(params: Params, name: str, *, required: bool = False) -> Decimal | None:
    text = params.get(name)
    if text is None or text == "":
        if required:
            raise E.missing(name)
        return None
    if not _NUMBER.match(text):
        raise E.illegal(name)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise E.illegal(name) from None


def int_param(params: Params, name: str, default: int | None = None) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.") from None


def limit_param(params: Params, default: int, maximum: int) -> int:
    value = int_param(params, "limit", default) or default
    if value <= 0:
        raise BinanceError(-1100, "Illegal characters found in parameter 'limit'.")
    return min(value, maximum)


def new_order_request(params: Params) -> NewOrder:
    """Binance's checks of POST /api/v3/order parameters, in its order."""
    symbol = params.get("symbol")
    if not symbol:
        raise E.missing("symbol")
    side_text = params.get("side")
    if not side_text:
        raise E.missing("side")
    if side_text.upper() not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    kind = (params.get("type") or "").upper()
    if not kind:
        raise E.missing("type")
    if kind not in ORDER_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    tif = (params.get("timeInForce") or "").upper()
    if kind in ("LIMIT", "STOP_LOSS_LIMIT"):
        if not tif:
            raise E.missing("timeInForce")
        if tif not in _TIME_IN_FORCE:
            raise BinanceError(-1115, "Invalid timeInForce.")
    elif tif:
        raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
    quantity = decimal_param(params, "quantity")
    quote_qty = decimal_param(params, "quoteOrderQty")
    if kind == "MARKET":
        if quantity is None and quote_qty is None:
            raise BinanceError(
                -1102,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        if quantity is not None and quote_qty is not None:
            raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    else:
        if quote_qty is not None:
            raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if quantity is None:
            raise E.missing("quantity")
    price = decimal_param(
        params, "price", required=kind in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT")
    )
    stop = decimal_param(params, "stopPrice", required=kind.startswith("STOP_LOSS"))
    if kind in ("MARKET", "STOP_LOSS") and price is not None:
        raise BinanceError(-1106, "Parameter 'price' sent when not required.")
    if quantity is not None and quantity <= 0:
        raise BinanceError(-1013, "Invalid quantity.")
    if price is not None and price <= 0:
        raise BinanceError(-1013, "Invalid price.")
    client_id = params.get("newClientOrderId") or None
    if client_id is not None and not _CLIENT_ID.match(client_id):
        raise E.illegal("newClientOrderId")
    resp_type = (
        params.get("newOrderRespType") or ("FULL" if kind in ("MARKET", "LIMIT") else "ACK")
    ).upper()
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise BinanceError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    return NewOrder(
        symbol.upper(),
        Side(side_text.lower()),
        kind,
        quantity,
        quote_qty,
        price,
        stop,
        tif or "GTC",
        client_id,
        resp_type,
    )


def build_app(
    venue: SpotVenue, signing: RequestSigning, faults: FaultInjector, *, admin_routes: bool
) -> FastAPI:
    app = FastAPI(title="trading-bot paper venue", docs_url=None, redoc_url=None, openapi_url=None)
    clock = venue.clock

    @app.exception_handler(BinanceError)
    async def binance_error(request: Request, error: BinanceError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    async def signed(request: Request) -> Params:
        body = (await request.body()).decode("utf-8", "replace")
        return signing.verify(request.headers.get("x-mbx-apikey"), request.url.query, body)

    async def public(request: Request) -> Params:
        body = (await request.body()).decode("utf-8", "replace")
        return parse_params(request.url.query, body)

    def feeds_for(params: Params) -> tuple[list[SymbolFeed], bool]:
        """The markets a ticker request names (`symbol` or `symbols`), and whether one."""
        if params.get("symbol"):
            return [venue.feed(params["symbol"])], True
        if params.get("symbols"):
            names = re.findall(r'"([^"]+)"', params["symbols"]) or params["symbols"].split(",")
            return [venue.feed(name) for name in names], False
        return list(venue.feeds.values()), False

    # -- general --------------------------------------------------------------------------------

    @app.get("/api/v3/ping")
    async def ping() -> dict:
        return {}

    @app.get("/api/v3/time")
    async def server_time() -> dict:
        return {"serverTime": clock.now_ms()}

    @app.get("/api/v3/exchangeInfo")
    async def exchange_info(request: Request) -> dict:
        params = await public(request)
        feeds, _ = feeds_for(params)
        return {
            "timezone": "UTC",
            "serverTime": clock.now_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": faults.weight_limit or 6000,
                }
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(feed) for feed in feeds],
        }

    # -- market data ----------------------------------------------------------------------------

    @app.get("/api/v3/depth")
    async def depth(request: Request) -> dict:
        params = await public(request)
        feed = venue.feed(params.get("symbol"))
        limit = limit_param(params, 100, 5000)
        feed.refresh_book(clock.now_ms())
        book = feed.book
        return {
            "lastUpdateId": book.update_id,
            "bids": [[num(p), num(q)] for p, q in book.bids[:limit]],
            "asks": [[num(p), num(q)] for p, q in book.asks[:limit]],
        }

    @app.get("/api/v3/trades")
    async def trades(request: Request) -> list:
        params = await public(request)
        feed = venue.feed(params.get("symbol"))
        printed = feed.trades(clock.now_ms(), limit_param(params, 500, 1000))
        return [
            {
                "id": t.trade_id,
                "price": num(t.price),
                "qty": num(t.qty),
                "quoteQty": num(t.price * t.qty),
                "time": t.time_ms,
                "isBuyerMaker": t.buyer_is_maker,
                "isBestMatch": True,
            }
            for t in printed
        ]

    @app.get("/api/v3/aggTrades")
    async def agg_trades(request: Request) -> list:
        params = await public(request)
        feed = venue.feed(params.get("symbol"))
        now = clock.now_ms()
        limit = limit_param(params, 500, 1000)
        printed = feed.trades(now, limit, int_param(params, "fromId"))
        start, end = int_param(params, "startTime"), int_param(params, "endTime")
        if start is not None or end is not None:
            printed = [
                t
                for t in feed.trades(now, 1_000_000)
                if (start is None or t.time_ms >= start) and (end is None or t.time_ms <= end)
            ][:limit]
        return [
            {
                "a": t.trade_id,
                "p": num(t.price),
                "q": num(t.qty),
                "f": t.trade_id,
                "l": t.trade_id,
                "T": t.time_ms,
                "m": t.buyer_is_maker,
                "M": True,
            }
            for t in printed
        ]

    @app.get("/api/v3/klines")
    @app.get("/api/v3/uiKlines")
    async def klines(request: Request) -> list:
        params = await public(request)
        feed = venue.feed(params.get("symbol"))
        interval = params.get("interval")
        if not interval:
            raise E.missing("interval")
        if interval not in INTERVALS_MS:
            raise BinanceError(-1120, "Invalid interval.")
        return feed.klines(
            INTERVALS_MS[interval],
            clock.now_ms(),
            start_ms=int_param(params, "startTime"),
            end_ms=int_param(params, "endTime"),
            limit=limit_param(params, 500, 1000),
        )

    @app.get("/api/v3/ticker/24hr")
    async def ticker_24hr(request: Request) -> Any:
        params = await public(request)
        feeds, single = feeds_for(params)
        now = clock.now_ms()
        tickers = [_ticker(feed, now) for feed in feeds]
        return tickers[0] if single else tickers

    @app.get("/api/v3/ticker/price")
    async def ticker_price(request: Request) -> Any:
        params = await public(request)
        feeds, single = feeds_for(params)
        now = clock.now_ms()
        prices = [{"symbol": f.market_id, "price": num(f.price(now))} for f in feeds]
        return prices[0] if single else prices

    @app.get("/api/v3/ticker/bookTicker")
    async def book_ticker(request: Request) -> Any:
        params = await public(request)
        feeds, single = feeds_for(params)
        now = clock.now_ms()
        found = []
        for feed in feeds:
            feed.refresh_book(now)
            (bid, bid_qty), (ask, ask_qty) = feed.book.bids[0], feed.book.asks[0]
            found.append(
                {
                    "symbol": feed.market_id,
                    "bidPrice": num(bid),
                    "bidQty": num(bid_qty),
                    "askPrice": num(ask),
                    "askQty": num(ask_qty),
                }
            )
        return found[0] if single else found

    @app.get("/api/v3/avgPrice")
    async def avg_price(request: Request) -> dict:
        params = await public(request)
        feed = venue.feed(params.get("symbol"))
        now = clock.now_ms()
        return {"mins": 5, "price": num(feed.price(now)), "closeTime": now}

    # -- account and orders (signed) ------------------------------------------------------------

    @app.get("/api/v3/account")
    async def account(request: Request) -> dict:
        await signed(request)
        fees = venue.config.exchange.fees
        return {
            "makerCommission": int(fees.maker * 10_000),
            "takerCommission": int(fees.taker * 10_000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": num(fees.maker),
                "taker": num(fees.taker),
                "buyer": num(Decimal(0)),
                "seller": num(Decimal(0)),
            },
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": clock.now_ms(),
            "accountType": "SPOT",
            "balances": [
                {"asset": asset, "free": num(free), "locked": num(locked)}
                for asset, free, locked in venue.balances()
            ],
            "permissions": ["SPOT"],
            "uid": 1,
        }

    @app.get("/api/v3/account/commission")
    async def commission(request: Request) -> dict:
        params = await signed(request)
        feed = venue.feed(params.get("symbol"))
        market = feed.market
        rates = {
            "maker": num(market.maker_fee),
            "taker": num(market.taker_fee),
            "buyer": num(Decimal(0)),
            "seller": num(Decimal(0)),
        }
        return {
            "symbol": feed.market_id,
            "standardCommission": rates,
            "taxCommission": {k: num(Decimal(0)) for k in rates},
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": "BNB",
                "discount": "0.00000000",
            },
        }

    @app.post("/api/v3/order")
    async def create_order(request: Request) -> dict:
        params = await signed(request)
        new = new_order_request(params)
        order = await venue.place(new)
        return order.placed_reply(new.resp_type, order.created_ms)

    @app.post("/api/v3/order/test")
    async def test_order(request: Request) -> dict:
        params = await signed(request)
        new_order_request(params)
        venue.feed(params.get("symbol"))
        return {}

    @app.get("/api/v3/order")
    async def get_order(request: Request) -> dict:
        params = await signed(request)
        order = venue.find_order(
            params.get("symbol", ""), int_param(params, "orderId"), params.get("origClientOrderId")
        )
        if order is None:
            raise BinanceError(-2013, E.NO_SUCH_ORDER)
        return order.as_binance()

    @app.delete("/api/v3/order")
    async def cancel_order(request: Request) -> dict:
        params = await signed(request)
        order = await venue.cancel(
            params.get("symbol", ""), int_param(params, "orderId"), params.get("origClientOrderId")
        )
        return order.canceled_reply(
            params.get("newClientOrderId") or venue.cancel_client_id(), clock.now_ms()
        )

    @app.delete("/api/v3/openOrders")
    async def cancel_open_orders(request: Request) -> list:
        params = await signed(request)
        canceled = await venue.cancel_all(params.get("symbol", ""))
        return [o.canceled_reply(venue.cancel_client_id(), clock.now_ms()) for o in canceled]

    @app.post("/api/v3/order/cancelReplace")
    async def cancel_replace(request: Request) -> Any:
        params = await signed(request)
        mode = (params.get("cancelReplaceMode") or "").upper()
        if not mode:
            raise E.missing("cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'cancelReplaceMode'.")
        new = new_order_request(params)
        order_id = int_param(params, "cancelOrderId")
        client_id = params.get("cancelOrigClientOrderId")
        if order_id is None and not client_id:
            raise BinanceError(
                -1102,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both "
                "were empty/null!",
            )
        cancel_reply: dict[str, Any]
        canceled = None
        try:
            canceled = await venue.cancel(new.market_id, order_id, client_id)
            cancel_reply = canceled.canceled_reply(
                params.get("cancelNewClientOrderId") or venue.cancel_client_id(), clock.now_ms()
            )
            cancel_ok = True
        except BinanceError as error:
            cancel_reply, cancel_ok = error.body(), False
        if not cancel_ok and mode == "STOP_ON_FAILURE":
            raise BinanceError(
                -2022,
                "Order cancel-replace failed.",
                400,
                {
                    "cancelResult": "FAILURE",
                    "newOrderResult": "NOT_ATTEMPTED",
                    "cancelResponse": cancel_reply,
                    "newOrderResponse": None,
                },
            )
        try:
            placed = await venue.place(new, replaces=canceled)
        except BinanceError as error:
            if cancel_ok:
                raise BinanceError(
                    -2021,
                    "Order cancel-replace partially failed.",
                    409,
                    {
                        "cancelResult": "SUCCESS",
                        "newOrderResult": "FAILURE",
                        "cancelResponse": cancel_reply,
                        "newOrderResponse": error.body(),
                    },
                ) from None
            raise BinanceError(
                -2022,
                "Order cancel-replace failed.",
                400,
                {
                    "cancelResult": "FAILURE",
                    "newOrderResult": "FAILURE",
                    "cancelResponse": cancel_reply,
                    "newOrderResponse": error.body(),
                },
            ) from None
        new_reply = placed.placed_reply(new.resp_type, placed.created_ms)
        if not cancel_ok:
            return JSONResponse(
                {
                    "code": -2021,
                    "msg": "Order cancel-replace partially failed.",
                    "data": {
                        "cancelResult": "FAILURE",
                        "newOrderResult": "SUCCESS",
                        "cancelResponse": cancel_reply,
                        "newOrderResponse": new_reply,
                    },
                },
                status_code=409,
            )
        return {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS",
            "cancelResponse": cancel_reply,
            "newOrderResponse": new_reply,
        }

    @app.get("/api/v3/openOrders")
    async def open_orders(request: Request) -> list:
        params = await signed(request)
        symbol = venue.feed(params["symbol"]).symbol if params.get("symbol") else None
        return [o.as_binance() for o in venue.ledger.open_orders(symbol)]

    @app.get("/api/v3/allOrders")
    async def all_orders(request: Request) -> list:
        params = await signed(request)
        found = venue.all_orders(
            params.get("symbol", ""),
            order_id=int_param(params, "orderId"),
            start_ms=int_param(params, "startTime"),
            end_ms=int_param(params, "endTime"),
            limit=limit_param(params, 500, 1000),
        )
        return [o.as_binance() for o in found]

    @app.get("/api/v3/myTrades")
    async def my_trades(request: Request) -> list:
        params = await signed(request)
        found = venue.my_trades(
            params.get("symbol", ""),
            order_id=int_param(params, "orderId"),
            from_id=int_param(params, "fromId"),
            start_ms=int_param(params, "startTime"),
            end_ms=int_param(params, "endTime"),
            limit=limit_param(params, 500, 1000),
        )
        return [t.as_binance() for t in found]

    # -- administration (fault injection) -------------------------------------------------------

    if admin_routes:

        @app.get("/_admin/faults")
        async def list_faults() -> dict:
            return {"rules": [r.model_dump() for r in faults.rules], "hits": faults.hits}

        @app.post("/_admin/faults")
        async def add_fault(rule: FaultRule) -> dict:
            faults.inject(rule)
            return {"rules": [r.model_dump() for r in faults.rules]}

        @app.delete("/_admin/faults")
        async def clear_faults() -> dict:
            faults.clear()
            return {"rules": []}

        @app.post("/_admin/websockets/drop")
        async def drop_websockets() -> dict:
            return {"dropped": await faults.drop_websockets()}

        @app.post("/_admin/weight_limit")
        async def weight_limit(request: Request) -> dict:
            body = await request.json()
            faults.weight_limit = body.get("limit")
            return {"limit": faults.weight_limit}

    return app


def _symbol_info(feed: SymbolFeed) -> dict[str, Any]:
    market = feed.market
    min_qty = max(market.min_amount, market.amount_step)
    return {
        "symbol": feed.market_id,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": num(market.price_step),
                "maxPrice": num(Decimal(1_000_000_000)),
                "tickSize": num(market.price_step),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": num(min_qty),
                "maxQty": num(Decimal(9_000_000_000)),
                "stepSize": num(market.amount_step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": num(Decimal(0)),
                "maxQty": num(Decimal(9_000_000_000)),
                "stepSize": num(Decimal(0)),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": num(market.min_notional),
                "applyMinToMarket": True,
                "maxNotional": num(Decimal(9_000_000_000)),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def _ticker(feed: SymbolFeed, now: int) -> dict[str, Any]:
    stats = feed.stats_24h(now)
    feed.refresh_book(now)
    (bid, bid_qty), (ask, ask_qty) = feed.book.bids[0], feed.book.asks[0]
    open_price: Decimal = stats["open"]  # type: ignore[assignment]
    last: Decimal = stats["last"]  # type: ignore[assignment]
    volume: Decimal = stats["volume"]  # type: ignore[assignment]
    change = last - open_price
    return {
        "symbol": feed.market_id,
        "priceChange": num(change),
        "priceChangePercent": f"{(change / open_price * 100) if open_price else 0:.3f}",
        "weightedAvgPrice": num(last),
        "prevClosePrice": num(open_price),
        "lastPrice": num(last),
        "lastQty": num(Decimal(0)),
        "bidPrice": num(bid),
        "bidQty": num(bid_qty),
        "askPrice": num(ask),
        "askQty": num(ask_qty),
        "openPrice": num(open_price),
        "highPrice": num(stats["high"]),  # type: ignore[arg-type]
        "lowPrice": num(stats["low"]),  # type: ignore[arg-type]
        "volume": num(volume),
        "quoteVolume": num(stats["quote_volume"]),  # type: ignore[arg-type]
        "openTime": now - 86_400_000,
        "closeTime": now,
        "firstId": stats["first_id"],
        "lastId": stats["last_id"],
        "count": stats["count"],
    }
