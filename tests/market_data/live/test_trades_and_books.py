from decimal import Decimal

from ccxt.base.errors import NetworkError

from trading_bot.market_data.live.book import snapshot_from_ccxt
from trading_bot.market_data.live.feed import describe_error
from trading_bot.market_data.live.trades import trade_from_ccxt
from trading_bot.monitoring.logging import SecretMasker


def test_a_stream_trade_keeps_the_exchange_decimals_and_its_id() -> None:
    raw = {
        "symbol": "BTC/USDT",
        "timestamp": 1_700_000_000_123,
        "price": 0.1 + 0.2,
        "amount": 0.007,
        "id": "158410082",
        "info": {"t": 158410082, "p": "0.30000000", "q": "0.00700000"},
    }
    trade = trade_from_ccxt(raw)
    assert trade.price == Decimal("0.30000000")
    assert trade.amount == Decimal("0.00700000")
    assert (trade.first_id, trade.last_id) == (158410082, 158410082)


def test_an_aggregate_trade_covers_its_first_to_last_trade_ids() -> None:
    raw = {
        "symbol": "BTC/USDT",
        "timestamp": 1,
        "price": 1.5,
        "amount": 2.0,
        "id": "12345",
        "info": {"a": 12345, "f": 100, "l": 105, "p": "1.5", "q": "2"},
    }
    trade = trade_from_ccxt(raw)
    assert (trade.first_id, trade.last_id) == (100, 105)


def test_a_book_snapshot_copies_the_top_levels_and_its_mid() -> None:
    book = {
        "bids": [[100.5, 1.0], [100.0, 2.0], [99.0, 3.0]],
        "asks": [[101.5, 0.5], [102.0, 1.0]],
        "timestamp": 5,
        "nonce": 77,
    }
    snapshot = snapshot_from_ccxt("BTC/USDT", book, received_ms=9, depth=2)
    book["bids"][0][0] = 1.0  # ccxt keeps changing its book: the snapshot does not
    assert snapshot.bids == ((Decimal("100.5"), Decimal(1)), (Decimal(100), Decimal(2)))
    assert snapshot.mid == Decimal(101)
    assert snapshot.nonce == 77


def test_a_one_sided_or_crossed_book_has_no_mid() -> None:
    one_sided = snapshot_from_ccxt("X/Y", {"bids": [[1.0, 1.0]], "asks": []}, 0, 5)
    crossed = snapshot_from_ccxt("X/Y", {"bids": [[2.0, 1.0]], "asks": [[1.0, 1.0]]}, 0, 5)
    assert one_sided.mid is None
    assert crossed.mid is None


def test_error_text_for_the_log_has_no_query_string_and_no_credentials() -> None:
    error = NetworkError(
        "binance GET http://127.0.0.1:9/api/v3/account?timestamp=1&signature=abcdef0123 "
        "failed for key APIKEY-123456"
    )
    text = describe_error(error, SecretMasker(["APIKEY-123456"]))
    assert text.startswith("NetworkError: ")
    assert "http://127.0.0.1:9/api/v3/account?…" in text
    assert "signature" not in text
    assert "APIKEY-123456" not in text
