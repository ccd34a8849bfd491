"""Read, substitute, validate and resolve a config file, reporting every problem at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from trading_bot.config.env import (
    EnvFileError,
    load_env_files,
    process_environ,
    referenced_variables,
    substitute,
)
from trading_bot.config.errors import (
    URL_PASSWORD,
    ConfigError,
    ConfigIssue,
    is_secret_key,
    is_secret_variable,
    issues_from_validation,
    masked,
)
from trading_bot.config.models import (
    BotConfig,
    ExchangeSpec,
    ExecutionSpec,
    ModuleSpec,
    RiskConfig,
    StrategySpec,
)
from trading_bot.config.registry import ClassResolutionError, PlannedModuleError, resolve
from trading_bot.engine.component import Component
from trading_bot.execution.base import ExecutionAlgorithm
from trading_bot.intake.source import SignalSource
from trading_bot.monitoring.alerts import Alerter
from trading_bot.risk.base import RiskCheck
from trading_bot.strategy.base import Strategy
from trading_bot.venues.base import Venue

_BASES: dict[str, type] = {
    "exchange": Venue,
    "strategy": Strategy,
    "execution": ExecutionAlgorithm,
    "risk": RiskCheck,
    "intake": SignalSource,
    "alerts": Alerter,
}


@dataclass(frozen=True, slots=True)
class ResolvedModule:
    """A module section whose class imported and whose params validated."""

    cls: type
    params: BaseModel

    def build(self) -> Any:
        return self.cls(self.params)


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    """An `intake.sources` entry: its class, validated params and unique name."""

    cls: type[SignalSource]
    params: BaseModel
    name: str

    def build(self) -> SignalSource:
        return self.cls(self.params, self.name)  # type: ignore[arg-type]


@dataclass(slots=True)
class LoadedConfig:
    config: BotConfig
    exchange: ResolvedModule
    strategy: ResolvedModule
    execution: ResolvedModule
    risk_checks: list[ResolvedModule]
    source: str
    sources: list[ResolvedSource] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    alerter: ResolvedModule | None = None  # `monitoring.alerts` when enabled


def load_config(
    path: str | Path, *, env_file: str | Path | None = None, environ: dict[str, str] | None = None
) -> LoadedConfig:
    """Load a config file. Raises `ConfigError` listing every problem found."""
    path = Path(path)
    source = str(path)
    raw = _read_yaml(path)
    env_files = [Path(env_file)] if env_file else [path.parent / ".env", Path.cwd() / ".env"]
    if env_file and not Path(env_file).is_file():
        raise ConfigError(source, [ConfigIssue("--env-file", f"{env_file} does not exist")])
    base_env = process_environ() if environ is None else environ
    try:
        merged_env = {**load_env_files(*env_files), **base_env}
    except EnvFileError as error:
        raise ConfigError(source, [ConfigIssue(".env", str(error))]) from None
    return load_config_data(raw, source=source, environ=merged_env)


def load_config_data(raw: object, *, source: str, environ: dict[str, str]) -> LoadedConfig:
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(
            source, [ConfigIssue("", f"expected a mapping of sections at the top, got {kind}")]
        )
    issues: list[ConfigIssue] = []
    data = substitute(raw, environ, issues, "")
    substitution_issues = list(issues)
    secrets = _secret_values(raw, data) | _secret_variables(raw, environ)
    config: BotConfig | None = None
    try:
        config = BotConfig.model_validate(data)
    except ValidationError as error:
        issues.extend(issues_from_validation(error))

    # Module sections are resolved even when another section is broken, so one run of
    # validate-config shows every problem.
    sections = data if isinstance(data, dict) else {}
    exchange = _resolve("exchange", "exchange", _spec(config, sections, "exchange"), issues)
    strategy = _resolve("strategy", "strategy", _spec(config, sections, "strategy"), issues)
    execution = _resolve("execution", "execution", _spec(config, sections, "execution"), issues)
    checks: list[ResolvedModule] = []
    risk = config.risk if config is not None else _risk_section(sections)
    if risk is not None and risk.enabled:
        for index, spec in enumerate(risk.checks):
            resolved = _resolve(
                "risk", f"risk.checks[{index}]", spec, issues, optional=not spec.enabled
            )
            if resolved is not None and spec.enabled:
                checks.append(resolved)
    sources = _resolve_sources(config, issues) if config is not None else []
    if config is not None and exchange is not None:
        for path, problem in exchange.cls.problems_in_mode(config.mode.value, exchange.params):
            issues.append(ConfigIssue(f"exchange.{path}", problem))
        if config.paper.live_data is not None and not exchange.cls.matches_in_process:
            issues.append(
                ConfigIssue(
                    "paper.live_data",
                    "matching on live prices runs the simulated exchange: set exchange.class: "
                    f"simulated, or remove paper.live_data ({config.exchange.class_path!r} "
                    "matches its own orders)",
                )
            )
    alerter = None
    if config is not None and config.monitoring.alerts.enabled:
        alerter = _resolve("alerts", "monitoring.alerts", config.monitoring.alerts, issues)  # type: ignore[arg-type]
    if issues or config is None or exchange is None or strategy is None or execution is None:
        # A value already reported as an unset ${VAR} is not reported again as invalid.
        unset = {issue.path.lower() for issue in substitution_issues}
        extra = [i for i in issues[len(substitution_issues) :] if i.path.lower() not in unset]
        # a secret given under the wrong key is not echoed back either
        shown = [
            ConfigIssue(issue.path, masked(issue.message, secrets), issue.planned)
            for issue in substitution_issues + extra
        ]
        raise ConfigError(source, shown)
    warnings: list[str] = []
    _warn_unshipped(config, warnings)
    real_money = getattr(exchange.cls, "real_money_in_paper", None)
    problem = real_money(exchange.params) if real_money is not None else None
    if config.mode.value == "paper" and problem is not None:
        warnings.append(f"{problem} (`run` refuses this config)")
    _warn_shared_namespace(sources, warnings)
    return LoadedConfig(
        config, exchange, strategy, execution, checks, source, sources, secrets, warnings, alerter
    )


def _resolve_sources(config: BotConfig, issues: list[ConfigIssue]) -> list[ResolvedSource]:
    sources: list[ResolvedSource] = []
    names: dict[str, int] = {}
    for index, spec in enumerate(config.intake.sources):
        path = f"intake.sources[{index}]"
        resolved = _resolve("intake", path, spec, issues)
        name = spec.name or spec.class_path.strip().rsplit(".", 1)[-1].lower()
        if name in names:
            issues.append(
                ConfigIssue(
                    f"{path}.name",
                    f"intake.sources[{names[name]}] is also named {name!r}; give each source "
                    "its own name (it keys its saved position and its counts)",
                )
            )
            continue
        names[name] = index
        if resolved is not None:
            sources.append(ResolvedSource(resolved.cls, resolved.params, name))
    return sources


def _warn_shared_namespace(sources: list[ResolvedSource], warnings: list[str]) -> None:
    """Signals are deduplicated on (source, signal_id), and a payload that names no `source`
    gets its intake source's `params.source`, else "". Two intake sources without one share
    that namespace: a signal_id one detector reuses from another's would be dropped as a
    duplicate."""
    unnamed = [s.name for s in sources if getattr(s.params, "source", None) is None]
    if len(unnamed) > 1:
        warnings.append(
            f"intake sources {', '.join(unnamed)} set no params.source: signals that name no "
            "source share one namespace, so a signal_id sent on one of them is a duplicate if "
            "it was already seen on another; give each its own params.source"
        )


def _spec(config: BotConfig | None, sections: dict[str, Any], name: str) -> ModuleSpec | None:
    if config is not None:
        spec: ModuleSpec = getattr(config, name)
        return spec
    model = {"exchange": ExchangeSpec, "strategy": StrategySpec, "execution": ExecutionSpec}[name]
    try:
        return model.model_validate(sections.get(name, {}))
    except ValidationError:
        return None  # already reported by the whole-file validation


def _risk_section(sections: dict[str, Any]) -> RiskConfig | None:
    try:
        return RiskConfig.model_validate(sections.get("risk", {}))
    except ValidationError:
        return None


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (PyYAML keeps the last one
    silently, so `mode: live` further down would quietly win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigIssue("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the file: {error}")]) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            str(path), [ConfigIssue("", f"invalid YAML at {where}{problem}")]
        ) from None


def _resolve(
    kind: str,
    path: str,
    spec: ModuleSpec | None,
    issues: list[ConfigIssue],
    *,
    optional: bool = False,
) -> ResolvedModule | None:
    """Import and validate one module section. `optional` (a disabled risk check) tolerates a
    name that does not resolve."""
    if spec is None:
        return None
    try:
        cls = resolve(kind, spec.class_path)
    except ClassResolutionError as error:
        if optional:
            return None
        issues.append(
            ConfigIssue(f"{path}.class", str(error), isinstance(error, PlannedModuleError))
        )
        return None

    base = _BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        issues.append(
            ConfigIssue(f"{path}.class", f"{spec.class_path!r} is not a {base.__name__} subclass")
        )
        return None
    params_model: type[BaseModel] = (
        cls.Params if issubclass(cls, Component | Venue | SignalSource | Alerter) else BaseModel
    )
    try:
        params = params_model.model_validate(spec.params)
    except ValidationError as error:
        issues.extend(issues_from_validation(error, f"{path}.params"))
        return None
    return ResolvedModule(cls, params)


def _warn_unshipped(config: BotConfig, warnings: list[str]) -> None:
    if config.monitoring.analytics.enabled:
        warnings.append(
            "monitoring.analytics is enabled but periodic analytics reports are not available in "
            "this version yet (backtests still print their summary)"
        )
    if config.tracking.enabled:
        warnings.append(
            "tracking is enabled but the persistent order tracker is not available in this version yet"
        )
    if config.monitoring.prometheus_port is not None:
        warnings.append(
            "monitoring.prometheus_port is set but the metrics endpoint is not available in this version yet"
        )


def _secret_values(raw: object, substituted: object, path: str = "") -> set[str]:
    """Values of secret-looking keys (api keys, secrets, tokens...): the log filter masks them."""
    found: set[str] = set()
    if isinstance(raw, dict) and isinstance(substituted, dict):
        for key, value in raw.items():
            found |= _secret_values(value, substituted.get(key), f"{path}.{key}")
    elif isinstance(raw, list) and isinstance(substituted, list):
        for index, (a, b) in enumerate(zip(raw, substituted, strict=False)):
            found |= _secret_values(a, b, f"{path}[{index}]")
    elif isinstance(substituted, str) and substituted and is_secret_key(path):
        found.add(substituted)
    elif isinstance(substituted, str):
        found |= _url_credentials(substituted)
    return found


def _secret_variables(raw: object, environ: dict[str, str]) -> set[str]:
    """Values of the `${VAR}`s with secret-looking names (BINANCE_API_SECRET...) wherever the
    config uses them: a key set under the wrong name is a secret all the same."""
    return {
        environ[name]
        for name in referenced_variables(raw)
        if is_secret_variable(name) and environ.get(name)
    }


def _url_credentials(value: str) -> set[str]:
    """The password of a URL (`redis://:pw@host`, `amqp://user:pw@host`) in any value: a
    broker library may put the URL in its own log line or exception."""
    return {match.group(2) for match in URL_PASSWORD.finditer(value)}
