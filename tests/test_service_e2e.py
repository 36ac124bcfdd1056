"""End to end: `rpm-scrubber serve` (gunicorn) as a real process on a loopback port, real HTTP
requests, a stub clearinghouse as a second local HTTP server, and `rpm-scrubber worker` killed
with SIGKILL in the middle of a delivery and started again: every clean claim arrives, the one
whose delivery was cut off arrives again under the same idempotency key (so the receiver can tell
it is a repeat: exactly once per key), and no held claim ever arrives."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from scrubber.store import ClaimRow, OutboxRow, Store
from tests.builders import ClaimSpec, Line, x12_837


class Clearinghouse:
    """Records each POST (Idempotency-Key, body); the first `slow` requests take `delay` seconds."""

    def __init__(self, slow: int = 0, delay: float = 0.0):
        self.arrivals: list[tuple[str, str]] = []
        self.slow, self.delay = slow, delay
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with stub.lock:  # received in full: it counts as an arrival
                    stub.arrivals.append((self.headers["Idempotency-Key"], body))
                    stub.slow -= 1
                    wait = stub.delay if stub.slow >= 0 else 0
                time.sleep(wait)
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/claims"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _start(args, env):
    return subprocess.Popen([sys.executable, "-m", "scrubber.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


@pytest.fixture
def service(tmp_path):
    env = {**os.environ, "SCRUBBER_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("SCRUBBER_DATABASE_URL", None)
    process = _start(["serve", "--port", "0", "--workers", "2", "--demo"], env)
    lines = {}
    deadline = time.monotonic() + 60
    while len(lines) < 4 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        key, _, value = line.strip().partition(": ")
        lines[key] = value
    assert {"URL", "API", "Reviewer", "Submitter token"} <= set(lines), lines
    yield env, lines
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    process.stdout.close()


def post(url: str, token: str, body: str) -> dict:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_clean_claims_arrive_downstream_once_each_across_a_worker_crash(service):
    env, lines = service
    assert re.fullmatch(r"reviewer / \S+", lines["Reviewer"])
    batch = x12_837([ClaimSpec("E1", [Line("99457", "20260331")]),
                     ClaimSpec("E2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-2"),
                     ClaimSpec("E3", [Line("99454", "20260331")], mrn="MRN-3")])
    answer = post(lines["URL"] + "/v1/x12/837", lines["Submitter token"], batch)
    verdicts = {c["id"]: (c["verdict"], c["status"]) for c in answer["claims"]}
    assert verdicts["E2"] == ("block", "held") and verdicts["E1"][1] == "forwarded"
    assert "AK9*" in answer["ack999"] and "STC*A2:20" in answer["ack277"]

    store = Store(f"sqlite:///{env['SCRUBBER_INSTANCE_PATH']}/scrubber.sqlite3")
    with store.transaction() as session:
        queued = {row.idempotency_key: row.claim_pk for row in session.scalars(
            select(OutboxRow).where(OutboxRow.state == "pending"))}
        held = set(session.scalars(select(ClaimRow.claim_id).where(ClaimRow.status == "held")))
    assert len(queued) >= 3 and "E2" in held  # the demo's clean claims and E1, E3

    stub = Clearinghouse(slow=1, delay=30)
    worker_env = {**env, "SCRUBBER_DOWNSTREAM_URL": stub.url, "SCRUBBER_DOWNSTREAM_LEASE": "2",
                  "SCRUBBER_DOWNSTREAM_BACKOFF": "0.2"}
    try:
        first = _start(["worker", "--interval", "0.2"], worker_env)
        deadline = time.monotonic() + 30
        while stub.slow > 0 and time.monotonic() < deadline:  # the first delivery is in flight
            time.sleep(0.05)
        assert stub.slow <= 0
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        first.stdout.close()
        second = _start(["worker", "--interval", "0.2"], worker_env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with store.transaction() as session:
                pending = session.scalars(select(OutboxRow).where(OutboxRow.state == "pending")).all()
            if not pending and len({k for k, _ in stub.arrivals}) == len(queued):
                break
            time.sleep(0.2)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
        second.stdout.close()
        time.sleep(stub.delay / 10)
    finally:
        stub.close()
        store.dispose()

    keys = [key for key, _ in stub.arrivals]
    assert set(keys) == set(queued)  # every clean claim arrived, each under its own key
    cut_off = keys[0]  # the delivery the SIGKILL interrupted
    assert keys.count(cut_off) == 2 and all(keys.count(k) == 1 for k in keys if k != cut_off)
    assert len({body for key, body in stub.arrivals if key == cut_off}) == 1  # the same claim again
    for held_id in held:
        assert not any(f"CLM*{held_id}*" in body for _, body in stub.arrivals)
    assert any("CLM*E1*" in body for _, body in stub.arrivals)
