"""Configuration: YAML + ${ENV} + .env, validated with pydantic, modules chosen by class path."""

from trading_bot.config.errors import ConfigError, ConfigIssue
from trading_bot.config.loader import load_config

__all__ = ["ConfigError", "ConfigIssue", "load_config"]
