"""Reading a request body within limits: its declared size is checked before a byte is read, and
the whole body must arrive within the body deadline.

The server's ``_bodies`` middleware reads every body this way before any handler runs, so every
route (carrier pushes, shop webhooks, forms) has the same limits; a handler's
``await request.read()`` then returns the bytes already read. A refused body leaves unread bytes
on the connection, so every refusal also closes it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from tracker.web.guard import Connections


class BodyRefused(Exception):
    """The body was too large, too slow, or broken; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(
    request: web.Request, *, limit: int, within: float, connections: Connections | None = None
) -> bytes:
    """The request body, at most ``limit`` bytes, read within ``within`` seconds.

    BodyRefused(413) for a declared or actual size over the limit (refused before reading when
    declared), BodyRefused(408) when the client is too slow, BodyRefused(400) if it breaks off.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyRefused(413, f"body of {declared} bytes is over the limit of {limit}")
    guard = connections.guard_for(request.transport) if connections is not None else None
    if guard is not None:
        guard.reading_body = True
    try:
        async with asyncio.timeout(within):
            body = await request.read()
    except TimeoutError as exc:
        raise BodyRefused(408, f"body not received within {within:g} s") from exc
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyRefused(413, f"body is over the limit of {limit} bytes") from exc
    except (ConnectionError, web.HTTPException) as exc:
        raise BodyRefused(400, f"body could not be read: {type(exc).__name__}") from exc
    finally:
        if guard is not None:
            guard.reading_body = False
    if len(body) > limit:
        raise BodyRefused(413, f"body is over the limit of {limit} bytes")
    return body
