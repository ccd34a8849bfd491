"""Binance error replies: the codes and texts ccxt turns into its exception classes.

The texts matter as much as the codes: ccxt matches some errors on the message (an
insufficient balance and a post-only order that would take are both -2010).
"""

from __future__ import annotations

from trading_bot.domain.rejections import RejectionReason as R


class BinanceError(Exception):
    """An error reply: HTTP `status` with body `{"code": code, "msg": msg}`."""

    def __init__(self, code: int, msg: str, status: int = 400, data: dict | None = None) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.data = data

    def body(self) -> dict:
        body: dict = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            body["data"] = self.data
        return body


INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
WOULD_TAKE = "Order would immediately match and take."
DUPLICATE_ORDER = "Duplicate order sent."
UNKNOWN_ORDER = "Unknown order sent."
NO_SUCH_ORDER = "Order does not exist."
INVALID_SYMBOL = "Invalid symbol."
BAD_SIGNATURE = "Signature for this request is not valid."
BAD_API_KEY = "Invalid API-key, IP, or permissions for action."
API_KEY_FORMAT = "API-key format invalid."
OUTSIDE_RECV_WINDOW = "Timestamp for this request is outside of the recvWindow."
AHEAD_OF_SERVER = "Timestamp for this request was 1000ms ahead of the server's time."
INTERNAL = "Internal error; unable to process your request. Please try again."


def missing(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal(name: str) -> BinanceError:
    return BinanceError(
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
    )


def invalid_symbol() -> BinanceError:
    return BinanceError(-1121, INVALID_SYMBOL)


def filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def rejection_error(reason: R, detail: str) -> BinanceError:
    """The reply Binance gives to an order our matching engine refused for `reason`."""
    if reason is R.INSUFFICIENT_BALANCE:
        return BinanceError(-2010, INSUFFICIENT_BALANCE)
    if reason is R.POST_ONLY_WOULD_CROSS:
        return BinanceError(-2010, WOULD_TAKE)
    if reason in (R.BELOW_MIN_AMOUNT, R.INVALID_AMOUNT_PRECISION):
        return filter_failure("LOT_SIZE")
    if reason is R.INVALID_PRICE_PRECISION:
        return filter_failure("PRICE_FILTER")
    if reason is R.BELOW_MIN_NOTIONAL:
        return filter_failure("NOTIONAL")
    if reason is R.UNKNOWN_ASSET:
        return invalid_symbol()
    if reason is R.DUPLICATE_ORDER:
        return BinanceError(-2010, DUPLICATE_ORDER)
    if reason is R.NO_MARKET_DATA:
        return BinanceError(-2010, "Market is closed.")
    return BinanceError(-2010, detail or str(reason))


# reasons for which an order refused before it was answered is an error reply (no order);
# any other end (IOC/FOK not filled) is an order with status EXPIRED, as on Binance
ERROR_REASONS = frozenset(
    {
        R.INSUFFICIENT_BALANCE,
        R.POST_ONLY_WOULD_CROSS,
        R.BELOW_MIN_AMOUNT,
        R.INVALID_AMOUNT_PRECISION,
        R.INVALID_PRICE_PRECISION,
        R.BELOW_MIN_NOTIONAL,
        R.UNKNOWN_ASSET,
        R.DUPLICATE_ORDER,
        R.NO_MARKET_DATA,
        R.INVALID_ORDER,
    }
)
