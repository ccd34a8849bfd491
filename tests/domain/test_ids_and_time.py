import re
from decimal import Decimal

import pytest

from trading_bot.domain.ids import client_order_id
from trading_bot.domain.money import floor_to_step, format_decimal
from trading_bot.domain.timestamps import format_ms, parse_epoch_ms


def test_client_order_id_is_deterministic_and_venue_safe() -> None:
    first = client_order_id("tv", "sig-1", 0)
    assert first == client_order_id("tv", "sig-1", 0)
    assert re.fullmatch(r"[a-z0-9-]{1,36}", first)
    assert first != client_order_id("tv", "sig-1", 1)
    assert first != client_order_id("ml", "sig-1", 0)
    with pytest.raises(ValueError, match="leg"):
        client_order_id("tv", "sig-1", -1)


def test_money_helpers_round_on_the_grid_and_print_plainly() -> None:
    assert floor_to_step(Decimal("1.239"), Decimal("0.01")) == Decimal("1.23")
    assert format_decimal(Decimal("1E+1")) == "10"
    assert format_decimal(Decimal("0.500")) == "0.5"


def test_time_parsing_round_trips() -> None:
    ms = parse_epoch_ms("2022-01-01T00:00:00.123Z")
    assert format_ms(ms) == "2022-01-01T00:00:00.123+00:00"
    with pytest.raises(ValueError, match="whole epoch"):
        parse_epoch_ms(1_640_995_200_000.5)
