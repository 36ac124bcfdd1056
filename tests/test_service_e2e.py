"""End to end: `rpm-scrubber serve` (gunicorn) as a real process on a loopback port, real HTTP
requests, a stub clearinghouse as a second local HTTP server, and `rpm-scrubber worker` killed
with SIGKILL in the middle of a delivery and started again: every clean claim arrives, the one
whose delivery was cut off arrives again under the same idempotency key (so the receiver can tell
it is a repeat: exactly once per key), and no held claim ever arrives."""
import re
import signal
import time
import urllib.request

import pytest
from sqlalchemy import select

from bench.clearinghouse import Clearinghouse
from bench.http_bench import handled
from scrubber.store import ClaimRow, OutboxRow, Store
from tests.builders import ClaimSpec, Line, x12_837
from tests.e2e import instance_env, post, series, serving, start, stop


@pytest.fixture
def service(tmp_path):
    env = instance_env(tmp_path / "instance")
    with serving(env, "--workers", "2") as lines:
        yield env, lines


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
    # the workers' latency histograms add up in /metrics (prometheus_client's multiprocess mode)
    with urllib.request.urlopen(lines["URL"] + "/metrics", timeout=30) as response:
        scraped = series(response.read().decode())
    submitted = [value for name, value in scraped.items() if name.startswith(
        'scrubber_request_seconds_count{endpoint="gateway.submit_837",method="POST",status="200"')]
    assert submitted == [1.0], sorted(scraped)[:20]
    assert handled(int(lines["URL"].rsplit(":", 1)[1]))[0] == 1  # what the HTTP bench reads of it
    assert scraped['scrubber_outbox{state="held"}'] >= 1

    store = Store(f"sqlite:///{env['SCRUBBER_INSTANCE_PATH']}/scrubber.sqlite3")
    with store.transaction() as session:
        queued = {row.idempotency_key: row.claim_pk for row in session.scalars(
            select(OutboxRow).where(OutboxRow.state == "pending"))}
        held = set(session.scalars(select(ClaimRow.claim_id).where(ClaimRow.status == "held")))
    assert len(queued) >= 3 and "E2" in held  # the demo's clean claims and E1, E3

    stub = Clearinghouse(lambda index, key, nth: "timeout" if index == 0 else "ok", delay=30)
    worker_env = {**env, "SCRUBBER_DOWNSTREAM_URL": stub.url, "SCRUBBER_DOWNSTREAM_LEASE": "2",
                  "SCRUBBER_DOWNSTREAM_BACKOFF": "0.2"}
    try:
        first = start(["worker", "--interval", "0.2"], worker_env)
        deadline = time.monotonic() + 30
        while not stub.arrivals and time.monotonic() < deadline:  # the first delivery is in flight
            time.sleep(0.05)
        assert stub.arrivals
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        first.stdout.close()
        second = start(["worker", "--interval", "0.2"], worker_env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with store.transaction() as session:
                pending = session.scalars(select(OutboxRow).where(OutboxRow.state == "pending")).all()
            if not pending and len(set(stub.keys())) == len(queued):
                break
            time.sleep(0.2)
        assert stop(second) == 0
    finally:
        stub.close()
        store.dispose()

    keys = stub.keys()
    assert set(keys) == set(queued)  # every clean claim arrived, each under its own key
    cut_off = keys[0]  # the delivery the SIGKILL interrupted
    assert keys.count(cut_off) == 2 and all(keys.count(k) == 1 for k in keys if k != cut_off)
    assert len({a.body for a in stub.arrivals if a.key == cut_off}) == 1  # the same claim again
    for held_id in held:
        assert not any(f"CLM*{held_id}*" in a.body for a in stub.arrivals)
    assert any("CLM*E1*" in a.body for a in stub.arrivals)
