"""A local endpoint alerts are sent to in tests (apprise's `json://` posts there)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class AlertInbox:
    port: int
    bodies: list[str] = field(default_factory=list)  # as received, in order

    @property
    def url(self) -> str:
        """The apprise URL that delivers here."""
        return f"json://127.0.0.1:{self.port}/alerts"

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]


@contextmanager
def alert_receiver() -> Iterator[AlertInbox]:
    bodies: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield AlertInbox(server.server_address[1], bodies)
    finally:
        server.shutdown()
        server.server_close()
