"""The combined strategy is selectable from YAML as the developer guide writes it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import config_data
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import load_config_data
from trading_bot.strategy.combined import CombinedParams, CombinedStrategy


def load_strategy(strategy: dict[str, object]) -> tuple[type, object]:
    loaded = load_config_data(config_data(strategy=strategy), source="bot.yaml", environ={})
    return loaded.strategy.cls, loaded.strategy.params


def problems(strategy: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_data(config_data(strategy=strategy), source="bot.yaml", environ={})
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    "name", ["combined", "modules.strategy.combined.CombinedStrategy", "CombinedStrategy"]
)
def test_combined_is_selected_by_short_name_guide_path_or_class_name(name: str) -> None:
    cls, params = load_strategy(
        {"class": name, "params": {"require_confirmation": True, "internal_weight": 0.5}}
    )
    assert cls is CombinedStrategy
    assert isinstance(params, CombinedParams)
    assert params.internal_weight == Decimal("0.5")


def test_defaults_are_those_the_readme_lists() -> None:
    params = CombinedParams()
    assert (params.min_confidence, params.internal_weight, params.require_confirmation) == (
        0,
        Decimal("0.5"),
        True,
    )
    assert (params.buffer_max, params.buffer_ttl_s, params.recheck_interval_s) == (100, 300, 60)
    assert params.on_insufficient_data == "reject"
    assert (params.fast_period, params.slow_period, params.momentum_period) == (5, 20, 10)
    assert params.bar_interval_s == 60 and params.full_strength_move == Decimal("0.002")


def test_bad_params_are_reported_by_key_with_what_is_expected() -> None:
    found = problems(
        {
            "class": "combined",
            "params": {
                "internal_weight": 1.5,
                "buffer_max": 0,
                "on_insufficient_data": "guess",
                "require_confirmaton": True,
            },
        }
    )
    assert any(p.startswith("strategy.params.internal_weight:") and "1.5" in p for p in found)
    assert any(p.startswith("strategy.params.buffer_max:") for p in found)
    assert any(
        p.startswith("strategy.params.on_insufficient_data:") and "'reject'" in p for p in found
    )
    assert any(p.startswith("strategy.params.require_confirmaton: unknown key") for p in found)


def test_a_fast_average_not_faster_than_the_slow_one_is_refused() -> None:
    (problem,) = problems({"class": "combined", "params": {"fast_period": 20, "slow_period": 20}})
    assert "fast_period (20) must be below slow_period (20)" in problem
