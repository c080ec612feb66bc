"""Which redirects the carrier client follows, and with what.

Credentials never leave the origin they were configured for: a carrier (or whoever answers in
its name) redirecting elsewhere gets neither the key headers nor a resent body, and nothing
follows a redirect from https down to http. Kept apart from the transport so that adapters can
name :class:`RedirectRefused` without importing aiohttp.
"""

from __future__ import annotations

import httpx

#: headers that carry nothing secret; any other (``Authorization``, ``17token``, ``DHL-API-Key``,
#: a plugin's own key header...) is dropped when a redirect leaves the configured origin
_PORTABLE_HEADERS = frozenset(
    {"accept", "accept-encoding", "accept-language", "user-agent", "host", "connection"}
)
#: request extensions (httpx hands the same dict to every request of one redirect chain)
_FIRST_URL = "tracker.first_url"
_LAST_URL = "tracker.last_url"


class RedirectRefused(httpx.RequestError):
    """A redirect the carrier client does not follow: https down to http, or a request body
    (an OAuth form, a SOAP envelope with a password) resent to another origin."""


def _same_origin(first: httpx.URL, url: httpx.URL) -> bool:
    """Whether ``url`` may receive what was configured for ``first``: the same scheme, host and
    port, or the same host upgraded from http to https on the default ports."""
    if (first.scheme, first.host, first.port) == (url.scheme, url.host, url.port):
        return True
    upgraded = first.scheme == "http" and url.scheme == "https"
    return upgraded and first.host == url.host and first.port in (None, 80) and url.port is None


async def guard_redirect(request: httpx.Request) -> None:
    """Request hook run before every request of a redirect chain (httpx calls it for each).

    The first request marks the origin its credentials belong to. A later one leaving that
    origin loses every header but the portable ones and must carry no body; a step from https
    to http is refused whatever it carries.
    """
    first = request.extensions.get(_FIRST_URL)
    last = request.extensions.get(_LAST_URL)
    request.extensions[_LAST_URL] = request.url
    if first is None or last is None:
        request.extensions[_FIRST_URL] = request.url
        return
    if last.scheme == "https" and request.url.scheme != "https":
        message = f"refused a redirect from {_origin(last)} down to {_origin(request.url)}"
        raise RedirectRefused(message, request=request)
    if _same_origin(first, request.url):
        return
    length = request.headers.get("content-length", "0")
    if length != "0" or "transfer-encoding" in request.headers:
        message = (
            f"refused to resend the request body to {_origin(request.url)} (redirected from"
            f" {_origin(first)}; credentials stay with the origin they were configured for)"
        )
        raise RedirectRefused(message, request=request)
    for name in {name.lower() for name in request.headers} - _PORTABLE_HEADERS:
        del request.headers[name]


def _origin(url: httpx.URL) -> str:
    """``scheme://host[:port]``, without the path or query (which may hold a key)."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"
