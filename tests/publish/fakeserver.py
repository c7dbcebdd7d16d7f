"""A tiny threaded HTTP server for the publish tests, with fault injection.

Subclasses implement ``route(req) -> Reply``. Faults are armed per test:

    server.fail(2, path="/preupload/")        # the next 2 matching requests get a 503
    server.drop(1, method="PUT", after=100)   # read 100 body bytes, then cut the connection
    server.stall(method="PUT", skip=4)        # let 4 through, then hold the rest (until release)
                                              # while the test kills the client: an interrupted push

It binds 127.0.0.1 on a free port and speaks HTTP/1.1 with keep-alive, so the real clients
(httpx for the Hub, requests for Kaggle) behave as they do against the real services. Requests
arriving through a forward proxy (absolute-form targets, ``POST http://localhost/api/...``) are
served too: the Kaggle client can only be pointed at ``http://localhost``, so the tests set
``HTTP_PROXY`` to this server.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str  # decoded path, without query, host or scheme
    raw_path: str  # still percent-encoded, for revisions that contain '/'
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        return body or b"", headers


@dataclass
class Fault:
    kind: str  # "fail" | "drop"
    remaining: int
    method: str | None
    path: re.Pattern | None
    status: int = 503
    after: int = 0
    skip: int = 0  # matching requests to let through first

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0 or (self.method is not None and self.method != method):
            return False
        if self.path is not None and self.path.search(path) is None:
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        return True


class FakeServer:
    """Base class: owns the socket, the request log and the armed faults."""

    def __init__(self):
        self.lock = threading.RLock()
        self.log: list[tuple[str, str, int]] = []  # (method, path, status); status 0 = dropped
        self.seen_headers: list[dict[str, str]] = []
        self.faults: list[Fault] = []
        self.stalled = threading.Event()  # set when a request is being held by a stall fault
        self.released = threading.Event()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ faults

    def fail(self, times: int, *, method: str | None = None, path: str | None = None, status: int = 503):
        with self.lock:
            self.faults.append(Fault("fail", times, method, re.compile(path) if path else None, status))

    def drop(self, times: int, *, method: str | None = None, path: str | None = None, after: int = 0):
        with self.lock:
            self.faults.append(Fault("drop", times, method, re.compile(path) if path else None, after=after))

    def stall(self, *, method: str | None = None, path: str | None = None, skip: int = 0, after: int = 0):
        with self.lock:
            self.faults.append(Fault("stall", 1 << 30, method, re.compile(path) if path else None, after=after,
                                     skip=skip))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None

    def requests(self, method: str | None = None, path: str = "") -> list[tuple[str, str, int]]:
        with self.lock:
            return [e for e in self.log if (method is None or e[0] == method) and path in e[1]]

    # ------------------------------------------------------------------ for subclasses

    def route(self, req: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_partial(self, req: Request, data: bytes) -> None:
        """Called with the bytes that arrived before a dropped connection."""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # killed clients are expected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def _serve(self):
        app: FakeServer = self.server.app
        target = urlsplit(self.path)
        raw_path = target.path
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, unquote(raw_path), raw_path, parse_qs(target.query), headers)
        with app.lock:
            app.seen_headers.append(headers)
        fault = app._take_fault(req.method, req.path)
        if fault is not None and fault.kind in ("drop", "stall"):
            data = self._read_body(limit=fault.after)
            app.on_partial(req, data)
            if fault.kind == "stall":
                app.stalled.set()
                app.released.wait(30)
            with app.lock:
                app.log.append((req.method, req.path, 0))
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        req.body = self._read_body()
        if fault is not None:
            reply = Reply(fault.status, {"error": "injected failure", "message": "injected failure"})
        else:
            try:
                reply = app.route(req)
            except Exception as exc:  # a bug in the fake: make it loud in the client's output
                reply = Reply(599, {"error": f"fake server error: {exc!r}"})
        body, extra = reply.encode()
        with app.lock:
            app.log.append((req.method, req.path, reply.status))
        self.send_response(reply.status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body in one write: two small writes meet delayed ACKs and cost ~40 ms each.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()

    def _read_body(self, limit: int | None = None) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunk = self.rfile.read(size)
                self.rfile.readline()
                chunks.append(chunk)
                total += len(chunk)
                if limit is not None and total >= limit:
                    break
            data = b"".join(chunks)
            return data[:limit] if limit is not None else data
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None:
            length = min(length, limit)
        return self.rfile.read(length) if length else b""

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve
