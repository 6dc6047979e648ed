"""One HTTP/1.1 keep-alive connection over a raw socket: what a balancing proxy reusing a connection sees.

httpx would quietly open a new connection after a reset; here a reset or a close is observed, not hidden.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Seconds idle after which a server's close of a kept-alive connection is its idle timeout (uvicorn's is 5 s).
IDLE_CLOSE_AFTER = 4.0


class Reset(Exception):
    """The server closed or reset the connection without a complete answer."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


class Wire:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        self.buffer = b""
        self.idle_closes = 0  # keep-alive connections the server closed between requests (its idle timeout)
        self.answered_at = time.monotonic()

    def _reopen_if_closed_while_idle(self) -> None:
        """A server may close a keep-alive connection that sat idle (uvicorn after 5 s; a loaded machine can take
        that long to draw the next example): that is HTTP working, not a reset, so a proxy would reconnect too.
        Seen here as end-of-file before anything was sent, after the connection sat idle for most of that timeout:
        a close right after an answer (the crash pattern: answered, then dropped) is still a reset."""
        if time.monotonic() - self.answered_at < IDLE_CLOSE_AFTER:
            return
        ready, _, _ = select.select([self.sock], [], [], 0)
        if ready and not self.buffer:
            try:
                peeked = self.sock.recv(1, socket.MSG_PEEK)
            except OSError:
                peeked = b""
            if not peeked:
                self.sock.close()
                self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
                self.idle_closes += 1

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def request(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._reopen_if_closed_while_idle()
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            answer = self._answer()
            self.answered_at = time.monotonic()
            return answer
        except OSError as exc:  # ECONNRESET, EPIPE
            raise Reset(str(exc)) from exc

    def _answer(self) -> Answer:
        head = self._until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = self._exactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            raise Reset(f"an answer without a length: {status_line}")
        return Answer(int(status_line.split()[1]), headers, body)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise Reset("the server closed the connection")
        self.buffer += data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._until(b"\r\n")
                return body
            body += self._exactly(size)
            self._exactly(2)
