"""The daemon's HTTP client (httpx over aiohttp) against real loopback servers.

What adapters rely on must behave as with httpx's own transport: requests arrive as built,
redirects, cookies and content decoding stay httpx's, and every way a server can misbehave
surfaces as the httpx exception ``carriers.http`` maps onto the carrier error tree.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import trustme

from carriers.http import send_for_reply
from carriers.transport import AiohttpTransport, carrier_client
from tests.support.loopback import LoopbackHTTPServer, Reply
from tracker.errors import CarrierUnavailable

pytestmark = pytest.mark.integration

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(
    handler: RawHandler, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A TCP server on 127.0.0.1 (HTTPS with ``tls``) that answers with whatever bytes
    ``handler`` writes; yields its base URL and the raw request heads it received."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client hung up, or refused our certificate
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", heads
    finally:
        server.close()
        await server.wait_closed()


def answer(raw: bytes) -> RawHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    return handler


async def test_requests_arrive_as_built_and_replies_come_back_whole(
    loopback_http: LoopbackHTTPServer,
) -> None:
    loopback_http.route(
        "POST",
        "/v2/track",
        lambda r: Reply(201, json.dumps({"echo": json.loads(r.body)}), {"X-Trace": "t-1"}),
    )
    async with carrier_client(5.0) as client:
        reply = await client.post(
            f"{loopback_http.base_url}/v2/track",
            params={"numbers": "RR123456785CN,LP00123456789"},
            json={"номер": "RR123456785CN"},
            headers={"Authorization": "Bearer abc"},
        )
    assert reply.status_code == 201
    assert reply.headers["x-trace"] == "t-1"
    assert reply.json() == {"echo": {"номер": "RR123456785CN"}}
    (seen,) = loopback_http.requests
    assert seen.query == {"numbers": ["RR123456785CN,LP00123456789"]}
    assert seen.headers["authorization"] == "Bearer abc"
    assert seen.headers["content-type"] == "application/json"
    assert int(seen.headers["content-length"]) == len(seen.body)


async def test_headers_are_httpx_s_and_sent_once() -> None:
    body = b"ok"
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + body
    async with raw_server(answer(reply)) as (base, heads), carrier_client(5.0) as client:
        response = await client.get(f"{base}/x", headers={"User-Agent": "tracker-test/1"})
    assert response.content == body
    lines = heads[0].decode("latin-1").lower().split("\r\n")
    assert lines[0] == "get /x http/1.1"
    names = [line.split(":", 1)[0] for line in lines[1:] if line]
    assert sorted(names) == sorted(set(names)), f"a header sent twice: {names}"
    assert "user-agent: tracker-test/1" in lines
    assert not any(name == "transfer-encoding" for name in names)


async def test_redirects_are_followed_and_a_loop_is_refused(
    loopback_http: LoopbackHTTPServer,
) -> None:
    loopback_http.route("GET", "/old", lambda r: Reply(301, b"", {"Location": "/new"}))
    loopback_http.route("GET", "/new", lambda r: Reply(200, b"moved here"))
    loopback_http.route("GET", "/loop", lambda r: Reply(302, b"", {"Location": "/loop?again=1"}))
    async with carrier_client(5.0, max_redirects=3) as client:
        reply = await client.get(f"{loopback_http.base_url}/old")
        assert (reply.status_code, reply.text) == (200, "moved here")
        request = client.build_request("GET", f"{loopback_http.base_url}/loop")
        with pytest.raises(CarrierUnavailable, match="too many redirects"):
            await send_for_reply(client, request, carrier="sandbox", numbers=())
    assert [r.path for r in loopback_http.requests].count("/loop") == 4  # first + 3 redirects


async def test_gzip_is_decoded_once_and_cookies_are_kept_by_httpx(
    loopback_http: LoopbackHTTPServer,
) -> None:
    text = "Отправление прибыло в сортировочный центр. " * 50
    packed = gzip.compress(text.encode())
    loopback_http.route(
        "GET",
        "/login",
        lambda r: Reply(200, b"", {"Set-Cookie": "session=s3cr3t; Path=/"}),
    )
    loopback_http.route(
        "GET",
        "/events",
        lambda r: Reply(
            200,
            packed,
            {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
        ),
    )
    async with carrier_client(5.0) as client:
        await client.get(f"{loopback_http.base_url}/login")
        reply = await client.get(f"{loopback_http.base_url}/events")
    assert reply.text == text
    assert loopback_http.requests[-1].headers.get("cookie") == "session=s3cr3t"


async def test_a_refused_connection_is_a_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with carrier_client(2.0) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_silent_server_is_a_read_timeout(loopback_http: LoopbackHTTPServer) -> None:
    loopback_http.route("GET", "/slow", lambda r: Reply(200, b"late", delay_seconds=2.0))
    async with carrier_client(0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{loopback_http.base_url}/slow")


async def test_a_malformed_status_line_is_a_protocol_error() -> None:
    async with raw_server(answer(b"HELLO THERE\r\n\r\n")) as (base, _), carrier_client(2.0) as c:
        with pytest.raises(httpx.RemoteProtocolError, match="malformed HTTP response"):
            await c.get(f"{base}/")


async def test_a_body_cut_short_is_a_read_error() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"results": ['
    async with raw_server(answer(cut)) as (base, _), carrier_client(2.0) as client:
        with pytest.raises(httpx.ReadError, match="cut short"):
            await client.get(f"{base}/")


async def test_a_dropped_connection_is_retried_once_then_reported() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return  # close without a word

    async with raw_server(drop) as (base, heads), carrier_client(2.0) as client:
        request = client.build_request("GET", f"{base}/track")
        with pytest.raises(CarrierUnavailable, match="transport failure"):
            await send_for_reply(client, request, carrier="sandbox", numbers=())
    assert len(heads) == 2  # the GET was sent again once (RFC 9112 9.3.1), not more

    answers = iter([b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])

    async def drop_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(next(answers))
        await writer.drain()

    async with raw_server(drop_once) as (base, heads), carrier_client(2.0) as client:
        reply = await client.get(f"{base}/track")
    assert (reply.status_code, reply.text, len(heads)) == (200, "ok", 2)


async def test_connections_are_reused() -> None:
    connections: set[int] = set()

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.add(id(writer))
        while True:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")

    async with raw_server(keep_alive) as (base, heads), carrier_client(2.0) as client:
        for _ in range(20):
            assert (await client.get(f"{base}/t")).text == "ok"
    assert len(heads) == 1  # one connection carried all 20
    assert len(connections) == 1


async def test_a_redirected_get_carries_no_body() -> None:
    # The httpx-aiohttp package resent such a GET with a chunked empty body, which a strict
    # server reads as a garbage second request.
    heard: list[bytes] = []
    done = asyncio.Event()

    async def redirect_then_answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        heard.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        try:  # anything sent after the head would arrive now
            heard.append(await asyncio.wait_for(reader.read(100), 0.3))
        except TimeoutError:
            heard.append(b"")
        done.set()

    async with raw_server(redirect_then_answer) as (base, heads), carrier_client(2.0) as client:
        reply = await client.get(f"{base}/old")
        await asyncio.wait_for(done.wait(), 5)
    assert (reply.status_code, reply.text) == (200, "ok")
    assert heads[0].startswith(b"GET /old HTTP/1.1\r\n")
    second, after = heard
    assert second.startswith(b"GET /new HTTP/1.1\r\n")
    assert b"transfer-encoding" not in second.lower()
    assert b"content-type" not in second.lower()
    assert after == b"", "a stray body followed the redirected GET"


async def test_tls_certificates_are_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    ca = trustme.CA()
    certified = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(certified)
    secret = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
    async with raw_server(secret, tls=certified) as (base, _):
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        async with carrier_client(2.0) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"{base}/track")

        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with httpx.AsyncClient(transport=AiohttpTransport(verify=trusting)) as client:
            assert (await client.get(f"{base}/track")).text == "secret"

        # A company CA given the way httpx takes it, in SSL_CERT_FILE, is trusted as well.
        with ca.cert_pem.tempfile() as ca_file:
            monkeypatch.setenv("SSL_CERT_FILE", ca_file)
            async with carrier_client(2.0) as client:
                assert (await client.get(f"{base}/track")).text == "secret"


async def test_a_proxy_named_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied"
    async with raw_server(answer(reply)) as (proxy, heads):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)  # the lower-case form wins
        monkeypatch.setenv("HTTP_PROXY", proxy)
        async with carrier_client(2.0) as client:
            response = await client.get("http://carrier.example/v1/track?numbers=RR123456785CN")
    assert response.text == "proxied"
    # The request went to the proxy in absolute form; carrier.example was never resolved.
    assert heads[0].startswith(b"GET http://carrier.example/v1/track?numbers=RR123456785CN ")
