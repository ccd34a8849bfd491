"""The ccxt venue's config: what `validate-config` and `run` say before anything trades."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import config_data
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import load_config_data
from trading_bot.service.assembly import ServiceSetupError
from trading_bot.service.bot_service import start_bot
from trading_bot.service.faults import FaultPlan

CREDENTIALS = {"api_key": "k-123", "secret": "s-456"}


def ccxt_config(mode: str, **params: object) -> dict[str, object]:
    return config_data(
        mode=mode,
        exchange={"class": "ccxt", "params": {"exchange": "binance", **params}},
    )


def test_paper_mode_on_the_real_venue_is_warned_at_validation_and_refused_by_run(
    tmp_path: Path,
) -> None:
    data = ccxt_config("paper", credentials=CREDENTIALS)
    data["store"] = {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"}
    loaded = load_config_data(data, source="bot.yaml", environ={})
    assert any("would trade on the real venue" in w for w in loaded.warnings)
    with pytest.raises(ServiceSetupError, match="sandbox: true") as refused:
        asyncio.run(start_bot(loaded, FaultPlan(None)))
    # the way to paper trade on that venue's live prices without keys is named too
    assert "exchange.class: simulated with paper.live_data" in str(refused.value)


def test_paper_live_data_with_a_ccxt_exchange_is_a_config_error() -> None:
    data = ccxt_config("paper", credentials=CREDENTIALS, sandbox=True)
    data["paper"] = {"live_data": {"exchange": "binance", "symbols": ["BTC/USDT"]}}
    with pytest.raises(ConfigError) as refused:
        load_config_data(data, source="bot.yaml", environ={})
    assert "paper.live_data: matching on live prices runs the simulated exchange" in str(
        refused.value
    )


@pytest.mark.parametrize(
    "params", [{"sandbox": True}, {"api_url": "http://127.0.0.1:8765"}], ids=["testnet", "venue"]
)
def test_paper_mode_on_a_testnet_or_another_url_is_fine(params: dict[str, object]) -> None:
    loaded = load_config_data(
        ccxt_config("paper", credentials=CREDENTIALS, **params), source="bot.yaml", environ={}
    )
    assert not [w for w in loaded.warnings if "real venue" in w]


def test_missing_credentials_are_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_data(ccxt_config("live"), source="bot.yaml", environ={})
    text = str(caught.value)
    assert "exchange.params.credentials.api_key: required to trade" in text
    assert "exchange.params.credentials.secret: required to trade" in text


def test_an_empty_key_from_the_environment_is_missing_too() -> None:
    data = ccxt_config("live", credentials={"api_key": "${KEY:-}", "secret": "s"})
    with pytest.raises(ConfigError, match=r"credentials\.api_key: required"):
        load_config_data(data, source="bot.yaml", environ={})


def test_the_usual_spellings_of_keys_and_testnet_are_accepted() -> None:
    params = {"testnet": True, "credentials": {"apiKey": "k-1", "api_secret": "s-2"}}
    loaded = load_config_data(ccxt_config("paper", **params), source="bot.yaml", environ={})
    venue_params = loaded.exchange.params
    assert venue_params.sandbox is True  # type: ignore[attr-defined]
    assert venue_params.credentials.secret.get_secret_value() == "s-2"  # type: ignore[attr-defined]
