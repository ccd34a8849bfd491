"""`trading-bot send-signal`: one signal to a running bot's webhook, its answer printed and,
with `--wait`, followed until it is done."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from trading_bot.cli.console import err, fail, out
from trading_bot.webhook_client import (
    FINAL,
    DeliveryError,
    UsageError,
    WebhookClient,
    exit_code,
    secret_from_env,
    signal_body,
)


def send_signal(
    url: Annotated[str, typer.Option(help="The bot's webhook.")] = "http://127.0.0.1:8080",
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="A JSON signal to send; - reads stdin.")
    ] = None,
    asset: Annotated[str | None, typer.Option(help="Unified symbol, e.g. BTC/USDT.")] = None,
    side: Annotated[str | None, typer.Option(help="buy or sell.")] = None,
    size: Annotated[str | None, typer.Option(help="Base amount.")] = None,
    notional: Annotated[str | None, typer.Option(help="Quote amount (instead of --size).")] = None,
    price: Annotated[str | None, typer.Option(help="Expected price.")] = None,
    signal_id: Annotated[str | None, typer.Option(help="Default: a new UUID.")] = None,
    source: Annotated[str | None, typer.Option(help="The signal's source.")] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(help="Name of the environment variable holding the webhook's hmac_secret."),
    ] = None,
    wait: Annotated[
        float | None,
        typer.Option(min=0, help="Follow the signal up to this many seconds until it is done."),
    ] = None,
) -> None:
    """Send one signal to a running bot's webhook and print its answer.

    Exit code 0: accepted (or executed); 1: the bot rejected or refused the signal; 2: bad
    options, or the bot could not be reached or refused the credentials.
    """
    fields = {"signal_id": signal_id, "asset": asset, "side": side, "size": size}
    fields |= {"notional": notional, "price": price, "source": source}
    if not url.startswith(("http://", "https://")):
        raise fail(f"--url {url!r}: expected http://host:port or https://...")
    try:
        body = signal_body(file, fields, sys.stdin.read)
        with WebhookClient(url, secret_from_env(secret_env)) as client:
            answer = client.post_signal(body)
            out.print(answer.describe(), highlight=False, markup=False, soft_wrap=True)
            if answer.taken and wait and answer.status not in FINAL:
                answer = client.wait(answer.body["status_url"], wait)
                out.print(answer.describe(), highlight=False, markup=False, soft_wrap=True)
                if answer.status not in FINAL:
                    err.print(f"still {answer.status} after {wait:g} s", highlight=False)
    except (UsageError, DeliveryError) as error:
        raise fail(str(error)) from None
    raise typer.Exit(exit_code(answer))
