"""The client side of the webhook: what `trading-bot send-signal` uses to post a signal to a
running bot and follow it.

Every request is signed afresh (the bot refuses a signature it has seen, so a retry must not
reuse one). The secret comes from the environment, never from the command line, where any
user of the machine could read it in the process list.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from trading_bot.intake.http_auth import signed_headers

FINAL = {"executed", "rejected"}
POLL_S = 0.5


class DeliveryError(Exception):
    """The signal could not be delivered or followed (unreachable bot, refused credentials,
    an answer that is not the webhook's); the message says what to check."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot answered: its HTTP status and JSON body."""

    http_status: int
    body: dict[str, Any]

    @property
    def taken(self) -> bool:
        """The signal is recorded (new or a duplicate): its status says what became of it."""
        return self.http_status in (200, 202)

    @property
    def status(self) -> str | None:
        value = self.body.get("status")
        return value if isinstance(value, str) else None

    def describe(self) -> str:
        """One line for a person: outcome, signal, status and why."""
        body = self.body
        if not self.taken:
            problems = body.get("problems") or []
            extra = "".join(f"\n  - {p}" for p in problems) if len(problems) > 1 else ""
            return f"refused (HTTP {self.http_status} {body.get('error')}): {body.get('reason')}{extra}"
        outcome = body.get("outcome", "status")
        text = f"{outcome}: signal {body.get('signal_id')!r} from source {body.get('source')!r} is {self.status}"
        if body.get("reason"):
            text += f" ({body['reason']}{': ' + body['detail'] if body.get('detail') else ''})"
        for order in body.get("orders", []):
            text += (
                f"\n  order {order['client_order_id']}: {order['side']} {order['amount']} "
                f"{order['symbol']} {order['type']}, {order['status']}, filled {order['filled']}"
                + (f" at {order['average_price']}" if order.get("average_price") else "")
            )
        return text


class WebhookClient:
    def __init__(self, url: str, secret: str | None, timeout_s: float = 10.0) -> None:
        self._secret = secret
        self._url = url.rstrip("/")
        self._http = httpx.Client(base_url=self._url, timeout=timeout_s)

    def __enter__(self) -> WebhookClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def post_signal(self, body: bytes) -> Answer:
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            headers.update(signed_headers(self._secret, body))
        return self._send("POST", "/signals", body, headers)

    def status(self, status_url: str) -> Answer:
        headers = signed_headers(self._secret, b"") if self._secret is not None else {}
        return self._send("GET", status_url, b"", headers)

    def wait(
        self, status_url: str, seconds: float, sleep: Callable[[float], None] = time.sleep
    ) -> Answer:
        """Poll the signal's status until it is executed or rejected, or `seconds` passed."""
        deadline = time.monotonic() + seconds
        while True:
            answer = self.status(status_url)
            if answer.status in FINAL or time.monotonic() >= deadline:
                return answer
            sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))

    def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            response = self._http.request(method, path, content=body or None, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError(f"no answer from {self._url} in time") from None
        except httpx.HTTPError as error:
            raise DeliveryError(
                f"cannot reach the bot at {self._url}: {error or type(error).__name__} "
                "(is it running, with a webhook source on this address?)"
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise DeliveryError(
                f"{method} {self._url}{path} answered HTTP {response.status_code} that is not "
                "the bot's webhook JSON (wrong --url?)"
            )
        return Answer(response.status_code, data)


class UsageError(Exception):
    """The command line does not describe one signal to send; the message says why."""


def signal_body(
    file: str | None,
    fields: dict[str, str | None],
    read_stdin: Callable[[], str],
) -> bytes:
    """The JSON to post: the file (or stdin for "-") as written, or a signal built from the
    options (`signal_id` generated when not given)."""
    given = {name: value for name, value in fields.items() if value is not None}
    if file is not None:
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            raise UsageError(f"give the signal by --file or by options, not both (got {options})")
        try:
            text = read_stdin() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--file {file}: cannot read it ({error})") from None
        try:
            decoded = json.loads(text)
        except ValueError as error:
            raise UsageError(f"--file {file}: not valid JSON ({error})") from None
        if not isinstance(decoded, dict):
            raise UsageError(f"--file {file}: expected one JSON object (a signal)")
        return text.strip().encode("utf-8")
    missing = [name for name in ("asset", "side") if name not in given]
    if "size" in given and "notional" in given:
        raise UsageError("give --size or --notional, not both")
    if "size" not in given and "notional" not in given:
        missing.append("size (or notional)")
    if missing:
        raise UsageError(
            "missing " + ", ".join("--" + m for m in missing) + " (or give the signal as --file)"
        )
    payload = {"signal_id": str(uuid.uuid4()), **given}
    return json.dumps(payload).encode("utf-8")


def secret_from_env(name: str | None) -> str | None:
    """The signing secret from the environment variable `name` (None: send unsigned)."""
    if name is None:
        return None
    secret = os.environ.get(name)
    if not secret:
        # the name is not echoed: a user who put the secret itself there would see it printed
        raise UsageError(
            "--secret-env: no such environment variable, or it is empty (give the NAME of "
            "the variable that holds the webhook's hmac_secret, not the secret)"
        )
    return secret


def exit_code(answer: Answer) -> int:
    """0: taken (and not rejected); 1: the bot rejected or refused the signal itself;
    2: the request was not acceptable (credentials, address, route)."""
    if answer.taken:
        return 1 if answer.status == "rejected" else 0
    return 1 if answer.http_status in (400, 413, 422, 429) else 2
