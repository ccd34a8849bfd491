"""`${VAR}` and `${VAR:-default}` substitution in config values, and `.env` loading.

Substitution happens in parsed string values (not the raw text), so an unset variable is
reported with the key path it was needed for. `$$` writes a literal `$`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from trading_bot.config.errors import ConfigIssue, join_path

_PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_MALFORMED = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::-.*?)?\})")


def load_env_files(*candidates: Path) -> dict[str, str]:
    """Values from the given `.env` files that exist; earlier files win. Never overrides the
    process environment (the environment always wins over a file)."""
    merged: dict[str, str] = {}
    for candidate in reversed(candidates):
        if candidate.is_file():
            try:
                values = dotenv_values(candidate, encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise EnvFileError(f"{candidate}: cannot read the .env file ({error})") from None
            merged.update({k: v for k, v in values.items() if v is not None})
    return merged


class EnvFileError(Exception):
    """A .env file that exists but cannot be read."""


def substitute(
    value: Any, environ: Mapping[str, str], issues: list[ConfigIssue], path: str = ""
) -> Any:
    """Return `value` with every `${...}` in its strings replaced, recursing into lists/dicts.

    Problems are appended to `issues` with the key path where they occurred.
    """
    if isinstance(value, dict):
        return {
            k: substitute(v, environ, issues, join_path(path, [str(k)])) for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute(v, environ, issues, join_path(path, [i])) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    if _MALFORMED.search(value):
        issues.append(ConfigIssue(path, "malformed ${...}: expected ${NAME} or ${NAME:-default}"))
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found is not None and (found != "" or default is None):
            return found
        if default is not None:
            return default
        issues.append(
            ConfigIssue(
                path,
                f"environment variable {name} is not set (set it in the environment or a .env "
                f"file, or give a default with ${{{name}:-value}})",
            )
        )
        return ""

    return _PATTERN.sub(replace, value)


def referenced_variables(value: Any) -> set[str]:
    """Names of the variables `value` (parsed YAML) refers to as `${NAME}`."""
    if isinstance(value, dict):
        return set().union(*(referenced_variables(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(referenced_variables(v) for v in value))
    if not isinstance(value, str):
        return set()
    return {match.group(1) for match in _PATTERN.finditer(value) if match.group(1)}


def process_environ() -> dict[str, str]:
    return dict(os.environ)
