from pathlib import Path

import pytest

from tests.conftest import config_data
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import load_config, load_config_data
from trading_bot.execution.market import MarketOrderExecution
from trading_bot.risk.position_limits import PositionLimitCheck
from trading_bot.strategy.detector_driven import DetectorDrivenStrategy
from trading_bot.venues.simulated.exchange import SimulatedExchange


def issues(data: object, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_data(data, source="bot.yaml", environ=environ or {})
    return [str(issue) for issue in caught.value.issues]


def test_minimal_config_resolves_short_names_to_modules() -> None:
    loaded = load_config_data(config_data(), source="bot.yaml", environ={})
    assert loaded.exchange.cls is SimulatedExchange
    assert loaded.strategy.cls is DetectorDrivenStrategy
    assert loaded.execution.cls is MarketOrderExecution
    assert loaded.risk_checks == []


def test_guide_paths_and_bare_class_names_are_aliases() -> None:
    data = config_data(
        exchange={"class": "modules.exchange.simulated.SimulatedExchange"},
        strategy={"class": "DetectorDrivenStrategy"},
        execution={"class": "trading_bot.execution.market.MarketOrderExecution"},
        risk={
            "checks": [
                {
                    "class": "modules.risk.position_limits.PositionLimitCheck",
                    "params": {"max_positions": 2},
                }
            ]
        },
    )
    loaded = load_config_data(data, source="bot.yaml", environ={})
    assert loaded.exchange.cls is SimulatedExchange
    assert loaded.risk_checks[0].cls is PositionLimitCheck
    assert loaded.risk_checks[0].params.max_positions == 2  # type: ignore[attr-defined]


def test_env_substitution_with_defaults_and_literal_dollar() -> None:
    data = config_data(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "${START_USDT}", "BTC": "${START_BTC:-0.5}"}},
        },
        logging={"file": "logs/$$HOME/${LOG_NAME:-bot}.log"},
    )
    loaded = load_config_data(data, source="bot.yaml", environ={"START_USDT": "123"})
    assert str(loaded.exchange.params.balances["USDT"]) == "123"  # type: ignore[attr-defined]
    assert str(loaded.exchange.params.balances["BTC"]) == "0.5"  # type: ignore[attr-defined]
    assert loaded.config.logging.file == "logs/$HOME/bot.log"


def test_unset_variable_names_the_key_path_and_the_variable() -> None:
    data = config_data(exchange={"class": "simulated", "params": {"balances": {"USDT": "${NOPE}"}}})
    (problem,) = issues(data)
    assert problem.startswith("exchange.params.balances.USDT: environment variable NOPE is not set")


def test_every_error_is_reported_at_once_with_paths_values_and_expectations() -> None:
    data = config_data(
        strategy={"class": "detector_driven", "params": {"min_confidence": 2}},
        risk={"checks": [{"class": "position_limits", "params": {"max_position_size": -5}}]},
        execution={"class": "my_plugins.nowhere.Fancy"},
    )
    found = issues(data)
    assert any(
        p.startswith("strategy.params.min_confidence:")
        and "less than or equal to 1" in p
        and "(got 2)" in p
        for p in found
    )
    assert any(
        p.startswith("risk.checks[0].params.max_position_size:")
        and "greater than 0" in p
        and "-5" in p
        for p in found
    )
    assert any(
        p.startswith("execution.class: cannot import 'my_plugins.nowhere.Fancy'") for p in found
    )


def test_unknown_keys_and_missing_sections_are_errors() -> None:
    data = config_data(strategy={"class": "detector_driven", "params": {"min_confidense": 0.5}})
    del data["exchange"]
    found = issues(data)
    assert "exchange: required key is missing" in found
    assert any(p.startswith("strategy.params.min_confidense: unknown key") for p in found)


def test_bad_mode_lists_the_allowed_values() -> None:
    (problem,) = issues(config_data(mode="yolo"))
    assert problem.startswith("mode:")
    assert "'backtest', 'paper' or 'live'" in problem


def test_planned_module_is_a_clear_error_unless_disabled() -> None:
    (problem,) = issues(config_data(exchange={"class": "futures"}))
    assert (
        "exchange.class: 'futures' (FuturesVenue) is not available in this version yet" in problem
    )
    # every built-in risk check ships now: a disabled one may still name a plugin not installed
    data = config_data(risk={"checks": [{"class": "my_plugins.risk.Future", "enabled": False}]})
    assert load_config_data(data, source="bot.yaml", environ={}).risk_checks == []


def test_class_of_the_wrong_kind_is_refused() -> None:
    (problem,) = issues(config_data(strategy={"class": "market"}))
    assert "strategy.class" in problem
    assert "detector_driven" in problem or "not a Strategy subclass" in problem
    (problem,) = issues(
        config_data(strategy={"class": "trading_bot.execution.market.MarketOrderExecution"})
    )
    assert "is not a Strategy subclass" in problem


def test_secret_values_are_masked_in_errors_and_collected_for_the_log_filter() -> None:
    data = config_data(
        exchange={"class": "simulated", "params": {"balances": {"USDT": "1"}}},
        monitoring={
            "alerts": {"enabled": False, "params": {"slack_webhook": "${HOOK}"}},
            "prometheus_port": "${HOOK}",
        },
    )
    found = issues(data, environ={"HOOK": "https://hooks.example/very-secret"})
    # not a secret key, but the value is a secret (it is the slack_webhook): not shown either
    assert any("prometheus_port" in p for p in found)
    assert not any("very-secret" in p for p in found)
    data["monitoring"] = {"alerts": {"params": {"slack_webhook": "${HOOK}"}}}
    loaded = load_config_data(
        data, source="bot.yaml", environ={"HOOK": "https://hooks.example/very-secret"}
    )
    assert "https://hooks.example/very-secret" in loaded.secrets


def test_secret_key_value_never_appears_in_a_validation_error() -> None:
    data = config_data(logging={"level": "INFO", "json": "${API_TOKEN}"})
    data["logging"]["api_token"] = "s3cr3t-value"
    found = issues(data, environ={"API_TOKEN": "s3cr3t-value"})
    assert not any("s3cr3t-value" in p for p in found if "api_token" in p)


def test_yaml_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("mode: backtest\nexchange: {class: simulated\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "invalid YAML at line" in str(caught.value)


def test_missing_file_and_non_mapping_top_level(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", environ={})
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config(path, environ={})


def test_dotenv_next_to_the_config_is_loaded_but_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("START_USDT=500\nSTART_BTC=2\n")
    path = tmp_path / "bot.yaml"
    path.write_text(
        "mode: backtest\n"
        "exchange: {class: simulated, params: {balances: {USDT: '${START_USDT}', BTC: '${START_BTC}'}}}\n"
    )
    loaded = load_config(path, environ={"START_BTC": "3"})
    balances = loaded.exchange.params.balances  # type: ignore[attr-defined]
    assert (str(balances["USDT"]), str(balances["BTC"])) == ("500", "3")


def test_guide_sections_are_accepted_and_unshipped_features_warn() -> None:
    data = config_data(
        exchange={"class": "simulated", "features": {"futures": False, "dex": False}},
        execution={"class": "market", "order_types": ["market", "limit"]},
        monitoring={
            "prometheus_port": 8000,
            "alerts": {
                "enabled": True,
                "class": "modules.monitoring.alerter.Alerter",
                "params": {"channels": ["slack"]},
            },
            "analytics": {
                "enabled": True,
                "class": "modules.monitoring.analytics.PerformanceAnalytics",
                "report_interval": 3600,
            },
        },
        tracking={
            "enabled": True,
            "class": "modules.tracking.order_tracker.OrderTracker",
            "params": {"persistence_enabled": True},
        },
        logging={"level": "debug"},
    )
    loaded = load_config_data(data, source="bot.yaml", environ={})
    assert loaded.config.logging.level == "DEBUG"
    assert len(loaded.warnings) == 3  # analytics, tracking, prometheus: alerts ship now
    assert loaded.alerter is not None


def test_readme_config_examples_are_valid() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = [
        b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if b.lstrip().startswith("mode:")
    ]
    assert blocks
    import yaml

    for block in blocks:
        load_config_data(yaml.safe_load(block), source="README.md", environ={})


def test_a_key_given_twice_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("mode: backtest\nexchange: {class: simulated}\nmode: live\n")
    with pytest.raises(ConfigError, match="line 3, column 1: found duplicate key 'mode'"):
        load_config(path, environ={})


def test_network_intake_sources_resolve_and_their_header_values_are_secrets() -> None:
    from trading_bot.intake.rest_poll import RestPollSource
    from trading_bot.intake.websocket_client import WebSocketClientSource

    sources = [
        {
            "class": "websocket",
            "params": {"url": "wss://det.example/ws", "headers": {"Authorization": "${DET}"}},
        },
        {"class": "rest_poll", "params": {"url": "https://det.example/s", "interval_s": 2}},
    ]
    environ = {"DET": "Bearer det-s3cr3t-77"}
    loaded = load_config_data(
        config_data(intake={"sources": sources}), source="bot.yaml", environ=environ
    )
    assert [(s.cls, s.name) for s in loaded.sources] == [
        (WebSocketClientSource, "websocket"),
        (RestPollSource, "rest_poll"),
    ]
    assert "Bearer det-s3cr3t-77" in loaded.secrets
    assert "det-s3cr3t-77" not in repr(loaded.sources[0].params)


def test_a_bad_header_value_is_reported_without_showing_it() -> None:
    sources = [
        {
            "class": "websocket",
            "params": {"url": "ws://det", "headers": {"X-Key": "abc-s3cr3t\nInjected: 1"}},
        }
    ]
    found = issues(config_data(intake={"sources": sources}))
    assert any("X-Key" in p and "line break" in p for p in found), found
    assert not any("s3cr3t" in p for p in found)


def test_broker_sources_resolve_and_passwords_in_their_urls_are_secrets() -> None:
    from trading_bot.intake.kafka import KafkaSource
    from trading_bot.intake.nats_jetstream import NatsJetStreamSource
    from trading_bot.intake.redis_streams import RedisStreamSource

    sources = [
        {"class": "redis", "params": {"url": "redis://:${REDIS_PW}@127.0.0.1/0", "stream": "s"}},
        {"class": "nats", "params": {"stream": "S", "subject": "signals.>", "durable": "bot"}},
        {"class": "kafka", "params": {"topic": "signals"}},
    ]
    loaded = load_config_data(
        config_data(intake={"sources": sources}), source="bot.yaml", environ={"REDIS_PW": "rpw-41"}
    )
    assert [s.cls for s in loaded.sources] == [RedisStreamSource, NatsJetStreamSource, KafkaSource]
    assert "rpw-41" in loaded.secrets  # masked in every log line, whoever writes it


def test_a_bad_port_in_a_source_url_is_a_config_error_that_hides_its_secrets() -> None:
    sources = [
        {"class": "redis", "params": {"url": "redis://:rpw-7781@127.0.0.1:notaport/0", "stream": "s"}},
        {"class": "rabbitmq", "params": {"url": "amqp://u:apw-7781@127.0.0.1:99999/", "queue": "q"}},
        {"class": "rest_poll", "params": {"url": "http://h:bad/s?token=tk-7781"}},
        {"class": "nats", "params": {"servers": "nats://u:npw-7781@h:x", "stream": "S",
                                     "subject": "a.b", "durable": "d"}},
    ]  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        load_config_data(config_data(intake={"sources": sources}), source="bot.yaml", environ={})
    text = str(refused.value)
    for index in range(4):
        assert f"intake.sources[{index}].params" in text
    assert text.count("port is not a number") == 4
    assert "7781" not in text


def test_two_sources_sharing_the_unnamed_namespace_are_warned_about() -> None:
    sources = [
        {"class": "redis", "params": {"stream": "s"}},
        {"class": "file", "params": {"path": "x.jsonl"}},
        {"class": "webhook", "params": {"port": 0, "source": "hook"}},
    ]
    loaded = load_config_data(
        config_data(intake={"sources": sources}), source="bot.yaml", environ={}
    )
    (warning,) = [w for w in loaded.warnings if "namespace" in w]
    assert warning.startswith("intake sources redis, file set no params.source")


def test_every_risk_check_takes_a_guide_style_module_path() -> None:
    from trading_bot.config.registry import resolve

    paths = {
        "modules.risk.exposure.ExposureLimit": "ExposureLimit",
        "modules.risk.price_band.PriceBandCheck": "PriceBandCheck",
        "modules.risk.order_rate.OrderRateLimit": "OrderRateLimit",
        "modules.risk.loss_cooldown.LossCooldown": "LossCooldown",
        "modules.risk.drawdown.DrawdownProtection": "DrawdownProtection",
    }
    assert {path: resolve("risk", path).__name__ for path in paths} == paths


LIVE_DATA = {"exchange": "Binance", "symbols": ["btc/usdt"], "api_url": "http://127.0.0.1:8765/"}


def test_paper_live_data_names_an_exchange_and_unified_symbols() -> None:
    loaded = load_config_data(
        config_data(mode="paper", paper={"live_data": LIVE_DATA}), source="bot.yaml", environ={}
    )
    live = loaded.config.paper.live_data
    assert live is not None
    assert (live.exchange, live.symbols, live.api_url) == (
        "binance",
        ["BTC/USDT"],
        "http://127.0.0.1:8765",
    )


def test_paper_market_data_and_live_data_together_are_an_error_naming_live_data() -> None:
    paper = {"market_data": {"BTC/USDT": "btc.csv"}, "live_data": LIVE_DATA}
    (found,) = issues(config_data(mode="paper", paper=paper))
    assert found.startswith("paper.live_data: give paper.live_data (live prices) or ")
    assert "not both" in found


def test_paper_live_data_refuses_unknown_keys_and_needs_symbols() -> None:
    found = issues(
        config_data(mode="paper", paper={"live_data": {"exchange": "binance", "api_key": "k"}})
    )
    assert any(p.startswith("paper.live_data.api_key: unknown key") for p in found)
    assert "paper.live_data.symbols: required key is missing" in found


def test_paper_live_data_checks_the_exchange_id_and_the_symbols() -> None:
    live = {"exchange": "nowhere", "symbols": ["BTCUSDT"], "ws_url": "127.0.0.1"}
    found = issues(config_data(mode="paper", paper={"live_data": live}))
    assert any(
        p.startswith("paper.live_data.exchange: 'nowhere' is not a ccxt exchange") for p in found
    )
    assert any(
        p.startswith("paper.live_data.symbols: 'BTCUSDT' is not a unified symbol") for p in found
    )
    assert any(p.startswith("paper.live_data.ws_url: '127.0.0.1' is not an http") for p in found)
