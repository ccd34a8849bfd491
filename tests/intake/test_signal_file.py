from decimal import Decimal
from pathlib import Path

import pytest

from trading_bot.engine.signal_ledger import InvalidSignal
from trading_bot.intake.signal_file import RecordedSignal, read_signal_file
from trading_bot.market_data.errors import DataFileError


def test_jsonl_keeps_good_rows_and_reports_bad_ones_by_line(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text(
        '{"signal_id": "a", "asset": "BTC/USDT", "side": "buy", "size": 0.1, "created_at": 1640995200000}\n'
        "\n"
        '{"signal_id": "b", "asset": "BTC/USDT", "side": "buy", "size": -1}\n'
        "{not json\n"
        "[1, 2]\n"
    )
    items = list(read_signal_file(path))
    good = [i for i in items if isinstance(i, RecordedSignal)]
    bad = [i for i in items if isinstance(i, InvalidSignal)]
    assert [g.signal.signal_id for g in good] == ["a"]
    assert good[0].signal.size == Decimal("0.1")
    assert [b.location for b in bad] == [f"{path}:3", f"{path}:4", f"{path}:5"]
    assert "size: Input should be greater than 0" in bad[0].errors[0]
    assert bad[1].errors[0].startswith("not valid JSON")
    assert "expected a JSON object" in bad[2].errors[0]


def test_csv_uses_the_same_field_names(tmp_path: Path) -> None:
    path = tmp_path / "signals.csv"
    path.write_text(
        "signal_id,asset,side,size,notional,created_at,metadata\n"
        'a,BTC/USDT,buy,0.1,,2022-01-01T00:00:00Z,"{""k"": 1}"\n'
        "b,BTC/USDT,sell,,250,1640995200000,\n"
        "c,BTC/USDT,hold,1,,1640995200000,\n"
        'd,BTC/USDT,buy,1,,1640995200000,"{bad"\n'
    )
    items = list(read_signal_file(path))
    good = [i.signal for i in items if isinstance(i, RecordedSignal)]
    assert [(s.signal_id, s.size, s.notional) for s in good] == [
        ("a", Decimal("0.1"), None),
        ("b", None, Decimal("250")),
    ]
    assert good[0].metadata == {"k": 1}
    bad = [i for i in items if isinstance(i, InvalidSignal)]
    assert [b.location.rsplit(":", 1)[1] for b in bad] == ["4", "5"]
    assert "side" in bad[0].errors[0]
    assert "metadata: not valid JSON" in bad[1].errors[0]


def test_unreadable_files_raise_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="file not found"):
        list(read_signal_file(tmp_path / "missing.jsonl"))
    path = tmp_path / "signals.csv"
    path.write_text("when,what\n1,2\n")
    with pytest.raises(DataFileError, match="expected a CSV header"):
        list(read_signal_file(path))
    binary = tmp_path / "signals.jsonl"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DataFileError, match="cannot read"):
        list(read_signal_file(binary))
