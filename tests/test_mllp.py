"""The MLLP listener as a separate process on a loopback port, driven by a real socket client:
many messages per connection in order, frames split across writes, garbage between frames, an
oversized frame, concurrent connections, and a graceful stop on SIGTERM."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.builders import Line, dft_p03
from tests.mllp_client import Client


def msa(ack: str) -> list[str]:
    line = next(s for s in ack.split("\r") if s.startswith("MSA"))
    return line.split("|")


@pytest.fixture
def listener():
    process = subprocess.Popen(
        [sys.executable, "-m", "scrubber.cli", "mllp", "--port", "0", "--max-frame", "200000"],
        stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"listening on [\d.]+:(\d+)", line)
        port = int(found.group(1)) if found else None
    assert port, "the listener did not start"
    drain = threading.Thread(target=process.stderr.read, daemon=True)  # keep its log pipe flowing
    drain.start()
    yield process, port
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    drain.join(timeout=10)
    process.stderr.close()


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
