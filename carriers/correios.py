"""Correios (Brazil): the REST tracking API (SRO Rastro).

Current API: a bearer token from ``POST /token/v1/autentica/cartaopostagem`` (Basic auth with
the user and access code, the posting card number in the body), then
``GET /srorastro/v1/objetos/{codigo}?resultado=T``.

Correios report local times without an offset. They are read as ``America/Sao_Paulo`` (Brasília
time, where the SRO systems run); a few states (AM, MT, ...) are one or two hours behind, which
the API does not say, so their events may appear up to two hours late. An explicit offset wins.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings
from carriers.http import (
    decode_body,
    send_for_reply,
    utc_now,
)
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

HOME_ZONE = ZoneInfo("America/Sao_Paulo")
#: refresh the token this long before Correios says it expires
TOKEN_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: datetime


class CorreiosAdapter(CarrierAdapter):
    """Correios tracking with a cached bearer token, refreshed before expiry or after a 401."""

    name: ClassVar[str] = "correios"
    display_name: ClassVar[str] = "Correios"
    max_numbers_per_request: ClassVar[int] = 1
    requests_per_second: ClassVar[float] = 5.0
    max_concurrency: ClassVar[int] = 4
    tracking_url_template: ClassVar[str | None] = (
        "https://rastreamento.correios.com.br/app/index.php?objetos={number}"
    )
    default_base_url: ClassVar[str] = "https://api.correios.com.br"

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    @property
    def _base(self) -> str:
        return (self.settings.base_url or self.default_base_url).rstrip("/")

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """GET all events of one object; a 401 drops the token and retries once with a new one."""
        (number,) = numbers
        for attempt in (1, 2):
            token = await self._bearer(client)
            request = client.build_request(
                "GET",
                f"{self._base}/srorastro/v1/objetos/{quote(number, safe='')}",
                params={"resultado": "T"},
                headers={"Accept": "application/json", "Authorization": f"Bearer {token}"},
                timeout=self.settings.timeout_seconds,
            )
            reply = await send_for_reply(
                client, request, carrier=self.name, numbers=(number,), pass_statuses=(401,)
            )
            if reply.status_code != 401:
                return reply
            self._token = None
            if attempt == 2:
                break
        raise CarrierAuthError("correios: token rejected twice (HTTP 401)", carrier=self.name)

    async def _bearer(self, client: httpx.AsyncClient) -> str:
        """The cached token, or a fresh one when it is missing or about to expire."""
        async with self._token_lock:
            token = self._token
            if token is None or token.expires_at - TOKEN_MARGIN <= utc_now():
                token = self._token = await self._authenticate(client)
            return token.value

    async def _authenticate(self, client: httpx.AsyncClient) -> _Token:
        user, code = self.settings.client_id, self.settings.client_secret
        card = self.settings.options.get("cartao_postagem")
        if not (user and code and card):
            message = "correios: client_id, client_secret and options.cartao_postagem needed"
            raise CarrierAuthError(message, carrier=self.name)
        request = client.build_request(
            "POST",
            f"{self._base}/token/v1/autentica/cartaopostagem",
            json={"numero": card},
            headers={"Accept": "application/json"},
            timeout=self.settings.timeout_seconds,
        )
        reply = await send_for_reply(
            client, request, carrier=self.name, numbers=(), auth=httpx.BasicAuth(user, code)
        )
        return parse_token(reply.body, reply.content_type)

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per object; ``mensagem`` without events (SRO-020 ...) is not-found."""
        return parse_rastro_json(reply.body, reply.content_type, reply.numbers)


def parse_token(body: bytes, content_type: str = "") -> _Token:
    """The token and its expiry from the ``autentica`` reply."""
    try:
        document = json.loads(decode_body(body, content_type))
        return _Token(str(document["token"]), _aware(str(document["expiraEm"])))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"correios: unexpected token reply ({exc!r})", body=body) from exc


def parse_rastro_json(
    body: bytes, content_type: str = "", numbers: Sequence[str] = ()
) -> list[TrackingResult]:
    """Pure parse of a ``srorastro/v1/objetos`` reply."""
    try:
        document = json.loads(decode_body(body, content_type))
        return [_rastro_object(o) for o in document["objetos"]]
    except json.JSONDecodeError as exc:
        raise ParseError(f"correios: reply is not JSON ({exc})", body=body) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"correios: unexpected reply shape ({exc!r})", body=body) from exc


def _rastro_object(obj: Mapping[str, Any]) -> TrackingResult:
    number = str(obj["codObjeto"])
    events = tuple(_rastro_event(e) for e in obj.get("eventos") or [])
    extra = {}
    if obj.get("mensagem"):
        extra["message"] = str(obj["mensagem"])
    postal_type = obj.get("tipoPostal") or {}
    if postal_type.get("descricao"):
        extra["service_name"] = str(postal_type["descricao"])
    expected = obj.get("dtPrevista")
    return TrackingResult(
        tracking_number=number,
        events=events,
        expected_delivery=_aware(str(expected)) if expected else None,
        not_found=not events and bool(obj.get("mensagem")),
        extra=extra,
    )


def _rastro_event(event: Mapping[str, Any]) -> RawEvent:
    created = event["dtHrCriado"]
    if isinstance(created, Mapping):  # some gateways wrap it as {"date": ..., "timezone": ...}
        created = str(created["date"])
    unit = event.get("unidade") or {}
    address = unit.get("endereco") or {}
    city, state = address.get("cidade"), address.get("uf")
    place = "/".join(p for p in (city, state) if p) or unit.get("nome")
    return RawEvent(
        occurred_at=_aware(str(created)),
        text=_join(event.get("descricao"), event.get("detalhe")),
        code=f"{event['codigo']}.{event.get('tipo') or '00'}",
        location=place or None,
        country="BR" if state else None,
        carrier="correios",
    )


def _join(description: object, detail: object) -> str:
    """Description, then the detail line when there is one (both kept in Portuguese)."""
    parts = [" ".join(str(p).split()) for p in (description, detail) if p]
    return " – ".join(p for p in parts if p)


def _aware(value: str) -> datetime:
    """ISO time; without an offset it is Brasília time (see the module docstring)."""
    occurred = datetime.fromisoformat(value)
    return occurred if occurred.tzinfo else occurred.replace(tzinfo=HOME_ZONE)
