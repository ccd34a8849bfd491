"""`trading-bot venue serve` from a YAML config, and the config's own rules."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.venues.server.rig import DIP, write_bars
from trading_bot.cli import app
from trading_bot.config.errors import ConfigError
from trading_bot.venues.server import load_venue_config

YAML = """\
market_data:
  btc/usdt: btc.csv
replay_speed: 600
horizon_hours: 0.1
api_key: ${VENUE_KEY:-paper}
api_secret: ${VENUE_SECRET}
exchange:
  balances: {USDT: 1000}
  markets:
    BTC/USDT: {amount_step: "0.001", price_step: "0.01"}
"""


def test_yaml_config_substitutes_variables_and_resolves_data_paths(tmp_path: Path):
    write_bars(tmp_path / "btc.csv", DIP)
    (tmp_path / "venue.yaml").write_text(YAML)
    config = load_venue_config(tmp_path / "venue.yaml", environ={"VENUE_SECRET": "s3cret"})
    assert config.api_key == "paper" and config.api_secret == "s3cret"
    assert config.market_data == {"BTC/USDT": tmp_path / "btc.csv"}


def test_yaml_config_without_a_needed_variable_names_the_key(tmp_path: Path):
    (tmp_path / "venue.yaml").write_text(YAML)
    with pytest.raises(ConfigError, match="api_secret: environment variable VENUE_SECRET"):
        load_venue_config(tmp_path / "venue.yaml", environ={})


def test_serve_answers_until_interrupted(tmp_path: Path):
    write_bars(tmp_path / "btc.csv", DIP)
    (tmp_path / "venue.yaml").write_text(YAML)
    env = {**os.environ, "VENUE_SECRET": "s3cret", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_bot", "venue", "serve", "-c", "venue.yaml", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 20
        assert process.stderr is not None
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if "venue server up: REST " in line:
                url = line.split("REST ", 1)[1].split()[0]
        assert url is not None, "the server did not start"
        with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=5) as reply:
            assert reply.read() == b"{}"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def serve_in_process(folder: Path, *args: str) -> tuple[int, str]:
    """`trading-bot venue serve` run here: its exit code and what it printed."""
    result = CliRunner().invoke(
        app, ["venue", "serve", "-c", str(folder / "venue.yaml"), *args], env={"VENUE_SECRET": "s"}
    )
    return result.exit_code, result.output


def test_serve_on_a_port_in_use_says_so_in_one_line_and_exits_2(tmp_path: Path):
    write_bars(tmp_path / "btc.csv", DIP)
    (tmp_path / "venue.yaml").write_text(YAML)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, output = serve_in_process(tmp_path, "--port", str(port))
    assert code == 2
    assert output.strip().splitlines() == [
        f"error: port: cannot listen on 127.0.0.1:{port}: Address already in use (another "
        "server there? choose another --port, or 0 for any free one)"
    ]


def test_serve_without_its_market_data_file_names_the_key_and_the_path(tmp_path: Path):
    (tmp_path / "venue.yaml").write_text(YAML)
    code, output = serve_in_process(tmp_path, "--port", "0")
    assert code == 2
    assert output.strip() == (
        f"error: market_data.BTC/USDT: {(tmp_path / 'btc.csv').resolve()}: file not found"
    )
