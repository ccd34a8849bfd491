"""Which class a `class:` value names.

Three spellings are accepted: a short built-in name (`simulated`, `position_limits`), the
developer guide's own paths (`modules.strategy.combined.CombinedStrategy`) or bare class names,
and any importable dotted path `package.module.ClassName` for your own plugins.
Built-in names of modules that are planned but not shipped yet resolve to a clear error.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Planned:
    """A built-in module that is part of the public contract but not shipped in this version."""

    class_name: str


Target = str | Planned

BUILTINS: dict[str, dict[str, Target]] = {
    "exchange": {
        "simulated": "trading_bot.venues.simulated.exchange.SimulatedExchange",
        "ccxt": "trading_bot.venues.ccxt.venue.CCXTVenue",
        "futures": Planned("FuturesVenue"),
        "dex": Planned("DEXVenue"),
    },
    "strategy": {
        "detector_driven": "trading_bot.strategy.detector_driven.DetectorDrivenStrategy",
        "combined": "trading_bot.strategy.combined.CombinedStrategy",
    },
    "execution": {
        "market": "trading_bot.execution.market.MarketOrderExecution",
        "limit": "trading_bot.execution.limit.LimitOrderExecution",
        "iceberg": "trading_bot.execution.iceberg.IcebergExecution",
        "bracket": "trading_bot.execution.bracket.BracketOrderExecution",
        "twap": "trading_bot.execution.twap.TWAPExecution",
    },
    "risk": {
        "position_limits": "trading_bot.risk.position_limits.PositionLimitCheck",
        "drawdown": "trading_bot.risk.drawdown.DrawdownProtection",
        "correlation": "trading_bot.risk.correlation.CorrelationLimit",
        "exposure": "trading_bot.risk.exposure.ExposureLimit",
        "order_rate": "trading_bot.risk.order_rate.OrderRateLimit",
        "price_band": "trading_bot.risk.price_band.PriceBandCheck",
        "loss_cooldown": "trading_bot.risk.loss_cooldown.LossCooldown",
    },
    "intake": {
        "file": "trading_bot.intake.file_source.SignalFileSource",
        "webhook": "trading_bot.intake.webhook.WebhookSource",
        "websocket": "trading_bot.intake.websocket_client.WebSocketClientSource",
        "websocket_server": "trading_bot.intake.websocket_server.WebSocketServerSource",
        "redis": "trading_bot.intake.redis_streams.RedisStreamSource",
        "rabbitmq": "trading_bot.intake.rabbitmq.RabbitMQSource",
        "nats": "trading_bot.intake.nats_jetstream.NatsJetStreamSource",
        "kafka": "trading_bot.intake.kafka.KafkaSource",
        "rest_poll": "trading_bot.intake.rest_poll.RestPollSource",
    },
    "alerts": {"alerter": "trading_bot.monitoring.alerts.Alerter"},
    "analytics": {"performance": Planned("PerformanceAnalytics")},
    "tracking": {"order_tracker": Planned("OrderTracker")},
}

# The developer guide's module paths, lower-cased (the OCR'd guide spells some with odd case).
GUIDE_PATHS: dict[str, tuple[str, str]] = {
    "modules.exchange.simulated.simulatedexchange": ("exchange", "simulated"),
    "modules.exchange.ccxt_connector.ccxtconnector": ("exchange", "ccxt"),
    "modules.exchange.futures.futuresconnector": ("exchange", "futures"),
    "modules.exchange.dex_connector.dexconnector": ("exchange", "dex"),
    "modules.strategy.detector_driven.detectordrivenstrategy": ("strategy", "detector_driven"),
    "modules.strategy.combined.combinedstrategy": ("strategy", "combined"),
    "modules.execution.market.marketorderexecution": ("execution", "market"),
    "modules.execution.limit.limitorderexecution": ("execution", "limit"),
    "modules.execution.iceberg.icebergexecution": ("execution", "iceberg"),
    "modules.execution.bracket.bracketorderexecution": ("execution", "bracket"),
    "modules.execution.twap.twapexecution": ("execution", "twap"),
    "modules.risk.position_limits.positionlimitcheck": ("risk", "position_limits"),
    "modules.risk.drawdown.drawdownprotection": ("risk", "drawdown"),
    "modules.risk.correlation.correlationlimit": ("risk", "correlation"),
    # the same path shape for the checks the guide does not show
    "modules.risk.exposure.exposurelimit": ("risk", "exposure"),
    "modules.risk.price_band.pricebandcheck": ("risk", "price_band"),
    "modules.risk.order_rate.orderratelimit": ("risk", "order_rate"),
    "modules.risk.loss_cooldown.losscooldown": ("risk", "loss_cooldown"),
    "modules.monitoring.alerter.alerter": ("alerts", "alerter"),
    "modules.monitoring.analytics.performanceanalytics": ("analytics", "performance"),
    "modules.tracking.order_tracker.ordertracker": ("tracking", "order_tracker"),
}


class ClassResolutionError(Exception):
    """`class:` names nothing usable; the message says what is accepted instead."""


class PlannedModuleError(ClassResolutionError):
    """`class:` names a built-in module of the public contract that this version lacks."""


def resolve(kind: str, spec: str) -> type:
    """Import the class `spec` names for a module of `kind` (a key of BUILTINS)."""
    spec = spec.strip()
    builtins = BUILTINS[kind]
    target: Target | None = builtins.get(spec.lower())
    if target is None:
        alias = GUIDE_PATHS.get(spec.lower())
        if alias is not None and alias[0] == kind:
            target = builtins[alias[1]]
    if target is None:
        by_class = {_class_name(t).lower(): t for t in builtins.values()}
        target = by_class.get(spec.lower())
    if isinstance(target, Planned):
        shipped = sorted(name for name, t in builtins.items() if isinstance(t, str))
        raise PlannedModuleError(
            f"{spec!r} ({target.class_name}) is not available in this version yet; "
            f"available: {', '.join(shipped) or 'none'}"
        )
    return _import(target or spec, kind)


def _class_name(target: Target) -> str:
    return target.class_name if isinstance(target, Planned) else target.rsplit(".", 1)[-1]


def _import(path: str, kind: str) -> type:
    names = ", ".join(sorted(BUILTINS[kind]))
    expected = f"expected a built-in name ({names}) or a dotted path 'package.module.ClassName'"
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ClassResolutionError(f"unknown class {path!r}; {expected}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ClassResolutionError(f"cannot import {path!r}: {error}; {expected}") from None
    except Exception as error:  # a plugin that fails on import is reported, not raised
        raise ClassResolutionError(
            f"importing {module_name!r} failed: {type(error).__name__}: {error}"
        ) from None
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        raise ClassResolutionError(
            f"module {module_name!r} has no class {class_name!r}; {expected}"
        )
    return found
