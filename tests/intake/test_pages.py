"""Reading a polled page: the two shapes, their cursors, and what is refused whole or marked."""

import json

import pytest

from trading_bot.intake.pages import PageError, item_id, read_page, twice_named

SIGNAL = {"signal_id": "a", "asset": "BTC/USDT", "side": "buy", "size": "1"}


def test_an_array_page_has_no_cursor_of_its_own() -> None:
    page = read_page(json.dumps([SIGNAL]).encode())
    assert (page.items, page.cursor) == ([SIGNAL], None)


@pytest.mark.parametrize(
    ("body", "cursor"),
    [
        ({"signals": [], "cursor": "c9"}, "c9"),
        ({"signals": [], "next": "n9"}, "n9"),
        ({"signals": [], "cursor": None, "next": "n9"}, "n9"),
        ({"signals": [], "cursor": 42}, "42"),
        ({"signals": [], "cursor": ""}, None),
        ({"signals": []}, None),
    ],
)
def test_an_object_page_names_its_cursor(body: dict[str, object], cursor: str | None) -> None:
    assert read_page(json.dumps(body).encode()).cursor == cursor


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>", "not JSON"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b'{"items": []}', "expected a JSON array of signals or an object"),
        (b'{"signals": [], "cursor": true}', "cursor must be a string"),
        (b'{"signals": [], "cursor": "a\\u0000b"}', "cursor cannot be saved"),
        (b'{"signals": [], "cursor": "\\ud800"}', "cursor cannot be saved"),
        (b'{"signals": [], "signals": []}', "names key 'signals' twice"),
    ],
)
def test_what_is_not_a_page_is_refused_whole(body: bytes, problem: str) -> None:
    with pytest.raises(PageError, match=problem):
        read_page(body)


def test_an_empty_body_is_an_empty_page() -> None:
    assert read_page(b"  ").items == []


def test_an_item_naming_a_key_twice_is_marked_not_the_page_refused() -> None:
    body = b'[{"signal_id": "x", "signal_id": "y"}, {"m": [{"k": 1, "k": 2}]}, {"signal_id": "z"}]'
    first, nested, fine = read_page(body).items
    assert twice_named(first) == "key 'signal_id' appears twice in one object"
    assert twice_named(nested) == "key 'k' appears twice in one object"
    assert twice_named(fine) is None
    assert (item_id(first), item_id(fine)) == (None, "z")


@pytest.mark.parametrize("signal_id", [5, "", "  ", "a\x00b", "\ud800", "x" * 2000, None])
def test_an_item_without_a_storable_signal_id_gives_no_cursor(signal_id: object) -> None:
    assert item_id({"signal_id": signal_id}) is None
    assert item_id([signal_id]) is None
