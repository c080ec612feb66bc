"""The daemon's web server, assembled from config: carrier pushes on one server with one set of
limits (``[web]``).

``[webhooks] port`` (the older key) still starts the server when ``[web] port`` is not set.
"""

from __future__ import annotations

from tracker.config import TrackerConfig
from tracker.runtime.app import TrackerApp
from tracker.runtime.preflight import PushRoute
from tracker.runtime.webserver import PushReceivers
from tracker.web.server import ServerLimits, WebServer


def server_limits(config: TrackerConfig) -> ServerLimits:
    """The ``[web]`` limits in seconds."""
    web_config = config.web
    return ServerLimits(
        header_timeout=web_config.header_timeout.total_seconds(),
        body_timeout=web_config.body_timeout.total_seconds(),
        idle_timeout=web_config.idle_timeout.total_seconds(),
        max_connections=web_config.max_connections,
        shutdown_grace=web_config.shutdown_grace.total_seconds(),
    )


def build_server(app: TrackerApp) -> WebServer | None:
    """The server the daemon runs, or None when neither ``[web]`` nor ``[webhooks]`` has a port.

    ConfigError (naming the key) when a push receiver's secret is missing.
    """
    built = assemble(app)
    return built[0] if built is not None else None


def assemble(app: TrackerApp) -> tuple[WebServer, list[PushRoute]] | None:
    """The server with every part config asks for mounted, and the push routes it serves."""
    config = app.config
    if config.web.port is not None:
        host, port = config.web.host, config.web.port
    elif config.webhooks.port is not None:
        host, port = config.webhooks.host, config.webhooks.port
    else:
        return None
    max_body = config.webhooks.max_body
    server = WebServer(
        host, port, server_limits(config), body_limit=lambda _path: max_body, max_body=max_body
    )
    pushes = PushReceivers(app)
    pushes.mount(server.app.router)
    server.on_listening.append(pushes.log_listening)
    return server, pushes.routes


class DaemonSite:
    """The daemon's hook for the web server: built from config on ``start`` (so a missing secret
    stops ``tracker run`` with the key's name), stopped after the jobs drain."""

    def __init__(self, app: TrackerApp) -> None:
        self.app = app
        self.server: WebServer | None = None
        #: the push receivers served (after ``start``)
        self.routes: list[PushRoute] = []

    @property
    def url(self) -> str:
        """Base URL the server listens on (after ``start``)."""
        if self.server is None:
            raise RuntimeError("web server is not started")
        return self.server.url

    @property
    def started(self) -> bool:
        """True once the server is listening."""
        return self.server is not None and self.server.listening

    async def start(self) -> None:
        """Build and bind the server (nothing when no port is configured)."""
        built = assemble(self.app)
        if built is None:
            return
        server, self.routes = built
        await server.start()
        self.server = server

    async def stop(self) -> None:
        """Stop it promptly (see ``WebServer.stop``)."""
        if self.server is not None:
            await self.server.stop()


def wants_server(config: TrackerConfig) -> bool:
    """True when config asks for the web server (``[web] port`` or ``[webhooks] port``)."""
    return config.web.port is not None or config.webhooks.port is not None
