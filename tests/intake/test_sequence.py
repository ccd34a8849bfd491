"""The seq envelope and the cursor of the highest unbroken seq recorded."""

import json

import pytest

from trading_bot.intake import sequence
from trading_bot.intake.sequence import SeqCursor, unpack

SIGNAL = {"signal_id": "a", "asset": "BTC/USDT", "side": "buy", "size": "1"}


def test_the_cursor_moves_only_over_an_unbroken_run() -> None:
    cursor = SeqCursor(5)
    assert not cursor.recorded(7)  # 6 is not in yet: a crash now must get 6 resent
    assert cursor.cursor == 5
    assert cursor.recorded(6)
    assert cursor.cursor == 7
    assert not cursor.recorded(3)  # a replay of what is covered
    assert cursor.cursor == 7


def test_without_a_saved_cursor_the_first_seq_starts_the_count() -> None:
    cursor = SeqCursor(None)
    assert cursor.recorded(41)
    assert cursor.cursor == 41
    fresh = SeqCursor(None)
    assert fresh.recorded(0)
    assert fresh.cursor == 0


def test_a_hole_that_never_fills_is_given_up_after_enough_later_seqs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sequence, "MAX_AHEAD", 3)
    cursor = SeqCursor(1)
    for seq in (3, 4, 5):
        assert not cursor.recorded(seq)
    assert cursor.recorded(6)  # four held above the hole at 2: moved past it
    assert cursor.cursor == 6


def test_a_saved_position_that_is_not_a_seq_starts_afresh() -> None:
    assert SeqCursor.from_saved("17", "ws").cursor == 17
    assert SeqCursor.from_saved(None, "ws").cursor is None
    assert SeqCursor.from_saved("file.jsonl:120", "ws").cursor is None


def test_an_envelope_gives_its_seq_and_signal() -> None:
    unpacked = unpack(json.dumps({"seq": 3, "signal": SIGNAL}), 1024, 4096)
    assert (unpacked.seq, unpacked.payload, unpacked.problems) == (3, SIGNAL, [])


def test_a_bare_signal_or_unreadable_text_is_handed_on_as_sent() -> None:
    bare = json.dumps(SIGNAL)
    assert unpack(bare, 1024, 4096).payload == bare
    assert unpack("not json", 1024, 4096).payload == "not json"
    assert unpack(b"[1, 2]", 1024, 4096).seq is None


@pytest.mark.parametrize(
    ("envelope", "seq", "problem"),
    [
        ({"seq": -1, "signal": SIGNAL}, None, "seq: expected a whole number from 0 up, got -1"),
        ({"seq": True, "signal": SIGNAL}, None, "seq: expected a whole number"),
        ({"seq": 1.5, "signal": SIGNAL}, None, "seq: expected a whole number"),
        ({"signal": SIGNAL}, None, "seq: expected a whole number from 0 up, got null"),
        ({"seq": 4}, 4, "signal: required field of the envelope is missing"),
        ({"seq": 4, "signal": "{}"}, 4, "signal: expected a JSON object"),
        ({"seq": 4, "signal": SIGNAL, "at": 1}, 4, "envelope: unknown field(s) 'at'"),
    ],
)
def test_a_broken_envelope_keeps_its_seq_when_it_has_one(
    envelope: dict[str, object], seq: int | None, problem: str
) -> None:
    unpacked = unpack(json.dumps(envelope), 1024, 4096)
    assert unpacked.seq == seq
    assert any(p.startswith(problem) for p in unpacked.problems), unpacked.problems


def test_an_oversized_envelope_is_read_for_its_seq_and_refused() -> None:
    text = json.dumps({"seq": 9, "signal": {**SIGNAL, "metadata": {"pad": "x" * 2000}}})
    unpacked = unpack(text, 1024, 4096)
    assert unpacked.seq == 9
    assert unpacked.problems == [f"payload is {len(text)} bytes, larger than the 1024-byte limit"]
