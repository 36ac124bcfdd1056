"""The MLLP listener as a separate process on a loopback port, driven by a real socket client:
many messages per connection in order, frames split across writes, garbage between frames, an
oversized frame, concurrent connections, and a graceful stop on SIGTERM."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from scrubber.store import ClaimRow, Store
from tests.builders import ClaimSpec, Line, dft_p03, x12_837
from tests.mllp_client import Client, start_listener, stop_listener


def msa(ack: str) -> list[str]:
    line = next(s for s in ack.split("\r") if s.startswith("MSA"))
    return line.split("|")


@pytest.fixture
def listener():
    process, port = start_listener(None, "--max-frame", "200000")
    yield process, port
    stop_listener(process, kill=True)


def test_a_hundred_messages_on_one_connection_are_answered_in_order(listener):
    _, port = listener
    with Client(port) as client:
        for n in range(100):
            client.send(dft_p03(f"M{n}", [Line("99458", "20260415", units="3")], mrn=f"MRN-{n}"))
        answers = [msa(client.receive()) for _ in range(100)]
    assert [a[2] for a in answers] == [f"M{n}" for n in range(100)]
    assert {a[1] for a in answers} == {"AE"}  # a lone 99458 is blocked


def test_a_frame_split_across_writes_is_reassembled(listener):
    _, port = listener
    data = b"\x0b" + dft_p03("S1", [Line("99457", "20260415")]).encode() + b"\x1c\x0d"
    with Client(port) as client:
        for index in range(0, len(data), 7):
            client.send_raw(data[index:index + 7])
            time.sleep(0.002)
        assert msa(client.receive())[1:3] in (["AA", "S1"], ["AE", "S1"])


def test_two_frames_in_one_write_get_two_answers(listener):
    _, port = listener
    both = b"".join(b"\x0b" + dft_p03(c, [Line("99457", "20260415")]).encode() + b"\x1c\x0d"
                    for c in ("T1", "T2"))
    with Client(port) as client:
        client.send_raw(both)
        assert [msa(client.receive())[2] for _ in range(2)] == ["T1", "T2"]


def test_garbage_between_frames_is_skipped_and_the_listener_keeps_serving(listener):
    process, port = listener
    with Client(port) as client:
        client.send_raw(b"GET / HTTP/1.1\r\n\r\n\x00\xff garbage")
        client.send(dft_p03("G1", [Line("99457", "20260415")]))
        assert msa(client.receive())[2] == "G1"
        client.send("this is not HL7")
        answer = msa(client.receive())
        assert answer[1] == "AR"
    with Client(port) as again:
        again.send(dft_p03("G2", [Line("99457", "20260415")]))
        assert msa(again.receive())[2] == "G2"
    assert process.poll() is None


def test_an_oversized_frame_is_rejected_and_the_connection_closed(listener):
    process, port = listener
    with Client(port) as client:
        big = dft_p03("BIG", [Line("99457", "20260415")]) + "NTE|1||" + "x" * 300_000
        client.send_raw(b"\x0b" + big.encode())
        answer = client.receive()
        assert msa(answer)[1:3] == ["AR", "BIG"] and "exceeds the listener's limit" in answer
        assert client.closed()
    with Client(port) as again:
        again.send(dft_p03("AFTER", [Line("99457", "20260415")]))
        assert msa(again.receive())[2] == "AFTER"
    assert process.poll() is None


def test_concurrent_connections_each_get_their_own_answers(listener):
    _, port = listener
    results: dict[int, list[str]] = {}

    def talk(number: int) -> None:
        with Client(port) as client:
            ids = [f"C{number}-{n}" for n in range(20)]
            for control in ids:
                client.send(dft_p03(control, [Line("99457", "20260415")], mrn=f"MRN-{number}"))
            results[number] = [msa(client.receive())[2] for _ in ids]

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {n: [f"C{n}-{i}" for i in range(20)] for n in range(5)}


def test_sigterm_finishes_the_message_in_flight_then_exits(listener):
    process, port = listener
    with Client(port) as client:
        data = b"\x0b" + dft_p03("LAST", [Line("99457", "20260415")]).encode() + b"\x1c\x0d"
        client.send_raw(data[:40])
        time.sleep(0.2)
        os.kill(process.pid, signal.SIGTERM)
        time.sleep(0.2)
        client.send_raw(data[40:])
        assert msa(client.receive())[2] == "LAST"
        assert client.closed()
    assert process.wait(timeout=30) == 0


def test_the_listener_records_through_the_ledger_when_given_a_tenant(tmp_path):
    env = {**os.environ, "SCRUBBER_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("SCRUBBER_DATABASE_URL", None)
    fresh = subprocess.run([sys.executable, "-m", "scrubber.cli", "tokens", "create", "--tenant", "acme",
                            "--role", "submitter", "--name", "engine"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert fresh.returncode == 2 and "run rpm-scrubber db upgrade" in fresh.stderr  # no traceback
    subprocess.run([sys.executable, "-m", "scrubber.cli", "db", "upgrade"], env=env, check=True,
                   capture_output=True, timeout=120)
    made = subprocess.run([sys.executable, "-m", "scrubber.cli", "tokens", "create", "--tenant", "acme",
                           "--role", "submitter", "--name", "engine"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    process, port = start_listener(env, "--tenant", "acme")
    try:
        with Client(port) as client:
            client.send(dft_p03("L1", [Line("99457", "20260415")]))
            first = msa(client.receive())
            client.send(dft_p03("L2", [Line("99457", "20260416")]))  # same month: once-per-period
            second = msa(client.receive())
            client.send(x12_837([ClaimSpec("X1", [Line("99457", "20260331")])]))
            not_hl7 = msa(client.receive())
        assert first[1:3] == ["AA", "L1"] and second[1:3] == ["AE", "L2"] and not_hl7[1] == "AR"
    finally:
        assert stop_listener(process) == 0
    store = Store(f"sqlite:///{tmp_path / 'instance' / 'scrubber.sqlite3'}")
    with store.transaction() as session:
        recorded = [(row.claim_id, row.status)
                    for row in session.scalars(select(ClaimRow).order_by(ClaimRow.id))]
    store.dispose()
    assert recorded == [("L1", "forwarded"), ("L2", "held")]
