"""`examples/paper.yaml` as a user runs it: `trading-bot run` in a working directory holding
the examples, signals sent through the webhook (with `trading-bot send-signal`), the Redis
stream and the signal file, then SIGTERM: everything executed once, exit 0."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.conftest import EXAMPLES, services_required
from tests.intake.detectors import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
SEND = ("--secret-env", "WEBHOOK_SECRET", "--signal-id", "w1", "--asset", "BTC/USD")
SEND += ("--side", "buy", "--size", "0.01")


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if services_required():
            raise RuntimeError(f"Redis required but unreachable: {error}") from error
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return client


def _statuses(store: Path) -> dict[str, str]:
    if not store.exists():
        return {}
    engine = create_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT signal_id, status FROM signals")).all()
    except Exception:  # the bot has not created its tables yet
        return {}
    finally:
        engine.dispose()
    return {row.signal_id: row.status for row in rows}


def test_the_paper_example_takes_signals_from_webhook_redis_and_file(tmp_path: Path) -> None:
    client = _redis_or_skip()
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "out").mkdir()
    stream = f"tb-example-{uuid.uuid4().hex[:10]}"
    port = free_port()
    env = {
        **os.environ,
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": "example-secret-0123456789",
        "PAPER_REDIS_STREAM": stream,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.pop("HTTP_PROXY", None)
    env.pop("http_proxy", None)
    command = [sys.executable, "-m", "trading_bot"]
    bot = subprocess.Popen(
        [*command, "run", "-c", "examples/paper.yaml"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client.xadd(stream, {"data": json.dumps(_signal("r1", "sell"))})
        (tmp_path / "out" / "paper-signals.jsonl").write_text(
            json.dumps(_signal("f1", "buy")) + "\n", encoding="utf-8"
        )
        sent = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the webhook answers once the bot has started
            sent = subprocess.run(
                [*command, "send-signal", "--url", f"http://127.0.0.1:{port}", *SEND],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            if sent.returncode != 2:
                break
            time.sleep(0.3)
        assert sent is not None
        assert sent.returncode == 0, sent.stdout + sent.stderr
        store = tmp_path / "out" / "paper.sqlite"
        while time.monotonic() < deadline and len(_statuses(store)) < 3:
            time.sleep(0.2)
        assert set(_statuses(store)) == {"w1", "r1", "f1"}
    finally:
        bot.send_signal(signal.SIGTERM)
        _, stderr = bot.communicate(timeout=30)
        client.delete(stream)
        client.close()
    assert bot.returncode == 0, stderr
    for started in ("intake webhook", "intake redis", "intake file"):
        assert started in stderr
    assert "example-secret-0123456789" not in stderr


def _signal(signal_id: str, side: str) -> dict[str, str]:
    return {"signal_id": signal_id, "asset": "BTC/USD", "side": side, "size": "0.01"}
