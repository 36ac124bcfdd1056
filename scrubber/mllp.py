"""The MLLP listener: HL7 v2 over TCP with standard framing (VT message FS CR), many messages per
connection, an ACK for every message in order.

A frame may arrive in pieces across reads and several frames in one read. Bytes outside a frame
are skipped (and counted in the log, never shown); a frame longer than the limit is answered with
an AR and the connection closed, since the stream can no longer be trusted. Each message runs the
in-memory check path (the service issue wires the ledger). SIGTERM and SIGINT stop accepting,
let every connection finish the message it is on and send its ACK, then exit.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from itertools import count
from typing import TYPE_CHECKING

from hl7.ack import REJECT, AckError, AckStamp, build_ack
from hl7.errors import DATA_TYPE, SEGMENT_SEQUENCE
from hl7.reader import header_of, read_messages
from scrubber.answers import Decision, answer_hl7
from scrubber.checker import Checker
from scrubber.inputs import InputError
from x12.writer import Stamp

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is loaded only by the commands that use it
    from scrubber.workflow import Workflow

__all__ = ["START", "END", "frame", "Listener", "serve"]

log = logging.getLogger(__name__)

START, END = b"\x0b", b"\x1c\x0d"
DEFAULT_MAX_FRAME = 4 * 1024 * 1024


def frame(message: str | bytes) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return START + data + END


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte is a character: nothing is lost


class Listener:
    """Answers framed HL7 messages with ACKs. `answer` turns one frame's bytes into the ACK of
    each message in it: the in-memory checker (`checker_answers`) or the ledger's workflow
    (`workflow_answers`); it runs in a worker thread so a slow database never stalls the loop."""

    def __init__(self, answer: Callable[[bytes], list[str]], max_frame: int = DEFAULT_MAX_FRAME):
        self.answer = answer
        self.max_frame = max_frame
        self.controls = count(1)
        self.stopping = asyncio.Event()
        self.connections: set[asyncio.Task] = set()

    def _oversize(self, head: bytes) -> bytes:
        header = header_of(_decode(head[:4096]).replace("\n", "\r"))
        error = AckError(None, DATA_TYPE, "E", None, "",
                         f"the frame exceeds the listener's limit of {self.max_frame} bytes")
        stamp = next(_clock_stamps(self.controls))
        return frame(build_ack(header, REJECT, [error], AckStamp(stamp.now, str(stamp.control))))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections.add(task)
        peer = writer.get_extra_info("peername")
        buffer = bytearray()
        try:
            while True:
                start = buffer.find(START)
                if start != 0:  # bytes outside a frame
                    skipped = len(buffer) if start < 0 else start
                    if buffer[:skipped].strip():
                        log.warning("connection %s: skipped %d bytes outside a frame", peer, skipped)
                    del buffer[:skipped]
                end = buffer.find(END)
                if buffer and end > 0:
                    data = bytes(buffer[1:end])
                    del buffer[:end + len(END)]
                    try:
                        acks = await asyncio.get_running_loop().run_in_executor(None, self.answer, data)
                    except Exception as error:  # e.g. the ledger is unreachable: nothing was answered
                        log.error("connection %s: a message could not be answered (%s); closing "
                                  "without an ACK so the sender sends it again", peer,
                                  type(error).__name__)
                        return
                    for ack in acks:
                        writer.write(frame(ack))
                    await writer.drain()
                    continue
                if len(buffer) > self.max_frame:
                    log.warning("connection %s: frame over %d bytes, closing", peer, self.max_frame)
                    writer.write(self._oversize(bytes(buffer[1:])))
                    await writer.drain()
                    return
                if self.stopping.is_set() and not buffer:
                    return
                # mid-frame, wait for the rest even when stopping (serve() bounds the wait)
                chunk = await (reader.read(65536) if buffer else self._read(reader))
                if not chunk:
                    return
                buffer += chunk
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("connection %s: closed by the peer", peer)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
            finally:  # only now: a stopping listener waits for the connections it still holds
                self.connections.discard(task)

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        """The next bytes, or b'' once the listener is stopping with nothing half-received."""
        read = asyncio.ensure_future(reader.read(65536))
        stop = asyncio.ensure_future(self.stopping.wait())
        done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
        if read in done:
            stop.cancel()
            return read.result()
        read.cancel()
        return b""


def _clock_stamps(controls):
    while True:
        yield Stamp(datetime.now().astimezone(), next(controls))


def checker_answers(checker: Checker) -> Callable[[bytes], list[str]]:
    """Check with one in-memory checker (history is the process's own); one frame at a time."""
    lock = threading.Lock()
    controls = count(1)

    def answer(data: bytes) -> list[str]:
        with lock:
            messages = read_messages(_decode(data), "mllp")
            decisions = {}
            for received in messages:
                result = checker.check(received.item)
                if result is not None:
                    decisions[id(received.item)] = Decision(result.verdict, result.findings)
                    rules = sorted({f.rule for f in result.findings})
                    log.info("message %s: %s %s", result.id, result.verdict.value, ",".join(rules))
            return answer_hl7(messages, lambda claim: decisions[id(claim)], _clock_stamps(controls))
    return answer


def _rejected(data: bytes) -> list[str]:
    """One AR for a frame that does not hold HL7 (nothing is recorded)."""
    error = AckError(None, SEGMENT_SEQUENCE, "E", None, "",
                     "the frame does not hold an HL7 v2 message (it must start with MSH)")
    stamp = next(_clock_stamps(count(1)))
    return [build_ack(header_of(_decode(data[:4096])), REJECT, [error],
                      AckStamp(stamp.now, str(stamp.control)))]


def workflow_answers(workflow: Workflow, tenant: str) -> Callable[[bytes], list[str]]:
    """Record and answer through the ledger, as POST /v1/hl7 does."""
    def answer(data: bytes) -> list[str]:
        if _decode(data[:16]).lstrip("\ufeff \t\r\n")[:3] not in ("MSH", "FHS", "BHS"):
            return _rejected(data)  # MLLP carries HL7 only: an X12 or other body is refused
        try:
            return workflow.submit(tenant, data, "mllp").acks
        except InputError:
            return _rejected(data)
    return answer


async def serve(answer: Callable[[bytes], list[str]], host: str, port: int,
                max_frame: int = DEFAULT_MAX_FRAME,
                ready: Callable[[str, int], None] | None = None) -> None:
    listener = Listener(answer, max_frame)
    server = await asyncio.start_server(listener.handle, host, port)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, listener.stopping.set)
    bound = server.sockets[0].getsockname()
    if ready is not None:
        ready(bound[0], bound[1])
    await listener.stopping.wait()
    server.close()
    if listener.connections:
        await asyncio.wait(set(listener.connections), timeout=30)
    await server.wait_closed()
    print("rpm-scrubber mllp: stopped", file=sys.stderr, flush=True)
