"""The buyer's pages over real HTTP: the story in the buyer's language, one answer per offer,
unsubscribe, lookup, and bad input that gets a clear page and changes nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import ColumnElement, func, select

from tests.web.conftest import Site
from tests.web.seed import OPS_TOKEN
from tracker.store.models import AuditEntry, Base, Notice, Shipment

pytestmark = pytest.mark.integration


async def get(site: Site, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=True) as client:
        return await client.get(path, headers=headers)


async def post(site: Site, path: str, data: dict[str, str] | str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=True) as client:
        if isinstance(data, str):
            return await client.post(path, content=data.encode(), headers=headers)
        return await client.post(path, data=data, headers=headers)


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


def without_values(html: str) -> str:
    """The page with the form's echoed values taken out."""
    return re.sub(r'value="[^"]*"', "", html)


def count(site: Site, model: type[Base], *where: ColumnElement[bool]) -> int:
    with site.app.store() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_story_in_the_buyers_language(site: Site) -> None:
    page = await get(site, site.page_path(site.seeded.delayed))
    assert page.status_code == 200
    assert '<html lang="pt-BR"' in page.text
    assert "O seu pedido AUR-1001 na loja Aurora Presentes" in page.text
    assert page.text.count("<h1") == 1
    assert "Objeto retido pela fiscalização aduaneira" in page.text  # the carrier's words
    assert "Reenvio grátis" in page.text
    german = await get(site, site.page_path(site.seeded.pickup))
    assert '<html lang="de-DE"' in german.text
    assert "Zur Abholung bereit" in german.text
    assert "Filiale Berlin 10115" in german.text
    english = await get(site, site.page_path(site.seeded.pickup) + "?lang=en")
    assert '<html lang="en' in english.text
    assert "Ready to collect" in english.text


async def test_security_headers_and_no_cookies(site: Site) -> None:
    page = await get(site, site.page_path(site.seeded.delayed))
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "set-cookie" not in page.headers
    assert "<script" not in page.text
    assert "style=" not in page.text


async def test_a_choice_is_recorded_once(site: Site) -> None:
    path = site.page_path(site.seeded.delayed)
    page = await get(site, path)
    form = {
        "csrf": field(page.text, "csrf"),
        "offer": field(page.text, "offer"),
        "choice": "resend",
    }
    done = await post(site, f"{path}/choice", form)
    assert done.status_code == 200
    assert "Você escolheu: Reenvio grátis" in done.text
    again = await post(site, f"{path}/choice", {**form, "choice": "refund"})
    assert "Você já escolheu: Reenvio grátis" in again.text
    assert count(site, Notice, Notice.kind == "buyer_choice") == 1
    assert count(site, Notice, Notice.kind == "seller_buyer_choice") == 1
    assert count(site, AuditEntry, AuditEntry.kind == "buyer.chose") == 1


async def test_a_form_for_another_parcel_or_forged_changes_nothing(site: Site) -> None:
    mine = await get(site, site.page_path(site.seeded.delayed))
    other = site.page_path(site.seeded.pickup)
    stolen = {
        "csrf": field(mine.text, "csrf"),
        "offer": field(mine.text, "offer"),
        "choice": "refund",
    }
    refused = await post(site, f"{other}/choice", stolen)
    assert refused.status_code == 403
    forged = await post(
        site, f"{site.page_path(site.seeded.delayed)}/choice", {**stolen, "csrf": "f1.1.AAAA"}
    )
    assert forged.status_code == 403
    cross = await post(
        site,
        f"{site.page_path(site.seeded.delayed)}/choice",
        stolen,
        Origin="https://evil.example",
    )
    assert cross.status_code == 403
    assert count(site, Notice, Notice.kind == "buyer_choice") == 0


@pytest.mark.parametrize("purpose", ["page", "unsubscribe"])
async def test_tampered_and_expired_links_get_a_clear_page(site: Site, purpose: str) -> None:
    path = site.page_path(site.seeded.delayed, purpose)  # type: ignore[arg-type]
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    bad = await get(site, tampered)
    assert bad.status_code == 404
    assert "This link does not work" in bad.text or "Este link não funciona" in bad.text
    site.app.clock.advance(site.app.config.web.link_ttl * 2)  # type: ignore[attr-defined]
    old = await get(site, path)
    assert old.status_code == 410
    assert 'name="order"' in old.text  # the lookup form is offered instead


async def test_one_click_unsubscribe(site: Site) -> None:
    path = site.page_path(site.seeded.pickup, "unsubscribe")
    looked = await get(site, path)
    assert looked.status_code == 200
    assert count(site, Shipment, Shipment.opted_out.is_(True)) == 0  # a GET changes nothing
    done = await post(
        site,
        path,
        "List-Unsubscribe=One-Click",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    assert count(site, Shipment, Shipment.opted_out.is_(True)) == 1


async def test_lookup_has_one_answer_for_unknown_orders_and_wrong_emails(site: Site) -> None:
    form_page = await get(site, "/find")
    csrf = field(form_page.text, "csrf")
    unknown = await post(site, "/find", {"csrf": csrf, "order": "NOPE-1", "email": "a@b.example"})
    wrong = await post(
        site, "/find", {"csrf": csrf, "order": "AUR-1002", "email": "someone@else.example"}
    )
    assert unknown.status_code == wrong.status_code == 200
    assert without_values(unknown.text) == without_values(wrong.text)
    third = await post(site, "/find", {"csrf": csrf, "order": "AUR-9", "email": "x@y.example"})
    assert third.status_code == 200
    # the limit is 3 per window in the test config: even the right details wait now
    limited = await post(
        site, "/find", {"csrf": csrf, "order": "AUR-1002", "email": "jonas@example.de"}
    )
    assert limited.status_code == 429
    assert "/t/" not in str(limited.url)


async def test_lookup_with_the_right_details_opens_the_page(site: Site) -> None:
    form_page = await get(site, "/find")
    found = await post(
        site,
        "/find",
        {"csrf": field(form_page.text, "csrf"), "order": "AUR-1002", "email": "Jonas@Example.de"},
    )
    assert found.status_code == 200
    assert "AUR-1002" in found.text
    assert "/t/" in str(found.url)


async def test_oversized_form_is_refused_with_a_page(site: Site) -> None:
    path = site.page_path(site.seeded.delayed)
    big = "csrf=x&choice=" + "a" * 100_000
    refused = await post(
        site, f"{path}/choice", big, **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert refused.status_code == 413
    assert "<h1>" in refused.text
    assert count(site, Notice, Notice.kind == "buyer_choice") == 0


async def test_ops_view_needs_the_token(site: Site) -> None:
    assert (await get(site, "/ops")).status_code == 401
    ok = await get(site, "/ops?q=AUR-1001", Authorization=f"Bearer {OPS_TOKEN}")
    assert ok.status_code == 200
    assert "SB000000001CN" in ok.text
    parcel = await get(
        site, f"/ops/parcel/{site.seeded.delayed}", Authorization=f"Bearer {OPS_TOKEN}"
    )
    assert "Objeto retido pela fiscalização aduaneira" in parcel.text
