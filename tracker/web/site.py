"""The daemon's web server, assembled from config: carrier pushes, the buyer's pages and the
ops view on one server with one set of limits (``[web]``).

``[webhooks] port`` (the older key) still starts the server with pushes only when ``[web] port``
is not set.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from aiohttp import web

from tracker.config import TrackerConfig, secret
from tracker.errors import ConfigError
from tracker.runtime.app import TrackerApp
from tracker.runtime.preflight import PushRoute
from tracker.runtime.webserver import PushReceivers
from tracker.web.links import LinkKeys
from tracker.web.ops import OpsView
from tracker.web.pages import BuyerPages
from tracker.web.server import ErrorPage, ServerLimits, WebServer, plain_error


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


def content_policy(config: TrackerConfig) -> str:
    """The CSP: nothing but our own stylesheet and images, plus the seller's logo's origin."""
    logo = config.web.brand.logo_url
    images = "'self'"
    if logo:
        parts = urlsplit(logo)
        images += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; style-src 'self'; img-src {images}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def link_keys(config: TrackerConfig) -> LinkKeys:
    """The page-link signing keys; ConfigError naming ``web.link_keys_env`` when unusable."""
    name = config.web.link_keys_env
    return LinkKeys.parse(os.environ.get(name), f"web.link_keys_env ({name})")


def build_server(app: TrackerApp) -> WebServer | None:
    """The server the daemon runs, or None when neither ``[web]`` nor ``[webhooks]`` has a port.

    ConfigError (naming the key) when pages are on without link keys, or a secret is missing.
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
    pushes_limit, form_limit = config.webhooks.max_body, config.web.max_form

    def body_limit(path: str) -> int:
        return pushes_limit if path.startswith("/webhooks/") else form_limit

    server = WebServer(
        host,
        port,
        server_limits(config),
        csp=content_policy(config),
        body_limit=body_limit,
        max_body=max(pushes_limit, form_limit),
    )
    pushes = PushReceivers(app)
    pushes.mount(server.app.router)
    server.on_listening.append(pushes.log_listening)
    keys = link_keys(config) if config.web.port is not None and config.web.pages else None
    if keys is not None:
        pages = BuyerPages(app, server, keys)
        pages.mount(server.app.router)
        server.error_page = _errors_for(pages)
    token = secret(config.web.ops_token_env, "web.ops_token_env")
    if config.web.ops_token_env and not token:
        raise ConfigError(
            f"web.ops_token_env: environment variable {config.web.ops_token_env} is empty"
        )
    if token:
        OpsView(app, server, token, keys or LinkKeys((token.encode(),))).mount(server.app.router)
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


def _errors_for(pages: BuyerPages) -> ErrorPage:
    def page(request: web.Request, status: int, reason: str) -> web.StreamResponse:
        if request.path.startswith(("/webhooks/", "/ops")):
            return plain_error(request, status, reason)
        heading, text = ERROR_WORDS.get(status, ERROR_WORDS[400])
        return pages.message(request, status, heading, text, lookup=status == 404)

    return page


ERROR_WORDS = {
    400: ("errors.bad_heading", "errors.bad"),
    403: ("errors.form_heading", "errors.form"),
    404: ("errors.not_found_heading", "errors.not_found"),
    405: ("errors.bad_heading", "errors.bad"),
    408: ("errors.slow_heading", "errors.slow"),
    413: ("errors.too_large_heading", "errors.too_large"),
    500: ("errors.server_heading", "errors.server"),
}
