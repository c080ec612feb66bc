"""The buyer's pages: one parcel's story, the answer to an offer, unsubscribing, and finding a
parcel by order number and email.

Every page works without JavaScript and sets no cookie. Forms carry a signed token bound to the
parcel (CSRF), and cross-site posts are refused by their ``Origin``/``Sec-Fetch-Site``; the one
exception is RFC 8058's one-click unsubscribe, whose signed URL is its own proof. Anything wrong
with a link or a form gets a page that says so, in the buyer's language, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from babel import Locale

from notices.languages import babel_locale, canonical, long_date, supported_languages
from notices.webwords import PageWords, page_words
from tracker.config import TrackerConfig
from tracker.policy.sendtime import country_timezone
from tracker.runtime.app import TrackerApp
from tracker.web import links
from tracker.web.answers import record_choice
from tracker.web.guard import SummaryLog
from tracker.web.language import PageLocale, page_locale
from tracker.web.lookup import RateLimit, client_key, find_shipment
from tracker.web.parcels import load_parcel, unsubscribe_parcel
from tracker.web.server import WebServer
from tracker.web.story import ParcelRecord, Presentation, tell

FORM_TTL_DAYS = 1
ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """One entry of the language menu, named in its own language."""

    code: str
    name: str


def language_menu() -> tuple[LanguageChoice, ...]:
    """Every language the notices are written in, each named in itself."""
    return tuple(LanguageChoice(tag, _own_name(tag)) for tag in supported_languages())


def _own_name(tag: str) -> str:
    name = Locale.parse(babel_locale(tag)).get_display_name(babel_locale(tag)) or tag
    return name[:1].upper() + name[1:]


def lang_suffix(value: str | None, joiner: str) -> str:
    """``?lang=TAG`` (or ``&lang=``) to carry a chosen language over a redirect, if it is one."""
    tag = canonical(value)
    return f"{joiner}lang={tag}" if tag in supported_languages() else ""


def templates() -> jinja2.Environment:
    """The page templates, autoescaped, from this package."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tracker.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def brand_css(accent: str) -> bytes:
    """The seller's colours as CSS custom properties (served, never inline: the CSP forbids it)."""
    return f":root {{ --accent: {accent}; }}\n".encode()


class BuyerPages:
    """The buyer's routes on the daemon's web server."""

    def __init__(self, app: TrackerApp, server: WebServer, keys: links.LinkKeys) -> None:
        self.app = app
        self.server = server
        self.keys = keys
        self.env = templates()
        self.lookups = RateLimit(
            app.config.web.lookup_limit, app.config.web.lookup_window.total_seconds()
        )
        self.summary = SummaryLog()
        static = resources.files("tracker.web").joinpath("static")
        self.css = static.joinpath("page.css").read_bytes()

    @property
    def config(self) -> TrackerConfig:
        """The current config (a reload swaps it)."""
        return self.app.config

    def mount(self, router: web.UrlDispatcher) -> None:
        """Add the buyer's routes."""
        router.add_get("/", self.home)
        router.add_get("/static/page.css", self.page_css)
        router.add_get("/static/brand.css", self.brand_css)
        router.add_get("/favicon.ico", self.no_icon)
        router.add_get("/t/{token}", self.parcel)
        router.add_post("/t/{token}/choice", self.choose)
        router.add_get("/u/{token}", self.unsubscribe_form)
        router.add_post("/u/{token}", self.unsubscribe)
        router.add_get("/find", self.find_form)
        router.add_post("/find", self.find)

    # --- static -------------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/find")

    async def no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})

    async def page_css(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=self.css, content_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    async def brand_css(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=brand_css(self.config.web.brand.accent),
            content_type="text/css",
            headers={"Cache-Control": "max-age=3600"},
        )

    # --- the parcel ---------------------------------------------------------------------------

    async def parcel(self, request: web.Request) -> web.StreamResponse:
        opened = await self._open(request, "page")
        if isinstance(opened, web.StreamResponse):
            return opened
        token, ref, record, locale, words = opened
        shown = self._presentation()
        story = tell(record, words, locale, country_timezone(record.destination_country), shown)
        now = self.app.clock.now()
        note = self._answer_note(request, words, record, locale)
        return self.render(
            request,
            "parcel.html.j2",
            locale,
            title=words.say("page.title", order=record.order_reference, store=shown.store_name),
            story=story,
            token=token,
            csrf=links.sign(self.keys, "form", ref, now),
            notice_message=note,
            unsubscribe_url=f"/u/{links.sign(self.keys, 'unsubscribe', ref, now)}",
        )

    def _answer_note(
        self, request: web.Request, words: PageWords, record: ParcelRecord, locale: PageLocale
    ) -> dict[str, str] | None:
        result = request.query.get("answer")
        if result == "closed":
            return {"heading": words.say("choices.heading"), "text": words.say("choices.closed")}
        if record.answer is None:
            return None
        choice = words.say(f"choices.{record.answer.choice}")
        if result == "recorded":
            text = words.say("choices.done", choice=choice, store=self._presentation().store_name)
        else:
            day = long_date(record.answer.at.date(), locale.tag)
            text = words.say("choices.already", choice=choice, date=day)
        return {"heading": words.say("choices.done_heading"), "text": text}

    async def choose(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        ref = self._verified(request, token, "page")
        if isinstance(ref, web.StreamResponse):
            return ref
        form = await self._form(request, ref)
        if isinstance(form, web.StreamResponse):
            return form
        offer = form.get("offer", "")
        if not offer.isdigit() or len(offer) > 18:
            return self.message(request, 400, "errors.bad_heading", "errors.bad")
        result = await self.app.in_store(
            record_choice,
            self.app.store,
            self.config.refund,
            ref,
            int(offer),
            form.get("choice", ""),
            self.app.clock.now(),
            page_url=self.page_url(ref),
        )
        suffix = lang_suffix(request.query.get("lang"), "&")
        raise web.HTTPSeeOther(f"/t/{token}?answer={result.outcome}{suffix}")

    # --- unsubscribe --------------------------------------------------------------------------

    async def unsubscribe_form(self, request: web.Request) -> web.StreamResponse:
        opened = await self._open(request, "unsubscribe")
        if isinstance(opened, web.StreamResponse):
            return opened
        token, ref, record, locale, words = opened
        store = self._presentation().store_name
        return self.render(
            request,
            "unsubscribe.html.j2",
            locale,
            title=words.say("unsubscribe.heading", store=store),
            text=words.say("unsubscribe.explain", email=record.buyer_email),
            form=True,
            token=token,
            csrf=links.sign(self.keys, "form", ref, self.app.clock.now()),
            back_url=self.page_path(ref),
        )

    async def unsubscribe(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        ref = self._verified(request, token, "unsubscribe")
        if isinstance(ref, web.StreamResponse):
            return ref
        body = await request.read()  # read within the limits by the server
        one_click = body.decode("ascii", "replace").strip() == ONE_CLICK
        if not one_click:
            form = await self._form(request, ref, body=body)
            if isinstance(form, web.StreamResponse):
                return form
        record = await self.app.in_store(
            unsubscribe_parcel, self.app, ref, "one_click" if one_click else "page"
        )
        if record is None:
            return self.message(request, 404, "errors.link_heading", "errors.link", lookup=True)
        if one_click:
            return web.Response(text="unsubscribed\n")
        locale = self._locale(request, record.buyer_language, record.destination_country)
        words = page_words(locale.lang)
        return self.render(
            request,
            "unsubscribe.html.j2",
            locale,
            title=words.say("unsubscribe.done_heading"),
            text=words.say("unsubscribe.done", email=record.buyer_email),
            form=False,
            token=token,
            csrf="",
            back_url=self.page_path(ref),
        )

    # --- lookup -------------------------------------------------------------------------------

    async def find_form(self, request: web.Request) -> web.StreamResponse:
        return self._lookup_page(request, 200, problem=None)

    async def find(self, request: web.Request) -> web.StreamResponse:
        form = await self._form(request, 0)
        if isinstance(form, web.StreamResponse):
            return form
        key = client_key(request.remote, request.headers, self.config.web.trusted_proxies)
        if not self.lookups.allow(key):
            self.summary.note("web.lookup_limited", client=key)
            return self._lookup_page(request, 429, problem="lookup.too_many", form=form)
        order = form.get("order", "").strip()[:100]
        email = form.get("email", "").strip()[:254]
        ref = await self.app.in_store(find_shipment, self.app.store, order, email)
        if ref is None:
            return self._lookup_page(request, 200, problem="lookup.not_found", form=form)
        raise web.HTTPSeeOther(self.page_path(ref) + lang_suffix(request.query.get("lang"), "?"))

    def _lookup_page(
        self,
        request: web.Request,
        status: int,
        problem: str | None,
        form: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        locale = self._locale(request, None, None)
        words = page_words(locale.lang)
        response = self.render(
            request,
            "lookup.html.j2",
            locale,
            title=words.say("lookup.heading"),
            problem=words.say(problem) if problem else None,
            lookup=self._lookup_fields(form),
        )
        response.set_status(status)
        return response

    def _lookup_fields(self, form: dict[str, str] | None) -> dict[str, str]:
        form = form or {}
        return {
            "csrf": links.sign(self.keys, "form", 0, self.app.clock.now()),
            "order": form.get("order", "")[:100],
            "email": form.get("email", "")[:254],
        }

    # --- shared -------------------------------------------------------------------------------

    def page_path(self, ref: int) -> str:
        """The signed path of a shipment's page, as of now."""
        return f"/t/{links.sign(self.keys, 'page', ref, self.app.clock.now())}"

    def page_url(self, ref: int) -> str | None:
        """The page's full address when ``[web] public_url`` is set."""
        base = self.config.web.public_url
        return f"{base}{self.page_path(ref)}" if base else None

    def _presentation(self) -> Presentation:
        seller, brand = self.config.seller, self.config.web.brand
        support_email = None
        if seller.reply_to:
            from email.utils import parseaddr

            support_email = parseaddr(seller.reply_to)[1] or None
        return Presentation(
            store_name=seller.store_name,
            hide_origin=brand.hide_origin,
            hide_carrier=brand.hide_carrier,
            support_url=seller.support_url,
            support_email=support_email,
        )

    def _locale(
        self, request: web.Request, order_language: str | None, country: str | None
    ) -> PageLocale:
        return page_locale(
            request.query.get("lang"),
            order_language,
            request.headers.get("Accept-Language"),
            country,
            self.config.seller.default_language,
        )

    async def _open(
        self, request: web.Request, purpose: links.Purpose
    ) -> tuple[str, int, ParcelRecord, PageLocale, PageWords] | web.StreamResponse:
        """The link's token, shipment, record and language, or the error page for a bad link."""
        token = request.match_info["token"]
        ref = self._verified(request, token, purpose)
        if isinstance(ref, web.StreamResponse):
            return ref
        record = await self.app.in_store(load_parcel, self.app, ref)
        if record is None:
            return self.message(request, 404, "errors.link_heading", "errors.link", lookup=True)
        locale = self._locale(request, record.buyer_language, record.destination_country)
        return token, ref, record, locale, page_words(locale.lang)

    def _verified(
        self, request: web.Request, token: str, purpose: links.Purpose
    ) -> int | web.StreamResponse:
        try:
            signed = links.verify(
                self.keys, token, purpose, self.app.clock.now(), self.config.web.link_ttl
            )
        except links.LinkExpired:
            return self.message(
                request, 410, "errors.expired_heading", "errors.expired", lookup=True
            )
        except links.LinkError:
            return self.message(request, 404, "errors.link_heading", "errors.link", lookup=True)
        return signed.ref

    async def _form(
        self, request: web.Request, ref: int, body: bytes | None = None
    ) -> dict[str, str] | web.StreamResponse:
        """The posted form's fields once its origin and CSRF token check out."""
        if not same_origin(request, self.config.web.public_url):
            return self.message(request, 403, "errors.form_heading", "errors.form")
        if body is None:
            body = await request.read()  # read within the limits by the server
        fields = parse_form(body)
        if fields is None:
            return self.message(request, 400, "errors.bad_heading", "errors.bad")
        try:
            signed = links.verify(
                self.keys,
                fields.get("csrf", ""),
                "form",
                self.app.clock.now(),
                _form_ttl(),
            )
        except links.LinkError:
            return self.message(request, 403, "errors.form_heading", "errors.form")
        if signed.ref != ref:
            return self.message(request, 403, "errors.form_heading", "errors.form")
        return fields

    def message(
        self,
        request: web.Request,
        status: int,
        heading: str,
        text: str,
        *,
        lookup: bool = False,
    ) -> web.StreamResponse:
        """A page that says what went wrong (and, for a bad link, offers the lookup form)."""
        locale = self._locale(request, None, None)
        words = page_words(locale.lang)
        response = self.render(
            request,
            "message.html.j2",
            locale,
            title=words.say(heading),
            text=words.say(text),
            back_url=None,
            back_label="",
            lookup=self._lookup_fields(None) if lookup else None,
        )
        response.set_status(status)
        return response

    def render(
        self, request: web.Request, template: str, locale: PageLocale, **values: Any
    ) -> web.Response:
        """A page in ``locale``; personal pages are never cached or indexed."""
        words = page_words(locale.lang)
        html = self.env.get_template(template).render(
            w=words,
            locale=locale,
            languages=language_menu(),
            brand={
                "store_name": self.config.seller.store_name,
                "logo_url": self.config.web.brand.logo_url,
                "footer": self.config.web.brand.footer,
            },
            **values,
        )
        return web.Response(
            text=html,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Content-Language": locale.tag},
        )


def _form_ttl() -> Any:
    from datetime import timedelta

    return timedelta(days=FORM_TTL_DAYS)


def parse_form(body: bytes) -> dict[str, str] | None:
    """``application/x-www-form-urlencoded`` fields (the first of each name); None if the body
    is not valid UTF-8 or has more than a few dozen fields."""
    from urllib.parse import parse_qsl

    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=32, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def same_origin(request: web.Request, public_url: str | None) -> bool:
    """False for a browser's cross-site post: ``Sec-Fetch-Site`` says so, or ``Origin`` names
    another host than the one the request was sent to (or ``public_url``). An absent or opaque
    (``null``) origin passes: the form's signed token is the proof that counts."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    allowed = {request.host}
    if public_url:
        allowed.add(urlsplit(public_url).netloc)
    return urlsplit(origin).netloc in allowed
