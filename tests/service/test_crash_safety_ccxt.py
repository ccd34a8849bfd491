"""Crash safety through ccxt: the crash test of `test_crash_safety.py` with the venue in its own
process. `trading-bot venue serve` (the Binance-compatible venue server) runs for the whole
test; `trading-bot run` reaches it through ccxt (REST orders, ccxt.pro streams) and is killed
with SIGKILL over and over while signals stream in, then restarted on the same store against
the same, still running, venue.

The windows that matter are hit on purpose: right after an order intent is committed but
before it is sent (TRADING_BOT_FAULT=after_intent_commit: the restart must send it, once), and
after the venue took an order but before its reply reached the bot (the venue server holds
the reply, `timeout_after_accept`: the restart must find the order by its client order id and
not send it again). The rest are kills at random moments. At the end the venue is asked over
its own signed REST API: every signal is one order there, no client order id was placed
twice, and the bot's orders, fills and balances equal the venue's to the last decimal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import ProxyHandler, Request, build_opener

import yaml
from sqlalchemy import create_engine, text

from tests.conftest import EXAMPLES
from tests.service.rig import alternating_signal, append_lines, sigkill, start_run

SIGNALS = 24
KEY, SECRET = "crash-test-key", "crash-test-secret-0123456789"
SYMBOL = "BTC/USDT"
# `after_intent_commit`: the bot kills itself once the batch's intents are on disk;
# `reply_lost`: the venue takes the order and holds its reply until the bot is killed;
# None: a kill at a random moment (during start-up, between signals, mid-request)
SCENARIOS = ["after_intent_commit", "reply_lost", None, "after_intent_commit", None,
             "reply_lost", None, None]  # fmt: skip
DEADLINE_S = 30
LOCAL = ["--host", "127.0.0.1", "--port", "0"]  # any free port
HTTP = build_opener(ProxyHandler({}))  # 127.0.0.1 only: never through a proxy


class VenueProcess:
    """`trading-bot venue serve` in its own process, asked over its REST API."""

    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url

    def signed(self, path: str, method: str = "GET", **params: Any) -> Any:
        params |= {"timestamp": int(time.time() * 1000), "recvWindow": 5000}
        query = urlencode(params)
        signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        request = Request(
            f"{self.url}{path}?{query}&signature={signature}",
            method=method,
            headers={"X-MBX-APIKEY": KEY},
        )
        with HTTP.open(request, timeout=10) as reply:
            return json.loads(reply.read())

    def admin(self, method: str, body: dict[str, Any] | None = None) -> Any:
        request = Request(
            f"{self.url}/_admin/faults",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        with HTTP.open(request, timeout=10) as reply:
            return json.loads(reply.read())


@contextmanager
def venue_server(tmp_path: Path) -> Iterator[VenueProcess]:
    config = {
        "market_data": {SYMBOL: str(EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv")},
        "replay_speed": 600,  # a 1-minute candle every 100 ms: market orders fill at once
        "horizon_hours": 0.1,
        "api_key": KEY,
        "api_secret": SECRET,
        "exchange": {
            "balances": {"USDT": "100000", "BTC": "1"},
            "fees": {"maker": "0.0002", "taker": "0.0007"},
            "markets": {SYMBOL: {"amount_step": "0.0001", "price_step": "0.01"}},
        },
        # a closed client order id may be reused, as on Binance: a second send would be
        # taken, and counted below
        "unique_client_order_ids": False,
    }
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    log = tmp_path / "venue.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "trading_bot", "venue", "serve", "-c", str(path), *LOCAL],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        url = _wait_for(
            lambda: _url_in(log.read_text(errors="replace")),
            20,
            lambda: f"the venue server did not start:\n{log.read_text(errors='replace')}",
        )
        yield VenueProcess(process, url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _url_in(log: str) -> str | None:
    marker = "venue server up: REST "
    return log.split(marker, 1)[1].split()[0] if marker in log else None


def _bot_config(tmp_path: Path, venue: VenueProcess, *, streams: bool) -> Path:
    config = {
        "mode": "paper",
        "exchange": {
            "class": "ccxt",
            "params": {
                "exchange": "binance",
                "api_url": venue.url,
                "ws_url": venue.url.replace("http://", "ws://"),
                "credentials": {"api_key": KEY, "secret": SECRET},
                "symbols": [SYMBOL],
                "recv_window_ms": 1000,  # "not found" is final 3 s after a send
                "timeout_ms": 3000,
                "poll_interval_s": 0.5,
                "use_websocket": streams,  # else order updates come from polling only
            },
        },
        "intake": {
            "sources": [
                {
                    "class": "file",
                    "params": {"path": str(tmp_path / "signals.jsonl"), "poll_interval_s": 0.05},
                }
            ]
        },
        "store": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        "recovery": {"reconcile_interval_s": 0.3, "snapshot_interval_s": 1},
        "logging": {"level": "INFO"},
    }
    path = tmp_path / f"live-{'streams' if streams else 'polling'}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Bots:
    """The bot's runs, each with its own log file (read while it runs, kept for failures).
    Runs take turns: order updates from ccxt.pro streams, then from REST polling only (where
    every answer the bot gets is late)."""

    def __init__(self, tmp_path: Path, configs: list[Path]) -> None:
        self.tmp_path = tmp_path
        self.configs = configs
        self.logs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, fault: str | None = None) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"bot-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as stderr:
            config = self.configs[(len(self.logs) - 1) % len(self.configs)]
            self.process = start_run(config, fault, stderr=stderr)
        return self.process

    def log(self) -> str:
        return self.logs[-1].read_text(errors="replace")

    def wait_running(self) -> None:
        _wait_for(lambda: "bot running: mode" in self.log() or None, 30, self._died)

    def _died(self) -> str:
        code = self.process.poll() if self.process is not None else None
        return f"the bot did not start (exit {code}):\n{self.log()}"

    def kill(self) -> None:
        if self.process is not None:
            sigkill(self.process)
        assert "Traceback" not in self.log(), self.log()

    def stop_all(self) -> None:
        if self.process is not None and self.process.poll() is None:
            sigkill(self.process)


def _wait_for(probe: Callable[[], Any], timeout_s: float, failure: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(failure())


def _store_rows(tmp_path: Path, query: str) -> list[Any]:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)).all())
    finally:
        engine.dispose()


def _orders_in(tmp_path: Path, *statuses: str) -> set[str]:
    listed = ", ".join(f"'{status}'" for status in statuses)
    rows = _store_rows(tmp_path, f"SELECT client_order_id FROM orders WHERE status IN ({listed})")
    return {row.client_order_id for row in rows}


def _venue_client_ids(venue: VenueProcess) -> set[str]:
    orders = venue.signed("/api/v3/allOrders", symbol="BTCUSDT", limit=1000)
    return {order["clientOrderId"] for order in orders}


def _done(tmp_path: Path, venue: VenueProcess) -> bool:
    try:
        executed = _store_rows(
            tmp_path, "SELECT count(*) AS n FROM signals WHERE status = 'executed'"
        )
        still_open = _store_rows(
            tmp_path,
            "SELECT count(*) AS n FROM orders WHERE status NOT IN "
            "('filled', 'canceled', 'rejected', 'expired')",
        )
    except Exception:  # the bot is writing: ask again
        return False
    return (
        executed[0].n == SIGNALS
        and still_open[0].n == 0
        and venue.signed("/api/v3/openOrders", symbol="BTCUSDT") == []
    )


class CrashRun:
    """The bot's runs against one venue and one store, each ended by a kind of crash, with
    what each crash left in flight."""

    def __init__(self, tmp_path: Path, venue: VenueProcess) -> None:
        self.tmp_path = tmp_path
        self.venue = venue
        configs = [_bot_config(tmp_path, venue, streams=streams) for streams in (True, False)]
        self.bots = Bots(tmp_path, configs)
        self.signals = tmp_path / "signals.jsonl"
        self.signals.touch()
        self.unsent_at_kill: set[str] = set()  # intents committed, not sent
        self.reply_lost: set[str] = set()  # taken by the venue, the bot never heard back

    def die_after_intent_commit(self, batch: list[str]) -> None:
        append_lines(self.signals, batch)  # there at start: the bot dies at the point
        process = self.bots.start("after_intent_commit:1")
        _wait_for(lambda: process.poll() is not None, 30, self.bots.log)
        assert process.returncode == -signal.SIGKILL, self.bots.log()
        self.unsent_at_kill |= _orders_in(self.tmp_path, "initialized")
        # the restart sends them: the venue executes the first at once and answers late, so
        # the restart's reconciliation sees the venue's balances move before the bot hears
        rule = {"kind": "timeout_after_accept", "method": "POST", "path": "/api/v3/order"}
        self.venue.admin("POST", rule | {"count": 1, "delay_s": 1.5})

    def lose_reply(self, batch: list[str]) -> None:
        self.bots.start()
        self.bots.wait_running()
        hits = len(self.venue.admin("GET")["hits"])
        rule = {"kind": "timeout_after_accept", "method": "POST", "path": "/api/v3/order"}
        self.venue.admin("POST", rule | {"count": 1, "delay_s": 8})
        append_lines(self.signals, batch)
        _wait_for(lambda: len(self.venue.admin("GET")["hits"]) > hits, 15, self.bots.log)
        self.bots.kill()  # at once: before the order's stream events reach the bot
        in_flight = _orders_in(self.tmp_path, "initialized", "submitted")
        if in_flight:  # else its stream events were faster than the kill
            self.reply_lost |= _wait_for(
                lambda: _venue_client_ids(self.venue) & in_flight, 10, self.bots.log
            )

    def kill_at_random(self, batch: list[str], rng: random.Random) -> None:
        self.bots.start()
        time.sleep(rng.uniform(0.0, 2.5))  # sometimes still starting
        append_lines(self.signals, batch)
        time.sleep(rng.uniform(0.05, 1.0))
        self.bots.kill()

    def run_to_the_end(self, pending: list[str]) -> None:
        """A last run that is not killed: the rest of the signals stream in while it runs
        (periodic reconciliations meet orders in flight), then SIGTERM once all is done."""
        process = self.bots.start()
        self.bots.wait_running()
        for start in range(0, len(pending), 2):
            append_lines(self.signals, pending[start : start + 2])
            time.sleep(0.15)
        _wait_for(
            lambda: _done(self.tmp_path, self.venue) or process.poll() is not None,
            DEADLINE_S,
            self.bots.log,
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert process.returncode == 0, self.bots.log()
        assert _done(self.tmp_path, self.venue), self.bots.log()


def test_sigkill_through_ccxt_against_the_venue_server_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261126)
    pending = [alternating_signal(i, SYMBOL) for i in range(SIGNALS)]
    sent: list[str] = []
    duplicates = 0
    with venue_server(tmp_path) as venue:
        crashes = CrashRun(tmp_path, venue)
        try:
            for scenario in SCENARIOS:
                batch = [pending.pop(0) for _ in range(min(len(pending), rng.randint(1, 2)))]
                if sent and rng.random() < 0.4:
                    batch.append(rng.choice(sent))  # a detector re-sending: a duplicate
                    duplicates += 1
                if scenario == "after_intent_commit":
                    crashes.die_after_intent_commit(batch)
                elif scenario == "reply_lost":
                    crashes.lose_reply(batch)
                else:
                    crashes.kill_at_random(batch, rng)
                sent += [line for line in batch if line not in sent]
            assert crashes.unsent_at_kill, "no kill hit an intent committed but not sent"
            assert crashes.reply_lost, "no kill hit an order whose reply was lost"
            crashes.run_to_the_end(pending)
            venue_orders = venue.signed("/api/v3/allOrders", symbol="BTCUSDT", limit=1000)
            venue_trades = venue.signed("/api/v3/myTrades", symbol="BTCUSDT", limit=1000)
            account = venue.signed("/api/v3/account")
        finally:
            crashes.bots.stop_all()
    unsent_at_kill, reply_lost = crashes.unsent_at_kill, crashes.reply_lost
    logs = "".join(log.read_text(errors="replace") for log in crashes.bots.logs)
    for trouble in ("UNEXPLAINED", "order anomaly", "Traceback"):
        assert trouble not in logs, [line for line in logs.splitlines() if trouble in line]

    statuses = Counter(r.status for r in _store_rows(tmp_path, "SELECT status FROM signals"))
    assert statuses == {"executed": SIGNALS}
    assert _store_rows(tmp_path, "SELECT count(*) AS n FROM duplicate_signals")[0].n == duplicates

    # one order per signal at the venue, no client order id placed twice, every one filled
    placed = Counter(o["clientOrderId"] for o in venue_orders)
    assert [coid for coid, n in placed.items() if n > 1] == []
    bot_orders = {
        r.client_order_id: r
        for r in _store_rows(
            tmp_path,
            "SELECT client_order_id, signal_id, status, venue_order_id, filled_amount FROM orders",
        )
    }
    assert set(placed) == set(bot_orders)
    assert len({o.signal_id for o in bot_orders.values()}) == SIGNALS
    for o in venue_orders:
        ours = bot_orders[o["clientOrderId"]]
        assert o["status"] == "FILLED" and ours.status == "filled"
        assert Decimal(ours.filled_amount) == Decimal(o["executedQty"]) == Decimal(o["origQty"])
        assert ours.venue_order_id == str(o["orderId"])

    # the bot's fills are the venue's trades, one for one, and its books equal the venue's
    coid_of = {str(o["orderId"]): o["clientOrderId"] for o in venue_orders}
    fills = _store_rows(
        tmp_path, "SELECT client_order_id, trade_id, side, amount, price, fee, fee_asset FROM fills"
    )
    assert {
        (f.client_order_id, f.trade_id, Decimal(f.amount), Decimal(f.price)) for f in fills
    } == {
        (coid_of[str(t["orderId"])], str(t["id"]), Decimal(t["qty"]), Decimal(t["price"]))
        for t in venue_trades
    }
    assert len(fills) == len(venue_trades)
    initial = _store_rows(tmp_path, "SELECT value FROM state WHERE key = 'bot_initial_balances'")
    books = {k: Decimal(v) for k, v in json.loads(initial[0].value).items()}
    for f in fills:
        sign = 1 if f.side == "buy" else -1
        books["BTC"] += sign * Decimal(f.amount)
        books["USDT"] -= sign * Decimal(f.amount) * Decimal(f.price)
        books[f.fee_asset] -= Decimal(f.fee)
    at_venue = {
        b["asset"]: Decimal(b["free"]) + Decimal(b["locked"])
        for b in account["balances"]
        if Decimal(b["free"]) + Decimal(b["locked"])
    }
    assert {k: v for k, v in books.items() if v} == at_venue

    # every restart reconciled. An intent committed but not sent was sent by recovery (once:
    # see above); an order whose reply was lost was found by its client order id and never
    # sent again. A restart killed during its own reconciliation saves no report: what it
    # sent shows in no report when it also heard the fill before the kill (the next restart
    # finds nothing to update); that it reached the venue once is checked above.
    reports = [
        json.loads(r.report) for r in _store_rows(tmp_path, "SELECT report FROM recovery_runs")
    ]
    assert all(r["ok"] for r in reports), [r for r in reports if not r["ok"]]
    resent = {coid for r in reports for coid in r["resent"]}
    found = {line.split()[0].rstrip(":") for r in reports for line in r["orders_updated"]}
    assert unsent_at_kill & resent
    assert unsent_at_kill <= set(placed)
    assert reply_lost & found
    assert not reply_lost & resent
