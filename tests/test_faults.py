"""Fault injection with real processes: a web worker SIGKILLed between recording a submission and
answering it, a downstream that times out, answers 500 or closes the connection, a mailbox disk
that fills up, PostgreSQL restarted (immediate mode: a crash) during a burst of submissions, and
PostgreSQL down while the MLLP listener gets a message. After recovery everything is counted:
each clean claim recorded once and delivered under one idempotency key with one body, nothing
held delivered, no decision lost.
(A forwarding worker killed mid-delivery is in test_service_e2e.)"""
import glob
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.clearinghouse import Clearinghouse
from scrubber.forwarder import mailbox_name
from scrubber.store import ClaimRow, OutboxRow, Store
from scrubber.web import create_app
from tests.builders import ClaimSpec, Line, dft_p03, x12_837
from tests.e2e import instance_env, outbox_counts, post, serving, start, stop, wait_until
from tests.mllp_client import Client, start_listener, stop_listener

MARKER = "KILLAFTERRECORD"


def forwarding(env: dict, downstream: str, **settings: str):
    """`rpm-scrubber worker` delivering to `downstream`, retrying fast (SCRUBBER_DOWNSTREAM_*
    `settings` on top)."""
    extra = {f"SCRUBBER_DOWNSTREAM_{name.upper()}": value for name, value in
             {"backoff": "0.2", "lease": "5", "attempts": "50", **settings}.items()}
    return start(["worker", "--interval", "0.2"], {**env, **extra, "SCRUBBER_DOWNSTREAM_URL": downstream})


def mixed_batch(prefix: str) -> str:
    """One clean claim, one blocked (99458 without 99457, 99470 beside it), one more clean."""
    return x12_837([ClaimSpec(f"{prefix}1", [Line("99457", "20260331")]),
                    ClaimSpec(f"{prefix}2", [Line("99458", "20260331"), Line("99470", "20260331")],
                              mrn="MRN-2"),
                    ClaimSpec(f"{prefix}3", [Line("99454", "20260331")], mrn="MRN-3")])


def ledger(store: Store) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """Outbox payloads by idempotency key, the ids of held claims, and every claim's status."""
    with store.transaction() as session:
        queued = {row.idempotency_key: row.payload for row in session.scalars(select(OutboxRow))
                  if row.state != "held"}
        statuses = dict(session.execute(select(ClaimRow.claim_id, ClaimRow.status)).all())
    held = {claim_id for claim_id, status in statuses.items() if status == "held"}
    return queued, held, statuses


def recorded(store: Store, prefix: str) -> Counter:
    """How many ledger rows each claim id starting with `prefix` has."""
    with store.transaction() as session:
        return Counter(session.scalars(select(ClaimRow.claim_id).where(ClaimRow.claim_id.like(f"{prefix}%"))))


def assert_delivered_once_each(stub: Clearinghouse, queued: dict[str, str], held: set[str]) -> None:
    assert set(stub.accepted()) == set(queued)  # every queued claim accepted downstream...
    bodies = stub.bodies()
    assert {key: bodies[key] for key in queued} == {key: {payload} for key, payload in queued.items()}
    assert not held & stub.claim_ids()  # ...always the same claim under its key; nothing held


def test_a_ledger_that_cannot_be_reached_is_503_with_retry_after(caplog):
    app = create_app({"DATABASE_URL": "postgresql+psycopg://scrubber@127.0.0.1:1/nowhere"})
    try:
        answer = app.test_client().get("/v1/claims", headers={"Authorization": "Bearer rpms_1_x"})
    finally:
        app.extensions["scrubber.store"].dispose()
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert answer.get_json()["message"].startswith("the ledger is unavailable")
    assert "[parameters" not in caplog.text and "rpms_1_x" not in caplog.text


def test_a_web_worker_killed_between_recording_and_answering(tmp_path):
    env = {**instance_env(tmp_path / "instance"), "SCRUBBER_FAULT_MARKER": MARKER,
           "SCRUBBER_FAULT_ONCE": str(tmp_path / "fault-done")}
    batch = mixed_batch(MARKER)
    with serving(env, "--workers", "2", module="tests.faultserve") as lines:
        url, token = lines["URL"] + "/v1/x12/837", lines["Submitter token"]
        with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
            post(url, token, batch)  # the worker died after recording: no answer
        assert (tmp_path / "fault-done").exists()
        again = post(url, token, batch)  # the sender sends it again
    assert [c["resent"] for c in again["claims"]] == [True, True, True]  # answered from the ledger
    answered = {c["id"]: c["status"] for c in again["claims"]}
    assert answered == {f"{MARKER}1": "forwarded", f"{MARKER}2": "held", f"{MARKER}3": "forwarded"}

    store = Store(f"sqlite:///{env['SCRUBBER_INSTANCE_PATH']}/scrubber.sqlite3")
    stub = Clearinghouse()
    try:
        queued, held, statuses = ledger(store)
        assert recorded(store, MARKER) == Counter(list(answered))  # recorded once each
        assert {claim_id: statuses[claim_id] for claim_id in answered} == answered
        worker = forwarding(env, stub.url)
        try:
            assert wait_until(lambda: outbox_counts(store).get("pending", 0) == 0, 60)
        finally:
            assert stop(worker) == 0
        assert_delivered_once_each(stub, queued, held)
        assert all(count == 1 for count in stub.accepted().values())
    finally:
        stub.close()
        store.dispose()


def test_a_downstream_that_times_out_answers_500_or_hangs_up(tmp_path):
    env = instance_env(tmp_path / "instance")
    firsts: list[str] = []

    def misbehave(index, key, nth):  # each claim's first delivery fails, in turn each way
        if nth > 1:
            return "ok"
        firsts.append(key)
        return ("timeout", "500", "close")[(len(firsts) - 1) % 3]

    stub = Clearinghouse(misbehave, delay=3)
    store = Store(f"sqlite:///{env['SCRUBBER_INSTANCE_PATH']}/scrubber.sqlite3")
    try:
        with serving(env) as lines:
            post(lines["URL"] + "/v1/x12/837", lines["Submitter token"], mixed_batch("D"))
        queued, held, _ = ledger(store)
        assert len(queued) >= 3
        worker = forwarding(env, stub.url, timeout="1")
        try:
            drained = {"delivered": len(queued), "held": len(held)}
            assert wait_until(lambda: outbox_counts(store) == drained, 60)
        finally:
            assert stop(worker) == 0
        assert {a.outcome for a in stub.arrivals if a.key in firsts[:3]} >= {"timeout", "500", "close"}
        assert_delivered_once_each(stub, queued, held)
        assert all(count == 1 for count in stub.accepted().values())
        with store.transaction() as session:
            tries = {row.idempotency_key: row.attempts for row in session.scalars(select(OutboxRow))
                     if row.state == "delivered"}
        assert tries == {key: 2 for key in queued}  # one failure, one success each
    finally:
        stub.close()
        store.dispose()


def _can_mount() -> str | None:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return "mounting a small tmpfs needs root (the disk-full test fills one)"
    return None


@pytest.mark.skipif(_can_mount() is not None, reason=_can_mount() or "")
def test_a_full_mailbox_disk_loses_nothing_and_leaves_no_partial_file(tmp_path):
    env = instance_env(tmp_path / "instance")
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir()
    # two 4 KiB pages: two claim files fit, the third write fails with ENOSPC
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(mailbox)], check=True)
    store = Store(f"sqlite:///{env['SCRUBBER_INSTANCE_PATH']}/scrubber.sqlite3")
    try:
        with serving(env) as lines:
            post(lines["URL"] + "/v1/x12/837", lines["Submitter token"], mixed_batch("F"))
        queued, held, _ = ledger(store)
        assert len(queued) > 2
        worker = forwarding(env, f"file://{mailbox}")
        try:
            def disk_full() -> bool:
                with store.transaction() as session:
                    return any("No space left" in (row.last_error or "")
                               for row in session.scalars(select(OutboxRow)))
            assert wait_until(disk_full, 30)
            written = sorted(path.name for path in mailbox.iterdir())
            assert not [name for name in written if name.startswith(".incoming-")]  # no half files
            assert 0 < len(written) < len(queued)
            subprocess.run(["mount", "-o", "remount,size=1m", str(mailbox)], check=True)  # space again
            assert wait_until(lambda: outbox_counts(store).get("pending", 0) == 0, 60)
        finally:
            assert stop(worker) == 0
        files = {path.stem: path.read_bytes().decode() for path in mailbox.iterdir()}
        assert files == {mailbox_name(key): payload for key, payload in queued.items()}  # whole, once
    finally:
        subprocess.run(["umount", str(mailbox)], check=False)
        store.dispose()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, a free port), so it
    can be crashed and restarted without touching the machine's server."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are not installed")
        self.bin = Path(found[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="scrubber-pg-"))
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
            shutil.chown(self.folder, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.data = self.folder / "data"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / program), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def crash_and_restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "restart")

    def crash(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.crash()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_postgres():
    try:
        cluster = PrivatePostgres()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
        pytest.skip(f"cannot start a private PostgreSQL cluster: {error}")
    yield cluster
    cluster.close()


def test_postgresql_crashing_during_a_burst_loses_no_decision(tmp_path, private_postgres):
    env = {**instance_env(tmp_path / "instance"), "SCRUBBER_DATABASE_URL": private_postgres.url}
    stub = Clearinghouse()
    claims = {f"P{number:03d}": x12_837([ClaimSpec(f"P{number:03d}", [Line(code, "20260331")],
                                                   mrn=f"MRN-P{number}", member_id=f"MEMBER-P{number}")])
              for number, code in zip(range(48), ["99457", "99454", "99458"] * 16, strict=True)}
    answers: dict[str, dict] = {}
    refusals = Counter()
    lock = threading.Lock()

    def sender(url: str, token: str, names: list[str]) -> None:
        for name in names:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:  # as an interface engine does: send until answered
                try:
                    answer = post(url, token, claims[name], timeout=30)
                except urllib.error.HTTPError as error:
                    with lock:
                        refusals[error.code] += 1
                except (urllib.error.URLError, http.client.HTTPException, ConnectionError):
                    with lock:
                        refusals["connection"] += 1
                else:
                    with lock:
                        answers[name] = answer["claims"][0]
                    break
                time.sleep(0.5)

    store = Store(private_postgres.url)
    try:
        with serving(env, "--workers", "2") as lines:
            worker = forwarding(env, stub.url, lease="3")
            try:
                names = sorted(claims)
                url = lines["URL"] + "/v1/x12/837"
                threads = [threading.Thread(target=sender, args=(url, lines["Submitter token"], names[i::4]))
                           for i in range(4)]
                for thread in threads:
                    thread.start()
                assert wait_until(lambda: len(answers) >= 12, 60, 0.05)
                before = private_postgres.postmaster_pid()
                private_postgres.crash_and_restart()
                assert private_postgres.postmaster_pid() != before
                for thread in threads:
                    thread.join(timeout=120)
                assert set(answers) == set(claims)  # every claim answered in the end
                assert wait_until(lambda: outbox_counts(store).get("pending", 0) == 0, 60)
            finally:
                assert stop(worker) == 0
        queued, held, statuses = ledger(store)
        assert recorded(store, "P") == Counter(list(claims))  # each claim recorded once
        assert {name: statuses[name] for name in claims} == {name: a["status"] for name, a in answers.items()}
        assert_delivered_once_each(stub, queued, held)
        print(f"refusals while PostgreSQL restarted: {dict(refusals)}; "
              f"repeat deliveries: {sum(stub.accepted().values()) - len(queued)}")
    finally:
        stub.close()
        store.dispose()


def test_the_mllp_listener_sends_no_ack_while_the_ledger_is_down(tmp_path, private_postgres):
    """No ACK for a message that could not be recorded: the connection closes, the interface engine
    sends the message again, and once PostgreSQL is back it is recorded and answered once."""
    env = {**instance_env(tmp_path / "instance"), "SCRUBBER_DATABASE_URL": private_postgres.url}
    for command in (["db", "upgrade"], ["tokens", "create", "--tenant", "acme", "--role", "submitter",
                                        "--name", "engine"]):  # the ledger and the tenant
        subprocess.run([sys.executable, "-m", "scrubber.cli", *command], env=env, check=True,
                       capture_output=True, timeout=120)
    process, port = start_listener(env, "--tenant", "acme")
    try:
        first, second = dft_p03("L1", [Line("99457", "20260415")]), dft_p03("L2", [Line("99457", "20260416")])
        with Client(port) as client:
            client.send(first)
            assert client.receive().split("\r")[1].split("|")[1:3] == ["AA", "L1"]
        private_postgres.crash()
        with Client(port) as client:
            client.send(second)
            with pytest.raises(ConnectionError):
                client.receive()  # closed without an answer
        private_postgres.start()
        with Client(port) as client:  # the engine sends it again
            client.send(second)
            assert client.receive().split("\r")[1].split("|")[1:3] == ["AE", "L2"]  # once-per-period
        assert process.poll() is None
    finally:
        assert stop_listener(process) == 0
    log = "".join(process.log)
    assert "closing without an ACK so the sender sends it again" in log and "Traceback" not in log
    store = Store(private_postgres.url)
    try:
        assert recorded(store, "L") == Counter(["L1", "L2"])
    finally:
        store.dispose()
