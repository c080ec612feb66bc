"""OAuth2 client-credentials tokens for carrier APIs (USPS, UPS, FedEx), cached and shared.

One ``TokenCache`` per carrier account: it fetches a token, hands the same token to every
concurrent request, refreshes it a margin before it expires (one refresh at a time, under an
``asyncio.Lock``), and re-fetches once when the carrier rejects a token with 401.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from carriers.base import CarrierReply
from carriers.http import send_for_reply, utc_now
from tracker.errors import CarrierAuthError, ParseError

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and the moment it stops being accepted."""

    value: str
    expires_at: datetime


class TokenCache:
    """Client-credentials token for one account; safe to share between concurrent requests.

    ``credentials_in`` says where the client id and secret go: ``"basic"`` (HTTP Basic, as UPS
    asks) or ``"form"`` (form fields, as FedEx and USPS ask).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str | None,
        client_secret: str | None,
        *,
        carrier: str,
        credentials_in: str = "form",
        extra_form: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
        refresh_margin: timedelta = timedelta(seconds=60),
    ) -> None:
        if not client_id or not client_secret:
            raise CarrierAuthError(
                f"{carrier}: client_id and client_secret are required", carrier=carrier
            )
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self.carrier = carrier
        self._credentials_in = credentials_in
        self._extra_form = dict(extra_form or {})
        self._clock = clock
        self._margin = refresh_margin
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        #: how many tokens were fetched (for tests and metrics)
        self.fetches = 0

    async def token(self, client: httpx.AsyncClient) -> str:
        """A token that is valid for at least the refresh margin, fetching one if needed."""
        current = self._token
        if current is not None and self._fresh(current):
            return current.value
        async with self._lock:
            current = self._token
            if current is None or not self._fresh(current):
                self._token = current = await self._fetch(client)
            return current.value

    async def reject(self, client: httpx.AsyncClient, rejected: str) -> str:
        """The carrier refused ``rejected``: fetch a new token unless another task already did."""
        async with self._lock:
            current = self._token
            if current is None or current.value == rejected:
                self._token = current = await self._fetch(client)
            return current.value

    def _fresh(self, token: Token) -> bool:
        return self._clock() + self._margin < token.expires_at

    async def _fetch(self, client: httpx.AsyncClient) -> Token:
        form = {"grant_type": "client_credentials", **self._extra_form}
        auth: httpx.Auth | None = None
        if self._credentials_in == "basic":
            auth = httpx.BasicAuth(self._client_id, self._client_secret)
        else:
            form |= {"client_id": self._client_id, "client_secret": self._client_secret}
        request = client.build_request(
            "POST", self.token_url, data=form, headers={"Accept": "application/json"}
        )
        refused = (400, 401, 403)
        reply = await send_for_reply(
            client, request, carrier=self.carrier, numbers=(), auth=auth, pass_statuses=refused
        )
        self.fetches += 1
        if reply.status_code in refused:
            message = f"token request refused (HTTP {reply.status_code}): {reply.text()[:200]}"
            raise CarrierAuthError(f"{self.carrier}: {message}", carrier=self.carrier)
        return self._read_token(reply)

    def _read_token(self, reply: CarrierReply) -> Token:
        try:
            data = json.loads(reply.text())
            value = str(data["access_token"])
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(
                f"{self.carrier}: token reply without access_token/expires_in",
                body=reply.body,
                carrier=self.carrier,
            ) from exc
        return Token(value, self._clock() + timedelta(seconds=lifetime))


async def send_with_token(
    client: httpx.AsyncClient,
    tokens: TokenCache,
    build: Callable[[str], httpx.Request],
    *,
    numbers: tuple[str, ...],
    pass_statuses: tuple[int, ...] = (),
) -> CarrierReply:
    """Send ``build(token)``; on 401 get a fresh token and try exactly once more.

    Error statuses map onto the error tree, except ``pass_statuses`` which the adapter's parser
    reads itself (e.g. a 404 body that says "not found").
    """
    carrier = tokens.carrier
    token = await tokens.token(client)
    first = (401, *pass_statuses)
    reply = await send_for_reply(
        client, build(token), carrier=carrier, numbers=numbers, pass_statuses=first
    )
    if reply.status_code == 401:
        token = await tokens.reject(client, token)
        reply = await send_for_reply(
            client, build(token), carrier=carrier, numbers=numbers, pass_statuses=pass_statuses
        )
    return reply
