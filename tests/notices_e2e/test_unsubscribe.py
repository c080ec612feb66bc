"""Mail that lets the buyer leave: List-Unsubscribe (mailto, and RFC 8058's one-click https link
when the seller serves one), Reply-To, Content-Language, and the one-click page itself, served by
the daemon's web server: opening the link changes nothing, the POST opts the address out."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from notices.message import build_message, message_id_for
from notices.render import RenderedNotice
from notices.unsubscribe import (
    ONE_CLICK,
    Unsubscribe,
    email_of,
    one_click_url,
    token_for,
    unsubscribe_for,
)
from tests.notices_e2e.conftest import T0, shipment, stored
from tracker.clock import SimulatedClock
from tracker.config import SellerConfig, TrackerConfig, parse_config
from tracker.errors import ConfigError, NoticeError
from tracker.runtime.app import build_app
from tracker.store.db import open_store
from tracker.store.models import Shipment
from tracker.web.site import DaemonSite

NOTICE = RenderedNotice("Your order is on its way", "Hello\n", "<p>Hello</p>")
SECRET = b"a-long-random-signing-key"
BASE = "https://shop.example/tracker/unsubscribe"


def _parsed(**changes: object) -> object:
    args: dict[str, object] = {
        "sender": "Gadget Corner <orders@gadgets.example>",
        "recipient": "ana@example.com",
        "reply_to": None,
        "message_id": message_id_for("1:shipped", "gadgets.example"),
    }
    args.update(changes)
    raw = build_message(NOTICE, **args).as_bytes()  # type: ignore[arg-type]
    return message_from_bytes(raw, policy=policy.default)


def test_replies_go_to_the_sender_unless_a_reply_address_is_set() -> None:
    assert _parsed()["Reply-To"] == "Gadget Corner <orders@gadgets.example>"  # type: ignore[index]
    assert _parsed(reply_to="help@gadgets.example")["Reply-To"] == "help@gadgets.example"  # type: ignore[index]


def test_content_language_is_the_notices_language() -> None:
    assert _parsed(language="pt-PT")["Content-Language"] == "pt-PT"  # type: ignore[index]
    assert _parsed()["Content-Language"] is None  # type: ignore[index]
    with pytest.raises(NoticeError, match="Content-Language"):
        _parsed(language="not a tag\r\nBcc: x@y")


def test_list_unsubscribe_offers_mail_and_one_click_only_with_https() -> None:
    mail_only = _parsed(unsubscribe=Unsubscribe("help@gadgets.example"))
    assert mail_only["List-Unsubscribe"] == "<mailto:help@gadgets.example?subject=unsubscribe>"  # type: ignore[index]
    assert mail_only["List-Unsubscribe-Post"] is None  # type: ignore[index]
    link = one_click_url(BASE, "ana@example.com", SECRET, "pt")
    both = _parsed(unsubscribe=Unsubscribe("help@gadgets.example", link))
    assert both["List-Unsubscribe"] == (  # type: ignore[index]
        f"<mailto:help@gadgets.example?subject=unsubscribe>, <{link}>"
    )
    assert both["List-Unsubscribe-Post"] == ONE_CLICK  # type: ignore[index]
    for bad in ("http://shop.example/u", "https://shop.example/u>, <https://evil.example"):
        with pytest.raises(NoticeError, match="List-Unsubscribe"):
            _parsed(unsubscribe=Unsubscribe("help@gadgets.example", bad))


def test_a_token_unsubscribes_exactly_its_address() -> None:
    token = token_for("Ana@Example.com ", SECRET)
    assert email_of(token, SECRET) == "ana@example.com"
    assert email_of(token, b"another-key") is None
    mac = token.partition(".")[2]
    forged = f"{token_for('bruno@example.com', b'x').partition('.')[0]}.{mac}"
    assert email_of(forged, SECRET) is None
    assert email_of("not-a-token", SECRET) is None
    assert email_of("", SECRET) is None


def test_the_link_names_the_language_of_its_page() -> None:
    query = parse_qs(urlsplit(one_click_url(BASE, "ana@example.com", SECRET, "de")).query)
    assert query["lang"] == ["de"]
    assert email_of(query["token"][0], SECRET) == "ana@example.com"


def test_the_seller_config_decides_what_a_notice_offers(monkeypatch: pytest.MonkeyPatch) -> None:
    seller = SellerConfig(sender="Shop <orders@shop.example>")
    assert unsubscribe_for(seller, "ana@example.com", "en") == Unsubscribe("orders@shop.example")
    served = SellerConfig(
        sender="orders@shop.example", unsubscribe_url=BASE, unsubscribe_secret_env="TEST_UNSUB_KEY"
    )
    with pytest.raises(ConfigError, match="TEST_UNSUB_KEY"):
        unsubscribe_for(served, "ana@example.com", "en")
    monkeypatch.setenv("TEST_UNSUB_KEY", SECRET.decode())
    offered = unsubscribe_for(served, "ana@example.com", "en")
    assert offered.one_click_url is not None
    assert offered.one_click_url.startswith(BASE + "?token=")


@pytest.mark.parametrize(
    ("seller", "error"),
    [
        ({"unsubscribe_url": BASE}, "set web.port"),
        ({"unsubscribe_url": "http://shop.example/u"}, "https://"),
    ],
)
def test_a_one_click_link_nobody_serves_is_a_config_error(
    seller: dict[str, str], error: str
) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_config({"seller": seller}, "tracker.toml")


@pytest.mark.integration
async def test_the_page_asks_first_and_the_post_opts_the_address_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_UNSUB_KEY", SECRET.decode())
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    stored(
        url,
        shipment("SBNM00000001"),
        shipment("SBNM00000002", buyer_email="ANA@buyers.example"),
        shipment("SBNM00000003", buyer_email="bruno@buyers.example"),
    )
    config = TrackerConfig.model_validate(
        {
            "store": {"url": url},
            "mail": {"maildir": str(tmp_path / "mail")},
            "seller": {"unsubscribe_url": BASE, "unsubscribe_secret_env": "TEST_UNSUB_KEY"},
            "webhooks": {"port": 0},
        }
    )
    app = build_app(config, SimulatedClock(T0))
    server = DaemonSite(app)
    await server.start()
    try:
        link = one_click_url(BASE, "ana@buyers.example", SECRET, "de")
        local = server.url + urlsplit(link).path + "?" + urlsplit(link).query
        async with aiohttp.ClientSession() as http:
            async with http.get(local) as page:
                assert page.status == 200
                assert "Abmelden" in await page.text()
            assert _opted_out(url) == set()  # opening the link changes nothing
            async with http.post(local, data=ONE_CLICK) as done:
                assert done.status == 200
                assert "Erledigt" in await done.text()
            async with http.post(local.replace("token=", "token=x"), data=ONE_CLICK) as bad:
                assert bad.status == 400
    finally:
        await server.stop()
        await app.close()
    assert _opted_out(url) == {"SBNM00000001", "SBNM00000002"}
    stored(url, shipment("SBNM00000004", buyer_email="ana@buyers.example"))  # added later
    assert _opted_out(url) == {"SBNM00000001", "SBNM00000002", "SBNM00000004"}


def _opted_out(url: str) -> set[str]:
    with open_store(url)() as session:
        rows = session.scalars(select(Shipment.tracking_number).where(Shipment.opted_out))
        return set(rows)
