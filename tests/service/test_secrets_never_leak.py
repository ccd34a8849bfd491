"""Secrets never leak: API key and secret, webhook secrets, an alert URL's token and a URL
password, set in the environment and referenced as ${VAR} from the config, must appear
nowhere the bot writes: the output of any command, the log file, the store, the alerts sent.

A real `trading-bot run` trades through ccxt against `trading-bot venue serve`, whose faults
are set over its admin route so the paths most likely to carry a secret are taken: signed
requests refused for the key or the signature (with the venue echoing the key back), 5xx,
throttling, a ban (which alerts through apprise to a local receiver), a timeout; a webhook
request with a bad signature and TradingView alerts carrying their secret; a start-up refused
for a wrong secret; `validate-config` with bad values next to secrets; `report`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import ccxt
import pytest
import yaml
from loguru import logger

from tests.alert_receiver import alert_receiver
from tests.conftest import EXAMPLES
from trading_bot.config.errors import ConfigError
from trading_bot.config.loader import load_config
from trading_bot.config.models import LoggingConfig
from trading_bot.monitoring.logging import configure_logging
from trading_bot.venues.ccxt.errors import describe
from trading_bot.venues.ccxt.guard import RATE_LIMIT_PAUSE_MS
from trading_bot.webhook_client import WebhookClient

API_KEY = "AKprobe7Q2xZ9kW4mN8pR1sT6vY3aaaa"
API_SECRET = "SKprobe+9fJ3/xQ7=wE5zzzz"  # URL-encoding changes it: both forms are looked for
WRONG_SECRET = "WSprobe4Tg6Hj8Kl0Zx2"  # a mistyped secret is a secret all the same
WEBHOOK_SECRET = "WHprobe-8Vn2Bm4Nq6Wr9Ty1"
TRADINGVIEW_SECRET = 'TVprobe"quote\\slash-5Rt7'  # JSON escapes it: the escaped form counts
ALERT_TOKEN = "ATprobe5Gh7Jk9Lm2Pq4"
URL_PASSWORD = "UPprobe3Xc5Vb7Nm9Qw"  # the password of a proxy-style venue URL

SECRETS = {
    "API_KEY": API_KEY,
    "API_SECRET": API_SECRET,
    "WRONG_SECRET": WRONG_SECRET,
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "TRADINGVIEW_SECRET": TRADINGVIEW_SECRET,
    "ALERT_TOKEN": ALERT_TOKEN,
    "URL_PASSWORD": URL_PASSWORD,
}

COMMAND_TIMEOUT_S = 30


def forms(secret: str) -> set[str]:
    """The ways a secret can be written down: as is, in upper or lower case, URL-encoded,
    JSON-escaped."""
    encoded = {quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    return {secret, secret.upper(), secret.lower(), *encoded}


def leaks(texts: dict[str, str]) -> list[str]:
    found = []
    for where, text in texts.items():
        for name, secret in SECRETS.items():
            for form in forms(secret):
                if form in text:
                    at = text.index(form)
                    found.append(f"{name} in {where}: ...{text[max(0, at - 150) : at + 60]!r}")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "BINANCE_API_KEY": API_KEY,
        "BINANCE_API_SECRET": API_SECRET,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TRADINGVIEW_SECRET": TRADINGVIEW_SECRET,
        "ALERT_URL": "",
        "VENUE_URL": "",
        **extra,
    }


def command(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trading_bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


@contextlib.contextmanager
def commands(
    named: dict[str, tuple[list[str], dict[str, str]]], cwd: Path
) -> Iterator[Callable[[], dict[str, tuple[int, str]]]]:
    """Start the commands side by side; the function given waits for them and returns the
    exit code and the output (stdout and stderr) of each. Any still running at exit is
    killed."""
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "trading_bot", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, env) in named.items()
    }

    def results() -> dict[str, tuple[int, str]]:
        done = {}
        for name, child in started.items():
            stdout, stderr = child.communicate(timeout=COMMAND_TIMEOUT_S)
            output = f"exit {child.returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
            done[name] = (child.returncode, output)
        return done

    try:
        yield results
    finally:
        for child in started.values():
            if child.poll() is None:
                child.kill()
            child.communicate()


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], cwd: Path, name: str) -> Iterator[Any]:
    """A long-running command, output to files; stopped (and killed if need be) on exit."""
    out, err = cwd / f"{name}.out", cwd / f"{name}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "trading_bot", *args],
            env=env,
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def wait_for(path: Path, needle: str, child: subprocess.Popen[str], timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            return text
        if child.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared in {path.name}:\n{path.read_text()}")


def inject(rest_url: str, **rule: Any) -> None:
    request = urllib.request.Request(
        f"{rest_url}/_admin/faults",
        data=json.dumps(rule).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status < 300


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def store_dump(path: Path) -> str:
    """Every row of every table, as text."""
    lines = []
    with contextlib.closing(sqlite3.connect(path)) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                lines.append(f"{table}: {row!r}")
                # bytes and escaped reprs aside, the plain text of each value
                lines.extend(
                    value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    for value in row
                )
    return "\n".join(lines)


def venue_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "venue.yaml"
    config = {
        "market_data": {"BTC/USDT": str(EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv")},
        "replay_speed": 60,
        "horizon_hours": 1,
        "api_key": "${VENUE_API_KEY}",
        "api_secret": "${VENUE_API_SECRET}",
        "exchange": {
            "balances": {"USDT": "50000", "BTC": "0.5"},
            "fees": {"maker": "0.0002", "taker": "0.0007"},
            "markets": {
                "BTC/USDT": {
                    "amount_step": "0.0001",
                    "price_step": "0.01",
                    "min_amount": "0.0001",
                    "min_notional": "10",
                }
            },
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def bot_config(tmp_path: Path, name: str, webhook_port: int, **changes: Any) -> Path:
    config: dict[str, Any] = {
        "mode": "paper",
        "exchange": {
            "class": "ccxt",
            "params": {
                "exchange": "binance",
                "api_url": "${VENUE_URL}",
                "ws_url": "${VENUE_WS_URL}",
                "credentials": {"api_key": "${BINANCE_API_KEY}", "secret": "${BINANCE_API_SECRET}"},
                "symbols": ["BTC/USDT"],
                "timeout_ms": 1500,
                "retry": {"attempts": 2, "initial_wait_s": 0.05, "max_wait_s": 0.1},
                "breaker": {"failures": 50, "recovery_s": 1},
            },
        },
        "intake": {
            "sources": [
                {
                    "class": "webhook",
                    "params": {
                        "host": "127.0.0.1",
                        "port": webhook_port,
                        "source": "webhook",
                        "hmac_secret": "${WEBHOOK_SECRET}",
                        "tradingview_secret": "${TRADINGVIEW_SECRET}",
                    },
                }
            ]
        },
        "store": {"url": f"sqlite:///{tmp_path / (name + '.sqlite')}"},
        "recovery": {"reconcile_interval_s": 0.5, "snapshot_interval_s": 1},
        "monitoring": {"alerts": {"enabled": True, "params": {"urls": ["${ALERT_URL}"]}}},
        "logging": {"level": "DEBUG", "json": True, "file": str(tmp_path / f"{name}.log")},
    }
    config.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_secrets_reach_no_output_log_store_or_alert(tmp_path: Path):
    texts: dict[str, str] = {}
    venue_env = {
        **environment(),
        "VENUE_API_KEY": API_KEY,
        "VENUE_API_SECRET": API_SECRET,
    }
    with contextlib.ExitStack() as stack:
        inbox = stack.enter_context(alert_receiver())
        alert_port, alert_bodies = inbox.port, inbox.bodies
        venue = stack.enter_context(
            process(
                ["venue", "serve", "-c", str(venue_yaml(tmp_path)), "--port", "0"],
                venue_env,
                tmp_path,
                "venue",
            )
        )
        line = wait_for(tmp_path / "venue.err", "venue server up: REST ", venue)
        rest_url = line.split("venue server up: REST ", 1)[1].split()[0]
        port = rest_url.rsplit(":", 1)[1]
        webhook_port = free_port()
        env = environment(
            # the venue URL carries a password (a proxy's): it must be masked like a key
            VENUE_URL=f"http://botuser:{URL_PASSWORD}@127.0.0.1:{port}",
            VENUE_WS_URL=f"ws://127.0.0.1:{port}",
            ALERT_URL=f"json://alerts:{ALERT_TOKEN}@127.0.0.1:{alert_port}/hook",
        )
        config = bot_config(tmp_path, "bot", webhook_port)
        webhook = f"http://127.0.0.1:{webhook_port}"
        # validate-config: bad values next to secrets, and secrets put under the wrong key
        bad = bot_config(tmp_path, "bad", free_port())
        data = yaml.safe_load(bad.read_text())
        params = data["exchange"]["params"]
        params["timeout_ms"] = "soon"
        params["exchange"] = "${BINANCE_API_SECRET}"  # the wrong variable, in a plain key
        params["ws_url"] = f"ftp://botuser:{URL_PASSWORD}@127.0.0.1"
        params["credentials"]["api_key"] = ["${BINANCE_API_KEY}"]
        data["intake"]["sources"][0]["params"]["port"] = "${WEBHOOK_SECRET}"
        data["logging"]["level"] = "${BINANCE_API_KEY}"  # upper-cased by its validator
        bad.write_text(yaml.safe_dump(data))
        # ...and a start-up refused for a wrong secret: both side by side with the bot's
        wrong = bot_config(tmp_path, "wrong", free_port())
        early = stack.enter_context(
            commands(
                {
                    "run with a wrong secret": (
                        ["run", "-c", str(wrong)], {**env, "BINANCE_API_SECRET": WRONG_SECRET}
                    ),
                    "validate-config": (["validate-config", str(bad)], env),
                },
                tmp_path,
            )
        )  # fmt: skip

        with process(["run", "-c", str(config)], env, tmp_path, "run") as bot:
            wait_for(tmp_path / "run.err", "bot running: mode", bot)
            # the venue refuses an order echoing the key (send-signal prints the answer)
            inject(
                rest_url, kind="status", method="POST", path="/api/v3/order", status=401,
                code=-2015, msg=f"Invalid API-key, IP, or permissions for action: {API_KEY}",
            )  # fmt: skip
            texts["send-signal"] = _send(env, tmp_path, webhook)
            # ccxt reads -2015 as DDoSProtection: the bot holds orders for its first back-off
            # before sending again, and the faults below must reach the venue
            time.sleep(RATE_LIMIT_PAUSE_MS[0] / 1000 + 0.5)
            answers = []
            with WebhookClient(webhook, WEBHOOK_SECRET) as client:
                faults: list[dict[str, Any]] = [
                    # the signature refused, the secret echoed
                    {"method": "POST", "path": "/api/v3/order", "status": 400, "code": -1022,
                     "msg": f"Signature for this request is not valid ({API_SECRET})."},
                    # no answer worth reading: the bot looks the order up (ccxt's text has URLs)
                    {"method": "POST", "path": "/api/v3/order", "status": 502},
                    {"path": "*", "status": 500, "count": 3},
                    {"path": "*", "status": 429},
                    {"kind": "delay", "path": "*", "delay_s": 1.8},
                ]  # fmt: skip
                for fault in faults:
                    inject(rest_url, **{"kind": "status", **fault})
                    answer = client.post_signal(_signal())
                    assert "status_url" in answer.body, answer.describe()
                    # a refusal is final at once; an unknown outcome need not be waited out
                    wait_s = 5 if "code" in fault else 1.5
                    answers.append(client.wait(answer.body["status_url"], wait_s).describe())
                # a ban: the bot alerts through apprise
                inject(rest_url, kind="status", path="*", status=418)
                # the webhook: a bad signature, TradingView alerts with the secret in the body,
                # one of them invalid (a dead letter) with the secret copied into a comment
                post(f"{webhook}/signals", _signal(), {"X-Timestamp": "1", "X-Signature": "x"})
                for alert in (
                    {"secret": TRADINGVIEW_SECRET, "ticker": "NOPE", "comment": TRADINGVIEW_SECRET},
                    {"secret": TRADINGVIEW_SECRET + "x", "ticker": "BTCUSDT", "action": "buy"},
                    {"secret": TRADINGVIEW_SECRET, "action": "buy", "contracts": "x"},
                ):
                    post(
                        f"{webhook}/signals/tradingview",
                        json.dumps(alert).encode(),
                        {"Content-Type": "application/json"},
                    )
            texts["webhook answers"] = "\n".join(answers)
            deadline = time.monotonic() + 10
            while not alert_bodies and time.monotonic() < deadline:
                time.sleep(0.1)
        assert bot.returncode is not None

        # a start-up the venue refuses echoing the key (the fault is for it alone), and the
        # report from the bot's store
        inject(
            rest_url, kind="status", path="/api/v3/account", status=401, code=-2015,
            msg=f"Invalid API-key {API_KEY}", count=1,
        )  # fmt: skip
        echoed = bot_config(tmp_path, "echoed", free_port())
        late = stack.enter_context(
            commands(
                {
                    "run refused with the key echoed": (["run", "-c", str(echoed)], env),
                    "report --json": (["report", "-c", str(config), "--json"], env),
                },
                tmp_path,
            )
        )
        results = early() | late()

        for name, (_code, output) in results.items():
            texts[name] = output
        for name in ("run refused with the key echoed", "run with a wrong secret"):
            assert results[name][0] == 2 and "cannot start" in results[name][1], results[name]
        assert results["validate-config"][0] == 2, results["validate-config"]
        assert "exchange.params.exchange" in results["validate-config"][1]

    for name in ("venue", "run"):
        for suffix in ("out", "err"):
            texts[f"{name}.{suffix}"] = (tmp_path / f"{name}.{suffix}").read_text()
    for log in sorted(tmp_path.glob("*.log*")):
        texts[log.name] = log.read_text()
    texts["store"] = store_dump(tmp_path / "bot.sqlite")
    texts["alerts sent"] = "\n".join(alert_bodies)

    (tmp_path / "texts.json").write_text(json.dumps(texts, indent=1))
    # the paths were taken: orders were refused by the venue, the ban alerted
    assert "Invalid API-key" in texts["send-signal"], texts["send-signal"]
    assert "venue_auth_failed" in texts["store"], texts["webhook answers"]
    assert alert_bodies, "no alert reached the receiver"
    assert leaks(texts) == []


def _send(env: dict[str, str], cwd: Path, webhook: str) -> str:
    result = command(
        [
            "send-signal", "--url", webhook, "--asset", "BTC/USDT", "--side", "buy",
            "--size", "0.001", "--secret-env", "WEBHOOK_SECRET", "--wait", "5",
        ],
        env,
        cwd,
    )  # fmt: skip
    return _output(result)


def _signal() -> bytes:
    fields = {"signal_id": str(uuid.uuid4()), "asset": "BTC/USDT", "side": "buy", "size": "0.001"}
    return json.dumps(fields).encode()


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# -- in-process: what a traceback can carry ------------------------------------------------------


def _fails_holding_secrets(api_key: str, secret: str) -> None:
    headers = {"X-MBX-APIKEY": api_key}  # noqa: F841 (a local a diagnosing traceback would show)
    raise RuntimeError(f"binance GET /api/v3/account failed with key {api_key}")


@pytest.mark.parametrize("json_format", [False, True])
def test_logged_tracebacks_show_no_local_variables_and_mask_the_message(
    tmp_path: Path, json_format: bool
):
    file = tmp_path / "bot.log"
    console = tmp_path / "console.txt"
    settings = LoggingConfig.model_validate(
        {"level": "DEBUG", "json": json_format, "file": str(file)}
    )
    secrets = {API_KEY, API_SECRET, TRADINGVIEW_SECRET}
    with console.open("w") as stream:
        configure_logging(settings, secrets=secrets, console=stream)
        try:
            _fails_holding_secrets(API_KEY, API_SECRET)
        except RuntimeError:
            logger.exception("venue call failed")
        logger.opt(exception=True).error("again, with {}", TRADINGVIEW_SECRET)
        logger.info("a comment quoting {}", TRADINGVIEW_SECRET)
        logger.remove()
    texts = {"console": console.read_text(), "file": file.read_text()}
    assert "venue call failed" in texts["file"] and "RuntimeError" in texts["file"]
    assert leaks(texts) == []


# -- in-process: config errors and venue error text --------------------------------------------


def test_a_secret_variable_under_the_wrong_key_is_not_echoed_by_config_errors(tmp_path: Path):
    config = tmp_path / "bot.yaml"
    config.write_text(
        "mode: paper\n"
        "exchange: {class: simulated, params: {balances: {USDT: '1000'}}}\n"
        "logging: {level: '${BINANCE_API_KEY}', file: '${BINANCE_API_SECRET}/../${LOG_DIR}'}\n"
        "intake: {sources: [{class: webhook, params: {port: '${WEBHOOK_PORT}'}}]}\n"
    )
    environ = {
        "BINANCE_API_KEY": API_KEY,
        "BINANCE_API_SECRET": API_SECRET,
        "LOG_DIR": "logs",
        "WEBHOOK_PORT": "8081",
    }
    with pytest.raises(ConfigError) as raised:
        load_config(config, environ=environ)
    assert "logging.level" in str(raised.value)
    assert leaks({"config error": str(raised.value)}) == []
    # the values of secret-named variables are masked in logs too; other variables are not
    config.write_text(config.read_text().replace("'${BINANCE_API_KEY}'", "INFO"))
    secrets = load_config(config, environ=environ).secrets
    assert API_SECRET in secrets and "8081" not in secrets


def test_venue_error_text_loses_a_urls_password_and_query():
    error = ccxt.ExchangeNotAvailable(
        f"binance POST http://botuser:{URL_PASSWORD}@127.0.0.1:8765/api/v3/order?"
        f"timestamp=1&signature=ab 502 Bad Gateway (key {API_KEY})"
    )
    text = describe(error, frozenset({API_KEY}))
    assert "http://***@127.0.0.1:8765/api/v3/order?…" in text
    assert leaks({"describe": text}) == [] and "signature" not in text
