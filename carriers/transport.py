"""An httpx transport that sends requests through aiohttp's connection pool and HTTP parser.

Adapters keep speaking httpx (requests, auth flows, redirects, cookies, content decoding all stay
httpx's); only the wire work moves to aiohttp, which on loopback measured about three times
httpx's own transport per request (``bench/pipeline.py``). Every aiohttp failure is raised as the
httpx exception of the same meaning, so ``carriers.http`` maps it onto the carrier error tree as
before: a carrier that answers with garbage must look like an unavailable carrier, never like a
bug in our code.

The request body is read into memory before sending: carrier requests are small forms, JSON and
SOAP envelopes, and a known length keeps redirects and retries (which resend it) simple.

Redirects stay httpx's, under one rule (:mod:`carriers.redirects`): credentials never leave the
origin they were configured for, and nothing follows a redirect from https down to http.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

from carriers.redirects import guard_redirect

#: request headers aiohttp must work out itself from the bytes it sends
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
_CHUNK = 64 * 1024


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Re-raise aiohttp's exceptions as httpx's, most specific first."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(f"connect timed out: {exc}", request=request) from exc
    except TimeoutError as exc:  # aiohttp's socket-read and server timeouts are TimeoutErrors
        raise httpx.ReadTimeout(f"read timed out: {exc}", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(f"cannot connect: {exc}", request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        message = f"server closed the connection before answering: {exc}"
        raise httpx.RemoteProtocolError(message, request=request) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.ReadError(f"body cut short or malformed: {exc}", request=request) from exc
    except aiohttp.ClientResponseError as exc:  # bad status line, oversized headers, ...
        message = f"malformed HTTP response: {exc.message or exc}"
        raise httpx.RemoteProtocolError(message, request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(f"unusable URL: {exc}", request=request) from exc
    except (aiohttp.ClientError, OSError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        raise httpx.NetworkError(message, request=request) from exc


class _Body(httpx.AsyncByteStream):
    """The response body as aiohttp receives it; closing hands the connection back."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # A body read to the end frees the connection for reuse; one left unread closes it.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent with aiohttp, HTTP/1.1, without proxies (see :func:`carrier_client`)."""

    def __init__(
        self, limits: httpx.Limits | None = None, verify: ssl.SSLContext | bool = True
    ) -> None:
        self._limits = limits or httpx.Limits()
        # httpx's own rules: certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR when set (a
        # company proxy's CA); False turns verification off, a context is used as given.
        self._ssl = httpx.create_ssl_context(verify=verify)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use so it belongs to the event loop that sends the requests.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry or 5.0,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # httpx decodes gzip/br and keeps cookies; aiohttp must leave both alone.
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once (httpx follows redirects); the body streams to the caller."""
        body = await request.aread()
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=limits.get("pool"),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() not in _FRAMING_HEADERS
        ]
        # httpx has already turned credentials in the URL into an Authorization header;
        # aiohttp refuses a request that carries both (a seller webhook with a token in it).
        url = request.url.copy_with(userinfo=b"") if request.url.userinfo else request.url
        with _as_httpx_errors(request):
            response = await self._open().request(
                request.method,
                str(url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            )
        extensions: dict[str, object] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            # Lets the connector's transports finish closing before the loop may end.
            await asyncio.sleep(0)


def carrier_client(timeout: float = 30.0, *, max_redirects: int = 5) -> httpx.AsyncClient:
    """The HTTP client the daemon hands every adapter: httpx over :class:`AiohttpTransport`,
    redirects followed up to ``max_redirects`` under :func:`guard_redirect`, ``timeout`` seconds
    per phase.

    httpx ignores HTTP(S)_PROXY once it is given a transport, so where the environment names a
    proxy (a seller behind a company gateway) the client keeps httpx's own transport, which
    honours the proxy and NO_PROXY.
    """
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
    proxied = any(scheme != "no" for scheme in urllib.request.getproxies())
    return httpx.AsyncClient(
        transport=None if proxied else AiohttpTransport(limits=limits),
        limits=limits,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=max_redirects,
        event_hooks={"request": [guard_redirect]},
    )
