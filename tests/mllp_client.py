"""A small MLLP client for the tests: frames messages, reads framed answers."""
from __future__ import annotations

import socket

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
