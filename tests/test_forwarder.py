"""Forwarding on a real ledger (SQLite and PostgreSQL): the file mailbox, retries with back-off,
the dead-letter state, and two workers never leasing the same row."""
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from scrubber.catalogue import catalogue
from scrubber.forwarder import Forwarder
from scrubber.store import OutboxRow, utcnow
from scrubber.workflow import Workflow
from tests.builders import ClaimSpec, Line, dft_p03, x12_837

SHIPPED = catalogue()


def queue(store, claims: int = 3) -> list[str]:
    with store.transaction() as session:
        store.tenant(session, "acme", create=True)
    flow = Workflow(store, SHIPPED, SHIPPED.profiles["medicare"])
    flow.submit("acme", x12_837([ClaimSpec(f"F{n}", [Line("99457", "20260331")], mrn=f"MRN-{n}",
                                           member_id=f"MEM-{n}") for n in range(claims)]).encode(), "f.837")
    flow.submit("acme", dft_p03("FH", [Line("99454", "20260320")], mrn="MRN-H", member_id="MEM-H").encode(),
                "f.hl7")
    with store.transaction() as session:
        return list(session.scalars(select(OutboxRow.idempotency_key).order_by(OutboxRow.id)))


def test_the_file_mailbox_gets_each_claim_whole(store, tmp_path):
    keys = queue(store)
    mailbox = tmp_path / "mailbox"
    assert Forwarder(store, f"file://{mailbox}").run_once() == len(keys)
    files = sorted(p.name for p in mailbox.iterdir())
    assert len(files) == len(keys) and not any(name.startswith(".incoming-") for name in files)
    x12 = [p.read_text() for p in mailbox.glob("*.837")]
    assert len(x12) == 3 and all(text.startswith("ISA*") and text.count("CLM*") == 1 for text in x12)
    (hl7,) = mailbox.glob("*.hl7")
    assert hl7.read_text().startswith("MSH|") and "|FH|" in hl7.read_text()
    with store.transaction() as session:
        assert set(session.scalars(select(OutboxRow.state))) == {"delivered"}
    assert Forwarder(store, f"file://{mailbox}").run_once() == 0  # nothing due any more


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_failures_back_off_then_go_dead(store):
    queue(store, claims=1)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        forwarder = Forwarder(store, f"http://127.0.0.1:{server.server_address[1]}/", max_attempts=3,
                              base_delay=10)
        assert forwarder.run_once() == 2
        with store.transaction() as session:
            rows = session.scalars(select(OutboxRow)).all()
        assert {(r.state, r.attempts) for r in rows} == {("pending", 1)}
        assert all(r.last_error == "downstream answered 503" for r in rows)
        assert all(r.next_attempt_at > utcnow() + timedelta(seconds=7) for r in rows)  # 10 s +-20 %
        assert forwarder.run_once() == 0  # not due yet
        for _ in range(2):
            with store.transaction() as session:
                session.execute(update(OutboxRow).values(next_attempt_at=utcnow()))
            forwarder.run_once()
        with store.transaction() as session:
            assert {(r.state, r.attempts) for r in session.scalars(select(OutboxRow))} == {("dead", 3)}
    finally:
        server.shutdown()
        server.server_close()


def test_two_workers_never_lease_the_same_row(store):
    keys = queue(store, claims=12)
    first, second = Forwarder(store, "file:///unused"), Forwarder(store, "file:///unused")
    leased: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def take(forwarder, into):
        barrier.wait(timeout=30)
        into.extend(row_id for row_id, _, _ in forwarder._lease(limit=len(keys)))

    threads = [threading.Thread(target=take, args=(f, leased[i])) for i, f in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(leased[0] + leased[1]) == sorted(set(leased[0] + leased[1]))
    assert len(leased[0]) + len(leased[1]) == len(keys)


def test_a_downstream_url_must_be_http_or_file(store):
    with pytest.raises(ValueError, match="must be"):
        Forwarder(store, "ftp://example/")
