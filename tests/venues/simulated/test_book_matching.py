"""Matching on a recorded L2 book: walking levels, resting orders filled when the book
crosses them, liquidity taken not reused, stops on the best price, and the book loaders."""

from decimal import Decimal
from pathlib import Path

import pytest

from tests.venues.simulated.harness import Venue
from trading_bot.domain.enums import LiquiditySide
from trading_bot.domain.rejections import RejectionReason as R
from trading_bot.market_data.book_csv import load_book_snapshots_csv, load_depth_csv
from trading_bot.market_data.errors import DataFileError
from trading_bot.market_data.order_book import BookEvent, BookSeries

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
T = 1_700_000_000_000


def book(*events: tuple[int, list[tuple[str, str]], list[tuple[str, str]]]) -> BookSeries:
    return BookSeries(
        "BTC/USDT",
        [
            BookEvent(
                T + dt,
                True,
                tuple((D(p), D(s)) for p, s in bids),
                tuple((D(p), D(s)) for p, s in asks),
            )
            for dt, bids, asks in events
        ],
    )


BOOK = book(
    (0, [("99", "1"), ("98", "2")], [("101", "1"), ("102", "2"), ("103", "5")]),
    (1000, [("99", "1"), ("98", "2")], [("101", "1"), ("102", "2"), ("103", "5")]),
    (2000, [("97", "3")], [("98", "2"), ("99", "4")]),  # asks fall through 99.5
)


def test_market_buy_walks_the_asks_level_by_level() -> None:
    v = Venue(BOOK)
    v.at(T + 10).send("a", "buy", "2.5", "market")
    assert [(f.price, f.amount, f.liquidity) for f in v.reports.fills("a")] == [
        (D("101"), D("1"), LiquiditySide.TAKER),
        (D("102"), D("1.5"), LiquiditySide.TAKER),
    ]
    assert v.total("BTC") == D("102.5")


def test_taken_liquidity_is_gone_until_the_recording_updates_it() -> None:
    v = Venue(BOOK)
    v.at(T + 10).send("a", "buy", "1", "market")
    v.send("b", "buy", "1", "market")
    assert [f.price for f in v.reports.fills("b")] == [D("102")]
    v.at(T + 1000 + 1).send("c", "buy", "1", "market")  # the next snapshot restored level 101
    assert [f.price for f in v.reports.fills("c")] == [D("101")]


def test_market_order_larger_than_the_book_fills_what_is_there_and_expires() -> None:
    v = Venue(BOOK)
    v.at(T + 10).send("a", "sell", "10", "market")
    assert sum(f.amount for f in v.reports.fills("a")) == D("3")
    assert v.reports.reason("a") is R.NO_LIQUIDITY


def test_limit_takes_up_to_its_price_then_rests_or_expires_by_time_in_force() -> None:
    v = Venue(BOOK)
    v.at(T + 10)
    v.send("gtc", "buy", "2", "limit", price="101")
    v.send("ioc", "buy", "2", "limit", price="102", tif="ioc")
    assert [(f.price, f.amount) for f in v.reports.fills("gtc")] == [(D("101"), D("1"))]
    assert v.reports.kinds("gtc") == ["accepted", "filled"]
    assert [(f.price, f.amount) for f in v.reports.fills("ioc")] == [(D("102"), D("2"))]
    v.send("fok", "buy", "10", "limit", price="103", tif="fok")
    assert v.reports.reason("fok") is R.WOULD_NOT_FILL
    v.send("post", "buy", "1", "limit", price="103", post_only=True)
    assert v.reports.reason("post") is R.POST_ONLY_WOULD_CROSS


def test_resting_limit_fills_as_maker_when_the_book_crosses_it() -> None:
    v = Venue(BOOK)
    v.at(T + 10).send("a", "buy", "3", "limit", price="99.5")
    v.run(T + 5000)
    # at +2000 asks of 2 @ 98 and 4 @ 99 sit below 99.5: 3 fill at our price
    assert [(f.price, f.amount, f.liquidity, f.ts_ms) for f in v.reports.fills("a")] == [
        (D("99.5"), D("3"), LiquiditySide.MAKER, T + 2000)
    ]


def test_stop_triggers_on_the_best_price_then_walks_the_book() -> None:
    v = Venue(BOOK)
    v.at(T + 10).send("s", "sell", "1", "stop_market", trigger="98")
    v.run(T + 5000)
    assert v.reports.kinds("s") == ["accepted", "triggered", "filled"]
    assert [(f.price, f.ts_ms) for f in v.reports.fills("s")] == [(D("97"), T + 2000)]


def test_an_order_before_the_recording_waits_for_the_first_snapshot() -> None:
    v = Venue(BOOK)
    v.clock.advance_to(T - 5000, inclusive=False)
    v.send("a", "buy", "1", "market")
    v.run(T + 10)
    assert [(f.price, f.ts_ms) for f in v.reports.fills("a")] == [(D("101"), T)]


def test_depth_file_keeps_the_snapshot_and_skips_deltas_that_do_not_chain() -> None:
    series = load_depth_csv(DATA / "BTCUSDT_depth_binance-futures_2022-11-01.csv", "BTC/USDT")
    assert len(series.events) == 1
    assert series.events[0].snapshot
    assert (len(series.events[0].bids), len(series.events[0].asks)) == (100, 0)  # bids only

    assert "does not chain" in series.warnings[0]


def test_depth_deltas_that_chain_are_applied(tmp_path: Path) -> None:
    path = tmp_path / "depth.csv"
    path.write_text(
        "timestamp_ms,first_update_id,last_update_id,kind,side,price,size\n"
        "1700000000000,10,10,snapshot,bid,99,1\n"
        "1700000000000,10,10,snapshot,ask,101,1\n"
        "1700000000500,8,10,delta,ask,101,7\n"  # already in the snapshot: ignored
        "1700000001000,9,12,delta,ask,101,0\n"
        "1700000001000,9,12,delta,ask,100.5,2\n"
        "1700000002000,13,14,delta,bid,99,0\n"
    )
    series = load_depth_csv(path, "BTC/USDT")
    assert [e.snapshot for e in series.events] == [True, False, False]
    assert series.warnings == []
    v = Venue(series)
    v.at(1700000001500).send("a", "buy", "1", "market")
    assert [f.price for f in v.reports.fills("a")] == [D("100.5")]


def test_top_n_snapshot_file_gives_one_book_per_timestamp() -> None:
    series = load_book_snapshots_csv(
        DATA / "BTCUSDT_book25_binance-futures_2020-09-01.csv", "BTC/USDT"
    )
    assert len(series.events) == 10
    first = series.events[0]
    assert (len(first.bids), len(first.asks)) == (25, 25)
    assert max(p for p, _ in first.bids) == D("11657.07")
    assert series.marks().first() == D("11657.075")


def test_malformed_book_rows_are_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("timestamp_ms,level,side,price,size\n1700000000000,0,middle,1,1\n")
    with pytest.raises(DataFileError, match="line 2: side is 'middle'"):
        load_book_snapshots_csv(path, "BTC/USDT")


def test_two_resting_orders_share_the_crossing_liquidity() -> None:
    v = Venue(BOOK)
    v.at(T + 10)
    v.send("a", "buy", "1", "limit", price="99.5")
    v.send("b", "buy", "1", "limit", price="99.5")
    v.run(T + 5000)
    assert [f.amount for f in v.reports.fills()] == [D("1"), D("1")]


def test_fok_stop_limit_is_judged_when_it_triggers() -> None:
    v = Venue(BOOK)
    v.at(T + 10).send("a", "sell", "3", "stop_limit", trigger="98", price="96", tif="fok")
    v.run(T + 5000)
    assert v.reports.kinds("a") == ["accepted", "triggered", "filled"]


def test_orders_long_after_the_recording_ended_are_refused() -> None:
    v = Venue(BOOK)
    v.clock.advance_to(T + 3_600_000)
    v.send("a", "buy", "1", "market")
    assert v.reports.reason("a") is R.NO_MARKET_DATA


def test_market_order_on_an_empty_side_is_no_liquidity() -> None:
    one_sided = book((0, [("99", "1")], []))
    v = Venue(one_sided)
    v.at(T + 10).send("a", "buy", "1", "market")
    assert v.reports.reason("a") is R.NO_LIQUIDITY


def test_modify_that_crosses_the_book_takes_as_taker_and_post_only_is_rechecked() -> None:
    v = Venue(BOOK)
    order = v.at(T + 10).send("a", "buy", "1", "limit", price="90")
    post = v.send("p", "buy", "1", "limit", price="90", post_only=True)
    v.exchange.modify_order(order, price=D("110"))
    v.exchange.modify_order(post, price=D("110"))
    assert [(f.price, f.liquidity) for f in v.reports.fills("a")] == [
        (D("101"), LiquiditySide.TAKER)
    ]
    assert v.reports.reason("p") is R.POST_ONLY_WOULD_CROSS
    assert v.reports.fills("p") == []


def test_latency_on_a_book_uses_the_book_at_arrival() -> None:
    v = Venue(BOOK, latency={"submit_ms": 2500})
    v.at(T + 10).send("a", "buy", "1", "market")  # arrives at +2510: asks 98 x 2
    v.run(T + 5000)
    assert [(f.price, f.ts_ms) for f in v.reports.fills("a")] == [(D("98"), T + 2510)]


def test_oco_on_a_book_the_stop_triggering_cancels_the_take_profit() -> None:
    v = Venue(BOOK)
    v.at(T + 10)
    v.send("tp", "sell", "1", "limit", price="105", oco="g")
    v.send("sl", "sell", "1", "stop_market", trigger="98", oco="g")
    v.run(T + 5000)
    assert [f.price for f in v.reports.fills("sl")] == [D("97")]
    assert v.reports.kinds("tp")[-1] == "canceled"
    assert v.free("BTC") == v.total("BTC")


def test_cancel_on_a_book_stops_a_resting_order_before_the_book_crosses_it() -> None:
    v = Venue(BOOK)
    order = v.at(T + 10).send("a", "buy", "1", "limit", price="99.5")
    v.at(T + 1500)
    v.exchange.cancel_order(order)
    v.run(T + 5000)
    assert v.reports.kinds("a") == ["accepted", "canceled"]
    assert v.free("USDT") == v.total("USDT")


def test_book_files_with_bad_levels_ids_or_crossed_books_are_caught(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(
        "timestamp_ms,level,side,price,size\n1700000000000,-1,bid,1,1\n1700000000000,0,ask,2,1\n"
        "1700000000000,0,ask,3,1\n"
    )
    with pytest.raises(DataFileError) as caught:
        load_book_snapshots_csv(path, "BTC/USDT")
    assert "line 2: level is '-1'" in caught.value.problems[0]
    assert "line 4: level 0 ask is given twice" in caught.value.problems[1]
    crossed = tmp_path / "crossed.csv"
    crossed.write_text(
        "timestamp_ms,level,side,price,size\n1700000000000,0,bid,101,1\n1700000000000,0,ask,100,1\n"
        "1700000001000,0,bid,99,1\n1700000001000,0,ask,100,1\n"
    )
    series = load_book_snapshots_csv(crossed, "BTC/USDT")
    assert len(series.events) == 1
    assert "crossed (best bid 101 >= best ask 100)" in series.warnings[0]
    depth = tmp_path / "depth.csv"
    depth.write_text(
        "timestamp_ms,first_update_id,last_update_id,kind,side,price,size\n"
        "1700000000000,10,10,snapshot,bid,99,1\n1700000000000,11,11,snapshot,ask,101,1\n"
        "1700000001000,20,30,delta,ask,101,2\n1700000002000,31,32,delta,ask,101,3\n"
        "1700000003000,9,5,delta,ask,101,3\n"
    )
    with pytest.raises(DataFileError, match="line 6: update ids 9-5"):
        load_depth_csv(depth, "BTC/USDT")
    depth.write_text("\n".join(depth.read_text().splitlines()[:-1]) + "\n")
    series = load_depth_csv(depth, "BTC/USDT")
    snapshot = series.events[0]
    assert (len(snapshot.bids), len(snapshot.asks)) == (1, 1)  # one snapshot despite two id pairs
    assert "does not chain" in series.warnings[0]
    assert "gap until the next snapshot" in series.warnings[1]


def test_a_market_sell_of_more_than_is_held_says_the_base_is_short() -> None:
    v = Venue(BOOK, balances={"USDT": "100000", "BTC": "0.5"})
    v.at(T + 10).send("a", "sell", "1", "market")
    assert v.reports.reason("a") is R.INSUFFICIENT_BALANCE
    assert v.reports.detail("a") == "sell of 1 BTC exceeds the free balance"
