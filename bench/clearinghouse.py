"""A stub clearinghouse for the end-to-end tests and the load benchmark: a local HTTP server that
records every POST it receives as an Arrival (Idempotency-Key, body, how it was answered).

`misbehave(index, key, nth)` decides each answer: `index` counts every request received, `nth`
the deliveries of that key so far (1 for the first). It returns one of
    "ok"       202 Accepted
    "500"      500 Internal Server Error
    "timeout"  no answer for `delay` seconds (the sender gives up first), then 202
    "close"    the connection closed without an answer
Anything received in full counts as an arrival, answered or not: a real receiver would have it
too, and would recognise a repeat by its key.
"""
from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Arrival", "Clearinghouse"]

_CLM = re.compile(r"(?:^|[~\r\n])CLM\*([^*~]+)\*")


@dataclass(frozen=True)
class Arrival:
    key: str
    body: str
    outcome: str
    at: float


class Clearinghouse:
    def __init__(self, misbehave=None, delay: float = 5.0):
        self.arrivals: list[Arrival] = []
        self.misbehave = misbehave or (lambda index, key, nth: "ok")
        self.delay = delay
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                key = self.headers.get("Idempotency-Key", "")
                with stub.lock:
                    nth = 1 + sum(1 for arrival in stub.arrivals if arrival.key == key)
                    outcome = stub.misbehave(len(stub.arrivals), key, nth)
                    stub.arrivals.append(Arrival(key, body, outcome, time.monotonic()))
                if outcome == "close":
                    self.close_connection = True
                    return
                if outcome == "timeout":
                    time.sleep(stub.delay)
                try:
                    self.send_response(500 if outcome == "500" else 202)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/claims"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self) -> list[str]:
        with self.lock:
            return [arrival.key for arrival in self.arrivals]

    def bodies(self) -> dict[str, set[str]]:
        """Every body received under each key (one, if every repeat was the same claim)."""
        found: dict[str, set[str]] = {}
        with self.lock:
            for arrival in self.arrivals:
                found.setdefault(arrival.key, set()).add(arrival.body)
        return found

    def claim_ids(self) -> set[str]:
        """The CLM01 of every 837P received (* and ~ delimiters), to tell whether a held claim got out."""
        with self.lock:
            return {found for arrival in self.arrivals for found in _CLM.findall(arrival.body)}

    def accepted(self) -> Counter:
        """How many times each key was answered 202 at once (timeouts excluded)."""
        with self.lock:
            return Counter(arrival.key for arrival in self.arrivals if arrival.outcome == "ok")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
