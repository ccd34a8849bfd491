"""Reading the bot's config file on the command line: every problem printed with its key
path and exit code 2 (`load_config_or_exit`, where each command that takes a config starts),
and `trading-bot validate-config`, which does only that."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trading_bot.cli.console import USAGE_ERROR, err, out
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import LoadedConfig, load_config


def load_config_or_exit(config: Path, env_file: Path | None) -> LoadedConfig:
    try:
        return load_config(config, env_file=env_file)
    except ConfigError as error:
        report_config_error(error)
        raise typer.Exit(USAGE_ERROR) from None


def report_config_error(error: ConfigError) -> None:
    err.print(f"[bold red]{error.source}: {len(error.issues)} config error(s)[/]")
    for issue in error.issues:
        err.print(f"  - {issue}", highlight=False, markup=False)


def validate_config(
    config: Annotated[Path, typer.Argument(help="The YAML config file to check.")],
    env_file: Annotated[
        Path | None, typer.Option(help="A .env file to read variables from.")
    ] = None,
) -> None:
    """Check a config file: prints OK, or every error found with its key path.

    A config whose only problem is naming modules this version does not ship yet (the guide's
    `iceberg`, `bracket`, `ccxt`...) is valid: OK, with a warning that it cannot run yet.
    """
    try:
        loaded = load_config(config, env_file=env_file)
    except ConfigError as error:
        if not all(issue.planned for issue in error.issues):
            report_config_error(error)
            raise typer.Exit(USAGE_ERROR) from None
        for issue in error.issues:
            err.print(
                f"[yellow]warning:[/] {issue} (running this config fails until it ships)",
                highlight=False,
            )
        out.print(
            f"OK: {config} is valid, but names modules not available in this version",
            highlight=False,
        )
        return
    for warning in loaded.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(f"OK: {config} is a valid {loaded.config.mode.value} config", highlight=False)
