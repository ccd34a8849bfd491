from pathlib import Path

from trading_bot.intake.file_tail import SignalFileTail


def test_only_complete_lines_are_read_and_the_position_resumes_after_them(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"a": 1}\n\n{"b": 2}\n{"c"', encoding="utf-8")
    tail = SignalFileTail(path)
    assert [(line.text, line.location) for line in tail.read()] == [
        ('{"a": 1}', f"{path}:1"),
        ('{"b": 2}', f"{path}:3"),
    ]
    assert tail.read() == []  # the half-written line waits for its newline
    with path.open("a", encoding="utf-8") as handle:
        handle.write(": 3}\n")
    resumed = SignalFileTail(path, tail.position)  # as after a restart
    assert [(line.text, line.location) for line in resumed.read()] == [('{"c": 3}', f"{path}:4")]


def test_a_missing_file_is_waited_for_and_a_replaced_one_is_read_from_the_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.jsonl"
    tail = SignalFileTail(path)
    assert tail.read() == []
    path.write_text('{"a": 1}\n{"b": 2}\n', encoding="utf-8")
    assert len(tail.read()) == 2
    path.write_text('{"z": 9}\n', encoding="utf-8")  # shorter than what was read: replaced
    assert [line.text for line in tail.read()] == ['{"z": 9}']
