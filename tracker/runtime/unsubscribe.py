"""The one-click unsubscribe page (RFC 8058), served by the daemon's web server.

A mail provider's "Unsubscribe" button POSTs ``List-Unsubscribe=One-Click`` to the link in the
notice's List-Unsubscribe header; a buyer who opens the link in a browser gets a page with one
button that POSTs the same. Opening the link never unsubscribes by itself (link scanners open
every link). The address goes on the suppression list (``tracker.store.optout``), so every
shipment of it, including ones added later, stays quiet.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from aiohttp import web

from notices.languages import REFERENCE, resolve
from notices.strings import Catalog
from notices.unsubscribe import email_of, secret
from tracker.eventlog import get_logger
from tracker.runtime.app import TrackerApp
from tracker.store.optout import opt_out


class OneClickUnsubscribe:
    """GET shows the confirmation page, POST opts the token's address out of every notice."""

    def __init__(self, app: TrackerApp) -> None:
        self.app = app
        self.log = get_logger(component="unsubscribe")
        self._catalog: Catalog | None = None
        self._secret = b""

    def routes(self) -> list[web.RouteDef]:
        """Nothing unless ``seller.unsubscribe_url`` is set; ConfigError if its key is missing."""
        url = self.app.config.seller.unsubscribe_url
        if not url:
            return []
        self._secret = secret(self.app.config.seller)
        self._catalog = Catalog(self.app.config.notices.strings_file)
        path = urlsplit(url).path or "/"
        return [web.get(path, self.show), web.post(path, self.confirm)]

    async def show(self, request: web.Request) -> web.Response:
        """The page behind the link: a question and one button; nothing changes yet."""
        lang = self._language(request)
        if email_of(request.query.get("token", ""), self._secret) is None:
            return self._page(lang, "unsubscribe.invalid", status=400)
        return self._page(lang, "unsubscribe.question", button=True)

    async def confirm(self, request: web.Request) -> web.Response:
        """Opt the address out (again is harmless) and say so."""
        lang = self._language(request)
        email = email_of(request.query.get("token", ""), self._secret)
        if email is None:
            self.log.warning("unsubscribe.rejected", remote=request.remote)
            return self._page(lang, "unsubscribe.invalid", status=400)
        now = self.app.clock.now()
        result = await self.app.in_store(
            opt_out, self.app.store, now, email=email, source="one-click"
        )
        self.log.info(
            "unsubscribe.done", shipments=len(result.shipments), already=len(result.already)
        )
        return self._page(lang, "unsubscribe.done")

    def _language(self, request: web.Request) -> str:
        return resolve(request.query.get("lang")) or REFERENCE

    def _page(
        self, lang: str, key: str, *, status: int = 200, button: bool = False
    ) -> web.Response:
        catalog = self._catalog or Catalog(self.app.config.notices.strings_file)
        values = {"store": self.app.config.seller.store_name}
        title = html.escape(catalog.format(lang, "unsubscribe.title", values))
        body = html.escape(catalog.format(lang, key, values))
        form = (
            '<form method="post"><button type="submit" name="List-Unsubscribe" '
            f'value="One-Click">{html.escape(catalog.raw(lang, "unsubscribe.button"))}'
            "</button></form>"
            if button
            else ""
        )
        page = (
            f'<!DOCTYPE html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title></head><body><h1>{title}</h1><p>{body}</p>{form}</body></html>"
        )
        return web.Response(text=page, content_type="text/html", status=status)
