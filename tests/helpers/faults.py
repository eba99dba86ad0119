"""A fault-injecting HTTP proxy on 127.0.0.1, in front of a real S3 server (moto's), for the bucket's bad days.

On a share of requests, chosen by a seeded random generator, it answers ``503 SlowDown`` without
forwarding, resets the connection before forwarding, forwards the request and then resets the
connection instead of answering (the write happened, the client does not know), or waits before
forwarding (a slow answer). It counts the writes that reached the server, per key.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass
class Faults:
    """Shares of requests (0..1) that get each fault; the rest pass through."""

    slowdown: float = 0.0
    reset: float = 0.0
    drop_answer: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.3
    seed: int = 11
    injected: Counter = field(default_factory=Counter)
    writes: Counter = field(default_factory=Counter)  # successful PUT/POST per path, as the server answered them

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def pick(self) -> str | None:
        with self._lock:
            x = self._random.random()
        for name in ("slowdown", "reset", "drop_answer", "slow"):
            share = getattr(self, name)
            if x < share:
                return name
            x -= share
        return None


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the client sees 'connection reset by peer'."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _handler(upstream: str, faults: Faults):
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _any(self) -> None:
            body = self._body()
            fault = faults.pick() if not self.path.startswith("/moto-api") else None
            if fault:
                faults.injected[fault] += 1
            if fault == "slowdown":
                self.send_response(503)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(SLOWDOWN)))
                self.end_headers()
                self.wfile.write(SLOWDOWN)
                return
            if fault == "reset":
                self.close_connection = True
                _reset(self.connection)
                return
            if fault == "slow":
                time.sleep(faults.slow_seconds)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
            finally:
                conn.close()
            if self.command in ("PUT", "POST") and 200 <= answer.status < 300:
                faults.writes[urlsplit(self.path).path] += 1
            if fault == "drop_answer":
                self.close_connection = True
                _reset(self.connection)
                return
            self.send_response(answer.status)
            for k, v in answer.getheaders():
                if k.lower() not in HOP_BY_HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                    self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

    return Handler


class FaultProxy:
    """``with FaultProxy(upstream, faults) as url:`` a proxy on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, upstream: str, faults: Faults) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, faults))
        self.server.daemon_threads = True
        self.faults = faults

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
