"""A real HTTP/1.1 server on 127.0.0.1 for tests: routes are callables, requests are recorded.

It runs in a background thread so async clients under test talk to it over a real socket.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """What the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What a route answers."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


Handler = Callable[[Request], Reply]


class _RecordingServer(ThreadingHTTPServer):
    """A server that records a handler's error instead of printing it to stderr.

    A client under test may hang up mid-reply (a timeout, a cancelled poll, a daemon stopping);
    socketserver prints that from its handler thread, and a CLI test capturing stderr at the
    time would find a stranger's traceback in its own output.
    """

    errors: list[BaseException]

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.errors.append(error)


class LoopbackHTTPServer:
    """Route table + request log over a ThreadingHTTPServer bound to an ephemeral loopback port."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        #: errors raised while serving (clients that hung up mid-reply), kept off stderr
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._server: _RecordingServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method path`` (path without query) with ``handler``."""
        self.routes[(method.upper(), path)] = handler

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with owner._lock:
                    owner.requests.append(request)
                handler = owner.routes.get((self.command, parts.path))
                reply = handler(request) if handler else Reply(404, b"no route")
                if reply.delay_seconds:
                    threading.Event().wait(reply.delay_seconds)
                payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = _RecordingServer(("127.0.0.1", 0), _Handler)
        self._server.errors = self.errors
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
