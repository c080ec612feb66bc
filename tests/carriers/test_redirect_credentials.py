"""Credentials stay with the origin they were configured for (issue 13, item 1).

Two loopback servers on different ports are two origins: the carrier's, and one it redirects
to. Every key header the adapters send, the OAuth form with the client secret and a Basic
``Authorization`` must never reach the second; a redirect from https down to http is refused.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator

import pytest
import trustme

from carriers.base import CarrierSettings
from carriers.dhl import DHLAdapter
from carriers.http import send_for_reply
from carriers.oauth import TokenCache
from carriers.transport import carrier_client
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tracker.errors import CarrierUnavailable

#: the key headers real adapters send (17TRACK, AfterShip, DHL, La Poste, Australia Post...)
KEY_HEADERS = ["17token", "as-api-key", "DHL-API-Key", "X-Okapi-Key", "X-API-Key", "Authorization"]
SECRET = "s3cret-key-value"


@pytest.fixture
def elsewhere() -> Iterator[LoopbackHTTPServer]:
    """A second loopback server: another origin than ``loopback_http``."""
    server = LoopbackHTTPServer()
    server.start()
    server.route("GET", "/landing", lambda r: Reply(200, "landed"))
    server.route("POST", "/landing", lambda r: Reply(200, "landed"))
    server.route("POST", "/token", lambda r: Reply(200, '{"access_token": "stolen"}'))
    try:
        yield server
    finally:
        server.stop()


def seen_secret(request: Request) -> bool:
    return SECRET in json.dumps(request.headers) or SECRET.encode() in request.body


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_get_redirected_to_another_origin_carries_no_key(
    loopback_http: LoopbackHTTPServer, elsewhere: LoopbackHTTPServer, status: int
) -> None:
    target = f"{elsewhere.base_url}/landing"
    loopback_http.route("GET", "/track", lambda r: Reply(status, b"", {"Location": target}))
    async with carrier_client(5.0) as client:
        request = client.build_request(
            "GET",
            f"{loopback_http.base_url}/track",
            headers={**dict.fromkeys(KEY_HEADERS, SECRET), "Accept": "application/json"},
        )
        reply = await send_for_reply(client, request, carrier="sandbox", numbers=())
    assert reply.body == b"landed"
    sent = loopback_http.requests[0].headers
    assert all(sent[name.lower()] == SECRET for name in KEY_HEADERS)
    (arrived,) = elsewhere.requests
    assert not seen_secret(arrived), arrived.headers
    assert arrived.headers["accept"] == "application/json"  # what is not secret still goes


async def test_a_redirect_within_the_origin_keeps_the_key(
    loopback_http: LoopbackHTTPServer,
) -> None:
    loopback_http.route("GET", "/v1/track", lambda r: Reply(308, b"", {"Location": "/v2/track"}))
    loopback_http.route("GET", "/v2/track", lambda r: Reply(200, "here"))
    async with carrier_client(5.0) as client:
        request = client.build_request(
            "GET", f"{loopback_http.base_url}/v1/track", headers={"DHL-API-Key": SECRET}
        )
        reply = await send_for_reply(client, request, carrier="dhl", numbers=())
    assert reply.body == b"here"
    assert [r.headers.get("dhl-api-key") for r in loopback_http.requests] == [SECRET, SECRET]


async def test_the_dhl_adapter_redirected_elsewhere_sends_its_key_only_home(
    loopback_http: LoopbackHTTPServer, elsewhere: LoopbackHTTPServer
) -> None:
    target = f"{elsewhere.base_url}/landing"
    loopback_http.route("GET", "/track/shipments", lambda r: Reply(302, b"", {"Location": target}))
    adapter = DHLAdapter(CarrierSettings(base_url=loopback_http.base_url, api_key=SECRET))
    async with carrier_client(5.0) as client:
        await adapter.fetch(client, ["3318810025"])
    assert loopback_http.requests[0].headers["dhl-api-key"] == SECRET
    (arrived,) = elsewhere.requests
    assert not seen_secret(arrived)


@pytest.mark.parametrize("credentials_in", ["form", "basic"])
@pytest.mark.parametrize("status", [307, 308])
async def test_an_oauth_form_is_not_resent_to_another_origin(
    loopback_http: LoopbackHTTPServer,
    elsewhere: LoopbackHTTPServer,
    status: int,
    credentials_in: str,
) -> None:
    target = f"{elsewhere.base_url}/token"
    loopback_http.route("POST", "/token", lambda r: Reply(status, b"", {"Location": target}))
    tokens = TokenCache(
        f"{loopback_http.base_url}/token",
        "client-id",
        SECRET,
        carrier="fedex",
        credentials_in=credentials_in,
    )
    async with carrier_client(5.0) as client:
        with pytest.raises(CarrierUnavailable, match="refused to resend the request body") as info:
            await tokens.token(client)
    assert elsewhere.requests == []
    assert SECRET not in str(info.value)
    assert loopback_http.requests[0].method == "POST"  # the configured origin did get it


async def test_a_post_turned_into_a_get_elsewhere_carries_neither_body_nor_key(
    loopback_http: LoopbackHTTPServer, elsewhere: LoopbackHTTPServer
) -> None:
    target = f"{elsewhere.base_url}/landing"
    loopback_http.route("POST", "/soap", lambda r: Reply(303, b"", {"Location": target}))
    async with carrier_client(5.0) as client:
        request = client.build_request(
            "POST",
            f"{loopback_http.base_url}/soap",
            content=f"<login>{SECRET}</login>".encode(),
            headers={"X-API-Key": SECRET, "Content-Type": "text/xml"},
        )
        reply = await send_for_reply(client, request, carrier="russian_post", numbers=())
    assert reply.body == b"landed"
    (arrived,) = elsewhere.requests
    assert arrived.method == "GET"
    assert not seen_secret(arrived)


@pytest.mark.integration
async def test_a_redirect_from_https_down_to_http_is_refused(
    monkeypatch: pytest.MonkeyPatch, elsewhere: LoopbackHTTPServer
) -> None:
    ca = trustme.CA()
    certified = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(certified)
    location = f"Location: {elsewhere.base_url}/landing\r\n".encode()

    async def downgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 301 Moved\r\n" + location + b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(downgrade, "127.0.0.1", 0, ssl=certified)
    port = server.sockets[0].getsockname()[1]
    try:
        with ca.cert_pem.tempfile() as ca_file:
            monkeypatch.setenv("SSL_CERT_FILE", ca_file)
            async with carrier_client(5.0) as client:
                request = client.build_request(
                    "GET", f"https://127.0.0.1:{port}/track", headers={"17token": SECRET}
                )
                with pytest.raises(CarrierUnavailable, match=r"down to http://127\.0\.0\.1"):
                    await send_for_reply(client, request, carrier="17track", numbers=())
    finally:
        server.close()
        await server.wait_closed()
    assert elsewhere.requests == [], "the http origin was contacted at all"
