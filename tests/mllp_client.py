"""A small MLLP client for the tests: frames messages, reads framed answers."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading

START, END = b"\x0b", b"\x1c\x0d"


class Client:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 20):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def send(self, message: str | bytes) -> None:
        data = message.encode() if isinstance(message, str) else message
        self.sock.sendall(START + data + END)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> str:
        """The next framed answer, without its framing."""
        while END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed with {len(self.buffer)} bytes unanswered")
            self.buffer += chunk
        data, _, self.buffer = self.buffer.partition(END)
        assert data.startswith(START), data[:20]
        return data[1:].decode()

    def closed(self) -> bool:
        """True once the listener has closed the connection (after any answers already sent)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_listener(env: dict | None, *args: str) -> tuple[subprocess.Popen, int]:
    """`rpm-scrubber mllp --port 0 ARGS` as a process, and the port it printed it listens on.
    Its log is read on a thread (`process.drain`, into the list `process.log`) so the pipe never
    fills."""
    process = subprocess.Popen([sys.executable, "-m", "scrubber.cli", "mllp", "--port", "0", *args],
                               env=env, stderr=subprocess.PIPE, text=True)
    port, said = None, []
    while port is None:
        line = process.stderr.readline()
        said.append(line)
        if not line:
            process.wait()
            process.stderr.close()
            raise RuntimeError(f"the listener did not start: {''.join(said)[-2000:]}")
        found = re.search(r"listening on [\d.]+:(\d+)", line)
        port = int(found.group(1)) if found else None
    process.log = said
    process.drain = threading.Thread(target=lambda: said.extend(process.stderr), daemon=True)
    process.drain.start()
    return process, port


def stop_listener(process: subprocess.Popen, kill: bool = False) -> int:
    """SIGTERM (or SIGKILL) the listener; its exit code."""
    if process.poll() is None:
        process.kill() if kill else process.terminate()
    code = process.wait(timeout=30)
    process.drain.join(timeout=10)
    process.stderr.close()
    return code
