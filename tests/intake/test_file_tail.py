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


def test_a_file_rotated_or_rewritten_while_down_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n', encoding="utf-8")
    tail = SignalFileTail(path)
    assert len(tail.read()) == 2
    saved = tail.position
    path.rename(tmp_path / "s.jsonl.1")  # rotated: a new, longer file takes the name
    path.write_text("".join(f'{{"n": {i}}}\n' for i in range(5)), encoding="utf-8")
    assert [line.text for line in SignalFileTail(path, saved).read()] == [
        f'{{"n": {i}}}' for i in range(5)
    ]
    same_inode = SignalFileTail(path)
    assert len(same_inode.read()) == 5
    saved = same_inode.position
    with path.open("r+", encoding="utf-8") as handle:  # rewritten in place, longer
        handle.write('{"x": 0}\n{"x": 1}\n{"x": 2}\n{"x": 3}\n{"x": 4}\n{"x": 5}\n')
    assert len(SignalFileTail(path, saved).read()) == 6


def test_an_overlong_or_non_utf8_line_is_a_dead_letter_and_blocks_nothing(tmp_path: Path) -> None:
    from trading_bot.intake import file_tail

    path = tmp_path / "s.jsonl"
    long_line = b'{"pad": "' + b"x" * (file_tail.MAX_LINE_BYTES + 10) + b'"}\n'
    path.write_bytes(b'{"a": 1}\n' + long_line + b'{"id": "\xff"}\n{"b": 2}\n')
    lines = SignalFileTail(path).read()
    assert [(line.text, line.problem is not None) for line in lines][:1] == [('{"a": 1}', False)]
    assert [line.problem for line in lines[1:3]] == [
        f"line of {len(long_line) - 1} bytes, over the {file_tail.MAX_LINE_BYTES} limit",
        "not UTF-8 text: invalid start byte at byte 8",
    ]
    assert lines[3].text == '{"b": 2}' and lines[3].location.endswith(":4")
