"""The daemon's one HTTP server: carrier pushes, the buyer's pages and the ops view, one set of
limits.

Built on ``aiohttp.web`` (already a dependency; measured faster than Starlette on uvicorn in the
same event loop, see docs/web.md). What aiohttp lacks is added here and in
:mod:`tracker.web.guard`: head and idle deadlines and a connection limit per connection, a body
size and time limit where bodies are read, strict security headers on every answer, one access
log line per request with personal data left out, and a shutdown that does not wait for clients
who send nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from tracker.eventlog import get_logger
from tracker.web.guard import (
    ConnectionGuard,
    ConnectionLimits,
    Connections,
    QuietAcceptErrors,
    SummaryLog,
    connection_cap,
)
from tracker.web.limits import BodyRefused, read_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: bytes a body may have where nothing else is configured
DEFAULT_BODY_LIMIT = 1024 * 1024
#: a connection's pending requests are not worth more than this many queued accepts
BACKLOG = 64
#: errors caused by what a client sent (a parser's recursion limit, bad bytes): 400, not 500
CLIENT_FAULTS = (RecursionError, UnicodeError, ValueError)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Every limit of the server, in seconds and bytes."""

    header_timeout: float
    body_timeout: float
    idle_timeout: float
    max_connections: int
    shutdown_grace: float


def security_headers(csp: str) -> dict[str, str]:
    """Headers every answer carries: no framing, no sniffing, no inline script, and no referrer
    (the page's signed link) sent to another site."""
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    }


DEFAULT_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

#: what an error answer says when the client wants no page (pushes, scripts)
ErrorPage = Callable[[web.Request, int, str], web.StreamResponse]


def plain_error(_request: web.Request, status: int, reason: str) -> web.StreamResponse:
    """A short JSON error: pushes and scripts read these."""
    return web.json_response({"error": reason}, status=status)


class WebServer:
    """Owns the aiohttp runner and the guarded listening socket; ``start``/``stop`` are the
    daemon's hooks. Routes are added by the parts that own them before ``start``."""

    def __init__(
        self,
        host: str,
        port: int,
        limits: ServerLimits,
        *,
        csp: str = DEFAULT_CSP,
        error_page: ErrorPage = plain_error,
        body_limit: Callable[[str], int] = lambda _path: DEFAULT_BODY_LIMIT,
        max_body: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits
        self.log = get_logger(component="web")
        self.summary = SummaryLog()
        self.connections = Connections(
            ConnectionLimits(
                header_timeout=limits.header_timeout,
                idle_timeout=limits.idle_timeout,
                max_connections=connection_cap(limits.max_connections),
            ),
            self.summary,
        )
        self.headers = security_headers(csp)
        self.error_page = error_page
        #: the most bytes a body may have on a path (checked before reading when declared)
        self.body_limit = body_limit
        self.app = web.Application(
            middlewares=[self._guarded, self._logged, self._secured, self._contained, self._bodies],
            # a chunked body (no declared length) stops here; body_limit then applies per path
            client_max_size=max_body,
        )
        self._runner: web.AppRunner | None = None
        self._site: GuardedSite | None = None
        self._accept_filter = QuietAcceptErrors()
        #: called with the base URL once bound (e.g. to log each receiver's address)
        self.on_listening: list[Callable[[str], None]] = []

    @property
    def listening(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._runner is not None and bool(self._runner.addresses)

    @property
    def url(self) -> str:
        """Base URL the server listens on (after ``start``)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("web server is not started")
        host, port = self._runner.addresses[0][:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    async def start(self) -> None:
        """Bind and serve."""
        logging.getLogger("asyncio").addFilter(self._accept_filter)
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            keepalive_timeout=self.limits.idle_timeout,
            shutdown_timeout=self.limits.shutdown_grace,
            handle_signals=False,
        )
        await self._runner.setup()
        self._site = GuardedSite(self._runner, self.host, self.port, self.connections)
        await self._site.start()
        self.log.info(
            "web.listening",
            url=self.url,
            max_connections=self.connections.limits.max_connections,
            header_timeout_s=self.limits.header_timeout,
            body_timeout_s=self.limits.body_timeout,
        )
        for listener in self.on_listening:
            listener(self.url)

    async def stop(self) -> None:
        """Stop listening, drop clients that have no request in progress, give requests in
        progress the grace period, then close everything."""
        if self._runner is None:
            return
        started = time.monotonic()
        self.connections.closing = True
        if self._site is not None:
            self._site.close_listener()
        dropped = self.connections.cut_waiting("shutdown")
        for guard in list(self.connections.open):
            if guard.reading_body:
                guard.cut("shutdown")
                dropped += 1
        await self._runner.cleanup()
        self.connections.cut_all("shutdown")
        self._runner = None
        logging.getLogger("asyncio").removeFilter(self._accept_filter)
        self.log.info("web.stopped", dropped=dropped, took_s=round(time.monotonic() - started, 3))

    # --- middlewares, outermost first -----------------------------------------------------------

    @web.middleware
    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Tells the connection's guard when its request is answered (idle deadline from then)."""
        try:
            return await handler(request)
        finally:
            guard = self.connections.guard_for(request.transport)
            if guard is not None:
                guard.request_finished()

    @web.middleware
    async def _logged(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """One ``web.request`` line per request; the path is the route's pattern, so links,
        tokens and looked-up emails never reach the log."""
        started = time.monotonic()
        response = await handler(request)
        self.log.info(
            "web.request",
            method=request.method,
            route=route_name(request),
            status=response.status,
            ms=round((time.monotonic() - started) * 1000, 1),
            client=client_network(request.remote),
        )
        return response

    @web.middleware
    async def _secured(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        return response

    @web.middleware
    async def _bodies(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Read every body within its path's size limit and the body deadline before any
        handler runs; the handler's ``request.read()`` returns it."""
        if request.can_read_body:
            await read_body(
                request,
                limit=self.body_limit(request.path),
                within=self.limits.body_timeout,
                connections=self.connections,
            )
        return await handler(request)

    @web.middleware
    async def _contained(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """No traceback ever reaches a client: refused bodies and faulty input answer 4xx, HTTP
        errors get our page, and a bug answers a plain 500 (logged, rate-limited)."""
        try:
            return await handler(request)
        except BodyRefused as exc:
            response = self.error_page(request, exc.status, exc.reason)
            response.force_close()
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return self.error_page(request, exc.status, exc.reason)
        except CLIENT_FAULTS as exc:
            self.summary.note("web.bad_input", route=route_name(request), error=type(exc).__name__)
            return self.error_page(request, 400, "the request could not be understood")
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception:
            self.log.exception("web.failed", route=route_name(request))
            return self.error_page(request, 500, "internal error")


class GuardedSite(web.TCPSite):
    """A TCP site whose every connection goes through a :class:`ConnectionGuard`."""

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, connections: Connections
    ) -> None:
        super().__init__(runner, host, port, backlog=BACKLOG)
        self.connections = connections

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        def guarded() -> ConnectionGuard:
            return ConnectionGuard(server(), self.connections)

        self._server = await loop.create_server(
            guarded, self._host, self._port, backlog=self._backlog, reuse_address=True
        )

    def close_listener(self) -> None:
        """Stop accepting; connections already open are left to the caller."""
        if self._server is not None:
            self._server.close()


def route_name(request: web.Request) -> str:
    """The matched route's pattern (``/t/{token}``), never the concrete path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def client_network(remote: str | None) -> str | None:
    """The client's address with its host part dropped (/24, /48): enough to see a flood."""
    if not remote:
        return None
    if ":" in remote:
        return ":".join(remote.split(":")[:3]) + "::/48"
    parts = remote.split(".")
    return ".".join([*parts[:3], "0"]) + "/24" if len(parts) == 4 else remote
