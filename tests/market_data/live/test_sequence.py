from trading_bot.market_data.live.sequence import TradeIdGap, TradeSequence


def test_consecutive_trade_ids_leave_no_gap() -> None:
    sequence = TradeSequence("BTC/USDT")
    for trade_id in range(100, 110):
        assert not sequence.is_repeat(trade_id)
        assert sequence.gap_before(trade_id) is None
        sequence.advance(trade_id)
    assert sequence.gaps == 0


def test_a_jump_in_trade_ids_is_a_gap_with_the_missing_range() -> None:
    sequence = TradeSequence("BTC/USDT")
    sequence.advance(41)
    gap = sequence.gap_before(45)
    assert gap == TradeIdGap("BTC/USDT", 42, 44)
    assert gap.size == 3
    assert (sequence.gaps, sequence.missing_trades) == (1, 3)


def test_trades_already_seen_are_repeats() -> None:
    sequence = TradeSequence("BTC/USDT")
    sequence.advance(10)
    assert sequence.is_repeat(10)
    assert sequence.is_repeat(3)
    assert not sequence.is_repeat(11)
    assert sequence.repeats == 2


def test_an_aggregate_trade_covering_a_range_moves_the_sequence_to_its_last_id() -> None:
    sequence = TradeSequence("BTC/USDT")
    sequence.advance(10)
    assert sequence.gap_before(11) is None
    sequence.advance(15)  # ids 11..15 in one aggregate trade
    assert sequence.gap_before(16) is None
    assert sequence.gap_before(18) == TradeIdGap("BTC/USDT", 16, 17)


def test_the_first_trade_seen_is_never_a_gap() -> None:
    sequence = TradeSequence("BTC/USDT")
    assert sequence.gap_before(123_456) is None
    assert sequence.gap_before(None) is None
