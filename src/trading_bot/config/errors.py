"""Config errors that name the key path, the bad value and what was expected."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

# `headers`: an intake source's HTTP headers carry auth (Authorization, X-Api-Key, cookies)
_SECRET_KEY = re.compile(
    r"(api_?key|apikey|secret|password|passphrase|token|private_?key|credential|webhook"
    r"|headers|authorization|cookie|alerts\.params\.urls)",
    re.I,
)


# environment variable names (BINANCE_API_SECRET); not WEBHOOK_PORT, which is no secret
_SECRET_VARIABLE = re.compile(
    r"(api_?key|apikey|secret|password|passwd|passphrase|token|private_?key|credential)", re.I
)


def is_secret_variable(name: str) -> bool:
    """The value of a variable named like this is masked wherever the config uses it."""
    return bool(_SECRET_VARIABLE.search(name))


def is_secret_key(path: str) -> bool:
    """Values under keys like these are never echoed back in an error."""
    return bool(_SECRET_KEY.search(path))


def masked(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value as ***, in any letter case (a validator may have
    upper-cased it, as `logging.level` does)."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    return text


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: str
    message: str
    planned: bool = False  # names a module the public contract has but this version lacks

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """One or more problems in a config file; `issues` lists every one found."""

    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{source}: {len(self.issues)} config error(s)\n{lines}")


def join_path(prefix: str, loc: Sequence[str | int]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def issues_from_validation(error: ValidationError, prefix: str = "") -> list[ConfigIssue]:
    """Turn pydantic's errors into issues with dotted key paths and the offending value."""
    issues = []
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if not _is_internal(part)]
        path = join_path(prefix, loc)
        message = _message(item)
        if item["type"] == "extra_forbidden":
            message = (
                "unknown key (check the spelling; see the README for the keys this section takes)"
            )
        elif item["type"] == "missing":
            message = "required key is missing"
        elif (
            "input" in item and not isinstance(item["input"], dict | list) and "got " not in message
        ):
            message = f"{message} (got {_shown(path, item['input'])})"
        issues.append(ConfigIssue(path, message))
    return issues


def _message(item: Any) -> str:
    message = str(item["msg"])
    return message.removeprefix("Value error, ")


def _is_internal(part: str | int) -> bool:
    # pydantic names union members and function validators in locations; users never wrote them
    return isinstance(part, str) and (
        part.startswith("function-") or "[" in part or part in {"decimal", "int", "str"}
    )


def _shown(path: str, value: object) -> str:
    if is_secret_key(path):
        return "'***'"
    if isinstance(value, str):
        return repr(_masked_url(value))
    return repr(value)


def _masked_url(value: str) -> str:
    """A URL's password and query values (either may be a token) as ***; other text as is."""
    value = URL_PASSWORD.sub(r"\1***@", value)
    if "://" not in value or "?" not in value:
        return value
    head, _, rest = value.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    masked = "&".join(
        f"{name}=***" if has_value else name
        for name, has_value, _ in (pair.partition("=") for pair in query.split("&"))
    )
    return f"{head}?{masked}{hash_mark}{fragment}"


# the password of a URL (`redis://:pw@host`, `amqp://user:pw@host`): group 1 is everything
# before it, group 2 the password
URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)@")
