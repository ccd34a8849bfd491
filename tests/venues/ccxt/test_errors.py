"""The table from ccxt's exception tree to what the bot does: refused with a reason, unknown
(look the order up, never send it again), throttled, banned, or keys refused. Real ccxt
exception instances, with the texts ccxt builds from Binance's replies."""

from __future__ import annotations

from email.utils import formatdate
from types import SimpleNamespace

import ccxt
import pytest

from trading_bot.domain.rejections import RejectionReason
from trading_bot.venues.ccxt.errors import (
    RETRY_AFTER_MAX_MS,
    Outcome,
    banned_until_ms,
    classify,
    describe,
    failed_response_headers,
    retry_after_ms,
)

R = RejectionReason


@pytest.mark.parametrize(
    ("error", "outcome", "reason"),
    [
        (
            ccxt.InsufficientFunds(
                'binance {"code":-2010,"msg":"Account has insufficient balance for requested '
                'action."}'
            ),
            Outcome.REFUSED,
            R.INSUFFICIENT_BALANCE,
        ),
        (
            ccxt.OrderImmediatelyFillable(
                'binance {"code":-2010,"msg":"Order would immediately match and take."}'
            ),
            Outcome.REFUSED,
            R.POST_ONLY_WOULD_CROSS,
        ),
        (
            ccxt.BadSymbol('binance {"code":-1121,"msg":"Invalid symbol."}'),
            Outcome.REFUSED,
            R.UNKNOWN_ASSET,
        ),
        (
            ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}'),
            Outcome.REFUSED,
            R.INVALID_AMOUNT_PRECISION,
        ),
        (
            ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: PRICE_FILTER"}'),
            Outcome.REFUSED,
            R.INVALID_PRICE_PRECISION,
        ),
        (
            ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'),
            Outcome.REFUSED,
            R.BELOW_MIN_NOTIONAL,
        ),
        (
            ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'),
            Outcome.REFUSED,
            R.DUPLICATE_ORDER,
        ),
        (ccxt.InvalidOrder("binance something else"), Outcome.REFUSED, R.INVALID_ORDER),
        (
            ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}'),
            Outcome.NOT_FOUND,
            R.ORDER_NOT_FOUND,
        ),
        (
            ccxt.AuthenticationError('binance {"code":-1022,"msg":"Signature is not valid."}'),
            Outcome.AUTH_FAILED,
            R.VENUE_AUTH_FAILED,
        ),
        (
            ccxt.PermissionDenied("binance no trading rights"),
            Outcome.AUTH_FAILED,
            R.VENUE_AUTH_FAILED,
        ),
        # the network family: the request may or may not have happened
        (
            ccxt.RequestTimeout("binance POST https://x/api/v3/order"),
            Outcome.UNKNOWN,
            R.VENUE_UNAVAILABLE,
        ),
        (ccxt.ExchangeNotAvailable("binance 503 <html>"), Outcome.UNKNOWN, R.VENUE_UNAVAILABLE),
        (ccxt.NetworkError("connection reset"), Outcome.UNKNOWN, R.VENUE_UNAVAILABLE),
        (
            ccxt.OnMaintenance("binance System is under maintenance."),
            Outcome.UNKNOWN,
            R.VENUE_UNAVAILABLE,
        ),
        # HTTP 500 with -1001: Binance says the outcome is unknown
        (
            ccxt.OperationFailed('binance {"code":-1001,"msg":"Internal error"}'),
            Outcome.UNKNOWN,
            R.VENUE_UNAVAILABLE,
        ),
        # throttling: 429 and -1003 (both sent before the request was looked at)
        (
            ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1003,"msg":"Too many"}'),
            Outcome.RATE_LIMITED,
            R.VENUE_RATE_LIMITED,
        ),
        (
            ccxt.RateLimitExceeded('binance {"code":-1003}'),
            Outcome.RATE_LIMITED,
            R.VENUE_RATE_LIMITED,
        ),
        # 418 is a ban, not a throttle
        (
            ccxt.DDoSProtection(
                'binance 418 I\'m a teapot {"code":-1003,"msg":"Way too much request weight '
                'used; IP banned until 1700000000000."}'
            ),
            Outcome.BANNED,
            R.VENUE_BANNED,
        ),
        # the receive window passed: refused before the venue looked at it
        (ccxt.InvalidNonce('binance {"code":-1021}'), Outcome.REFUSED, R.VENUE_UNAVAILABLE),
        (ccxt.ExchangeError("binance something"), Outcome.REFUSED, R.INVALID_ORDER),
        # not from ccxt at all (ccxt.pro's KeyError('spot') on a refused subscription)
        (KeyError("spot"), Outcome.UNKNOWN, R.VENUE_UNAVAILABLE),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_ccxt_error_maps_to_one_outcome_and_reason(
    error: Exception, outcome: Outcome, reason: RejectionReason
) -> None:
    reading = classify(error)
    assert (reading.outcome, reading.reason) == (outcome, reason)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ccxt.RequestTimeout("t"), True),
        (ccxt.ExchangeNotAvailable("503"), True),
        (ccxt.DDoSProtection("binance 429 Too Many Requests"), True),
        (ccxt.RateLimitExceeded("-1003"), True),
        (ccxt.OperationFailed("-1001"), True),
        (ccxt.DDoSProtection("binance 418 I'm a teapot"), False),  # a ban: nothing is sent
        (ccxt.InsufficientFunds("x"), False),
        (ccxt.InvalidOrder("x"), False),
        (ccxt.OrderNotFound("x"), False),
        (ccxt.AuthenticationError("x"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_only_failures_that_may_answer_next_time_are_retried(error: Exception, retry: bool) -> None:
    assert classify(error).safe_to_retry is retry


def test_a_ban_says_until_when() -> None:
    error = ccxt.DDoSProtection(
        'binance 418 I\'m a teapot {"code":-1003,"msg":"IP banned until 1700000000000."}'
    )
    assert banned_until_ms(error) == 1_700_000_000_000
    assert banned_until_ms(ccxt.DDoSProtection("binance 418 I'm a teapot")) is None


NOW_MS = 1_700_000_000_000


@pytest.mark.parametrize(
    ("value", "wait_ms"),
    [
        ("2", 2_000),
        (" 30 ", 30_000),
        (formatdate(NOW_MS / 1000 + 90, usegmt=True), 90_000),  # an HTTP date
        ("99999999999", RETRY_AFTER_MAX_MS),  # a bogus header stops the bot a day at most
        ("0", None),  # no wait asked
        (formatdate(NOW_MS / 1000 - 90, usegmt=True), None),  # already past
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value: str, wait_ms: int | None) -> None:
    assert retry_after_ms({"Retry-After": value}, NOW_MS) == wait_ms


def test_retry_after_header_name_is_case_insensitive_and_may_be_absent() -> None:
    assert retry_after_ms({"retry-after": "3"}, NOW_MS) == 3_000
    assert retry_after_ms({"Content-Type": "application/json"}, NOW_MS) is None
    assert retry_after_ms(None, NOW_MS) is None


def test_response_headers_are_trusted_only_if_they_came_with_the_failure() -> None:
    body = '{"code":-1003,"msg":"Too many requests."}'
    client = SimpleNamespace(last_http_response=body, last_response_headers={"Retry-After": "2"})
    throttled = ccxt.DDoSProtection(f"binance 429 Too Many Requests {body}")
    assert failed_response_headers(client, throttled) == {"Retry-After": "2"}
    # another request answered since (its body is not the one in the error)
    other = ccxt.DDoSProtection('binance 429 Too Many Requests {"code":-1003,"msg":"other"}')
    assert failed_response_headers(client, other) is None
    empty = SimpleNamespace(last_http_response="", last_response_headers={"Retry-After": "2"})
    assert failed_response_headers(empty, throttled) is None
    assert failed_response_headers(SimpleNamespace(), throttled) is None


def test_details_carry_no_query_string_and_no_secret() -> None:
    error = ccxt.AuthenticationError(
        "binance GET http://127.0.0.1:1/api/v3/account?timestamp=1&signature=abcdef "
        'key k-123 {"code":-2015}'
    )
    detail = describe(error, frozenset({"k-123"}))
    assert "signature" not in detail and "abcdef" not in detail and "k-123" not in detail
    assert detail.startswith("AuthenticationError: binance GET http://127.0.0.1:1/api/v3/account?")
