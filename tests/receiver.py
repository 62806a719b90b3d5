"""A case registry's webhook receiver for the tests: a real HTTP server (http.server, in a
thread) that checks each delivery's Standard Webhooks signature on its own (hmac, base64: not
the service's code), keeps each webhook-id once, and can be down (503) or not listening."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.kannel import free_port

#: A secret as an organisation is given one (``hotline env``), and its key.
KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


@dataclass(frozen=True)
class Delivery:
    id: str
    type: str
    data: dict[str, Any]


class Receiver:
    """``status``: what it answers (200, or 503 while "down"); ``stop()`` stops listening
    (connections refused), ``start()`` listens again on the same port."""

    def __init__(self, key: bytes = KEY) -> None:
        self.key = key
        self.port = free_port()
        self.status = 200
        #: Each webhook-id once, in the order first received.
        self.got: list[Delivery] = []
        #: How often an id already received came again (at least once: retries after a
        #: lost answer), how many tries were answered non-2xx, and bad signatures.
        self.again = 0
        self.refused = 0
        self.forged: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hotline/events?token=t0ken"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.take(dict(self.headers.items()), body, self.path)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def take(self, headers: dict[str, str], body: bytes, path: str) -> int:
        low = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            if self.status != 200:
                self.refused += 1
                return self.status
            webhook_id, stamp = low.get("webhook-id", ""), low.get("webhook-timestamp", "0")
            signed = f"{webhook_id}.{stamp}.".encode() + body
            expected = base64.b64encode(hmac.new(self.key, signed, hashlib.sha256).digest())
            given = [s.removeprefix("v1,") for s in low.get("webhook-signature", "").split()]
            fresh = abs(time.time() - int(stamp)) <= 300
            if not fresh or not any(hmac.compare_digest(expected.decode(), g) for g in given):
                self.forged.append(webhook_id)
                return 401
            if (
                path != "/hotline/events?token=t0ken"
                or low.get("content-type") != "application/json"
            ):
                self.forged.append(webhook_id)
                return 400
            if any(d.id == webhook_id for d in self.got):
                self.again += 1
                return 200
            event = json.loads(body)
            self.got.append(Delivery(webhook_id, event["type"], event["data"]))
            return 200

    def types(self, **where: str) -> list[str]:
        """The types received, in order, of deliveries whose data match ``where``."""
        with self._lock:
            return [d.type for d in self.got if all(d.data.get(k) == v for k, v in where.items())]
