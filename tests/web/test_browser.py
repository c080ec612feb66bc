"""The buyer's page in a real browser: Debian's Chromium, driven by Playwright (no browser
download), against the daemon's web server on loopback.

A notice's "Track my parcel" link opens the page; the story reads in three languages; a free
resend is chosen once (by mouse, by keyboard alone, and with JavaScript off); one click
unsubscribes; a parcel is found by order number and email. Every page is checked for one h1,
landmarks, labelled controls, visible focus, WCAG AA contrast, its lang, no cookie and no request
to another site. Screenshots at phone and desktop widths are kept in test-artifacts/web/.
"""

from __future__ import annotations

import mailbox
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import ColumnElement, func, select

from tests.web.seed import LINK_KEY, NOW, OPS_TOKEN, Seeded, seed, web_config
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.jobs.dispatch import dispatch_due
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.models import Base, Notice, Shipment, Suppression
from tracker.web.site import DaemonSite

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}

pytestmark = pytest.mark.integration

if TYPE_CHECKING:
    from playwright.async_api import ViewportSize

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - the dev dependencies include it
    async_playwright = None  # type: ignore[assignment]


def need_chromium() -> None:
    """Skip where Chromium or Playwright is missing, unless CI is set: there it must run."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    if async_playwright is None:
        missing.append("the playwright package (./dev installs the dev dependencies)")
    if not missing:
        return
    reason = "browser tests need " + " and ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI must run them (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    need_chromium()
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class LiveSite:
    """The server on a fixed loopback port, so ``public_url`` (and every notice link) reaches it."""

    app: TrackerApp
    seeded: Seeded
    url: str
    maildir: Path

    def count(self, model: type[Base], *where: ColumnElement[bool]) -> int:
        with self.app.store() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
async def live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> AsyncIterator[LiveSite]:
    monkeypatch.setenv("TEST_WEB_KEYS", LINK_KEY)
    monkeypatch.setenv("TEST_OPS_TOKEN", OPS_TOKEN)
    base = f"http://127.0.0.1:{unused_tcp_port}"
    path = web_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("port = 0", f"port = {unused_tcp_port}")
    text = text.replace('public_url = "https://track.aurora.example"', f'public_url = "{base}"')
    path.write_text(text, encoding="utf-8")
    app = build_app(load_config(path), SimulatedClock(NOW))
    seeded = seed(app)
    site = DaemonSite(app)
    await site.start()
    try:
        yield LiveSite(app, seeded, base, tmp_path / "mail")
    finally:
        await site.stop()
        await app.close()


class Watch:
    """Every request a page makes, to prove none leaves the site."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))

    def foreign(self, base: str) -> list[str]:
        return [u for u in self.urls if not u.startswith(base) and not u.startswith("data:")]


AUDIT_JS = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((v) => {
      v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || el.closest("[hidden]")) continue;
    if (el.getBoundingClientRect().width === 0) continue;
    const fg = lum(parse(style.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const text = el.textContent.trim().slice(0, 40);
    if (ratio < need) low.push(`${el.tagName} "${text}" ${ratio.toFixed(2)}`);
  }
  const unlabelled = [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
    .filter((el) => !el.labels || el.labels.length === 0).map((el) => el.name);
  const nameless = [...document.querySelectorAll("button, a")]
    .filter((el) => !el.textContent.trim() && !el.getAttribute("aria-label")).length;
  return {
    lang: document.documentElement.lang,
    h1: document.querySelectorAll("h1").length,
    main: document.querySelectorAll("main").length,
    banner: document.querySelectorAll("body > header").length,
    contentinfo: document.querySelectorAll("body > footer").length,
    nav: document.querySelectorAll("nav[aria-label]").length,
    low, unlabelled, nameless,
  };
}
"""


async def audit(page: Page, lang: str) -> None:
    """One h1, landmarks, labelled controls, named buttons and links, AA contrast, ``lang``."""
    found: dict[str, Any] = await page.evaluate(AUDIT_JS)
    assert found["lang"].startswith(lang), found["lang"]
    assert found["h1"] == 1
    assert found["main"] == found["banner"] == found["contentinfo"] == found["nav"] == 1
    assert found["unlabelled"] == []
    assert found["nameless"] == 0
    assert found["low"] == [], found["low"]


async def focus_outline(page: Page) -> tuple[str, float]:
    """The focused element's outline style and width in px."""
    style: list[Any] = await page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    return str(style[0]), float(style[1])


def track_link(message: Message) -> str:
    """The "Track my parcel" link of a sent notice (its plain-text part)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
            match = re.search(r"https?://\S+/t/\S+", text)
            assert match, text
            return match.group(0)
    raise AssertionError("no text part")


async def send_a_notice(live: LiveSite) -> Message:
    """Queue a shipped notice for the Brazilian buyer and let the real dispatcher send it."""
    with live.app.store.begin() as session:
        session.add(
            Notice(
                shipment_id=live.seeded.delayed,
                kind="in_transit",
                idempotency_key=f"{live.seeded.delayed}:in_transit",
                state="pending",
                payload={},
                created_at=NOW,
                not_before=NOW,
                attempts=0,
            )
        )
    stats = await dispatch_due(live.app)
    assert stats.sent == 1
    (message,) = list(mailbox.Maildir(live.maildir, create=False))
    return message


async def test_a_notice_link_tells_the_story_in_three_languages(
    live: LiveSite, browser: Browser
) -> None:
    message = await send_a_notice(live)
    link = track_link(message)
    assert link.startswith(live.url)
    context = await browser.new_context(viewport=PHONE, locale="pt-BR")
    page = await context.new_page()
    watch = Watch(page)
    await page.goto(link)
    await audit(page, "pt")
    assert "O seu pedido AUR-1001" in await page.inner_text("h1")
    original = page.locator("details", has_text="Objeto retido pela fiscalização aduaneira")
    assert not await original.locator(".original").is_visible()
    await original.locator("summary").click()  # the carrier's own words, on demand
    assert await original.locator(".original").is_visible()
    for code, heading in (("de", "Ihre Bestellung AUR-1001"), ("ru", "Ваш заказ AUR-1001")):
        await page.click(f'nav a[lang="{code}"]')
        await audit(page, code)
        assert heading in await page.inner_text("h1")
    assert watch.foreign(live.url) == []
    assert await context.cookies() == []
    await context.close()


async def test_free_resend_is_recorded_once(live: LiveSite, browser: Browser) -> None:
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    message = await send_a_notice(live)
    await page.goto(track_link(message))
    await page.click('button[value="resend"]')
    await page.wait_for_url(re.compile(r"answer=recorded"))
    assert "Reenvio grátis" in await page.inner_text('[role="status"]')
    await audit(page, "pt")
    # the same form sent again (back, then the button once more) changes nothing
    await page.go_back()
    await page.go_back()
    if await page.locator('button[value="refund"]').count():
        await page.click('button[value="refund"]')
        await page.wait_for_load_state()
    assert live.count(Notice, Notice.kind == "buyer_choice") == 1
    with live.app.store() as session:
        (choice,) = session.scalars(select(Notice.payload).where(Notice.kind == "buyer_choice"))
    assert choice["choice"] == "resend"
    assert live.count(Notice, Notice.kind == "seller_buyer_choice") == 1
    assert await context.cookies() == []
    await context.close()


async def test_keyboard_only_choice_with_visible_focus(live: LiveSite, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    message = await send_a_notice(live)
    await page.goto(track_link(message))
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    assert (await focus_outline(page))[1] >= 2
    await page.keyboard.press("Enter")
    reached = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        value = await page.evaluate("document.activeElement.value || ''")
        style, width = await focus_outline(page)
        assert style != "none", (value, style)
        assert width >= 2, (value, width)
        reached.append(value)
        if value == "resend":
            break
    assert reached[-1] == "resend", reached
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"answer=recorded"))
    assert live.count(Notice, Notice.kind == "buyer_choice") == 1
    await context.close()


async def test_works_without_javascript(live: LiveSite, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = await context.new_page()
    message = await send_a_notice(live)
    await page.goto(track_link(message))
    await page.click('button[value="keep_waiting"]')
    await page.wait_for_url(re.compile(r"answer=recorded"))
    assert live.count(Notice, Notice.kind == "buyer_choice") == 1
    await page.click("footer a >> text=Não quero mais e-mails sobre os meus pedidos")
    await page.click("main button")
    assert "Você não vai mais receber e-mails de entrega" in await page.inner_text("h1")
    with live.app.store() as session:
        assert session.scalar(select(Shipment.opted_out).where(Shipment.id == live.seeded.delayed))
    await context.close()


async def test_one_click_unsubscribe(live: LiveSite, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE, locale="de-DE")
    page = await context.new_page()
    message = await send_a_notice(live)
    await page.goto(track_link(message))
    await page.click("footer a >> text=Não quero mais e-mails sobre os meus pedidos")
    await audit(page, "pt")
    assert live.count(Shipment, Shipment.opted_out.is_(True)) == 0  # opening it changes nothing
    await page.click("main button")  # the one click
    assert live.count(Shipment, Shipment.opted_out.is_(True)) == 1
    # the suppression list keeps the address: a parcel added later stays quiet too
    with live.app.store() as session:
        assert session.get(Suppression, "ana.souza@example.com") is not None
    await context.close()


async def test_lookup_by_order_and_email(live: LiveSite, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE, locale="de-DE")
    page = await context.new_page()
    watch = Watch(page)
    await page.goto(f"{live.url}/find")
    await audit(page, "de")
    await page.fill("#order", "AUR-1002")
    await page.fill("#email", "someone@else.example")
    await page.click("main button")
    assert "Zu diesen Angaben haben wir kein Paket gefunden" in await page.inner_text("main")
    await page.fill("#email", "jonas@example.de")
    await page.click("main button")
    await page.wait_for_url(re.compile(r"/t/"))
    await audit(page, "de")
    assert "Zur Abholung bereit" in await page.inner_text("main")
    assert "Filiale Berlin 10115" in await page.inner_text("main")
    assert watch.foreign(live.url) == []
    await context.close()


async def test_bad_links_get_a_clear_page(live: LiveSite, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE, locale="it-IT")
    page = await context.new_page()
    await page.goto(f"{live.url}/t/p1.2000.forgedforgedforgedforged")
    await audit(page, "it")
    assert await page.inner_text("h1") == "Questo link non funziona"
    assert await page.locator("#order").count() == 1
    await context.close()


@pytest.mark.parametrize(("name", "size"), [("phone", PHONE), ("desktop", DESKTOP)])
async def test_screenshots(live: LiveSite, browser: Browser, name: str, size: ViewportSize) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport=size)
    page = await context.new_page()
    message = await send_a_notice(live)
    await page.goto(track_link(message))
    shot = ARTIFACTS / f"parcel-pt-{name}.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], "the page scrolls sideways"
    await page.goto(f"{live.url}/find?lang=fr")
    await page.screenshot(path=str(ARTIFACTS / f"find-fr-{name}.png"), full_page=True)
    await context.close()
