"""Fetch tests against a real HTTP server on loopback: auth flows, error statuses, charsets."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from carriers.australia_post import AustraliaPostAdapter
from carriers.base import CarrierAdapter, CarrierSettings
from carriers.canada_post import CanadaPostAdapter
from carriers.correios import CorreiosAdapter
from carriers.la_poste import LaPosteAdapter
from carriers.russian_post import RussianPostAdapter
from carriers.transport import carrier_client
from tests.carriers.postal import samples
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tracker.errors import (
    CarrierAuthError,
    CarrierRateLimited,
    CarrierUnavailable,
    ParseError,
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with carrier_client() as http:
        yield http


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _token_route(server: LoopbackHTTPServer, token: str = "tok-1") -> None:
    body = json.dumps({**samples.CORREIOS_TOKEN, "token": token})
    server.route(
        "POST",
        "/token/v1/autentica/cartaopostagem",
        lambda r: Reply(201, body, {"Content-Type": "application/json"}),
    )


@dataclass(frozen=True)
class Case:
    """One adapter, how to build it against the server, and which route its tracking uses."""

    make: Callable[[str], CarrierAdapter]
    method: str
    path: str
    number: str
    needs_token: bool = False


CASES = {
    "canada_post": Case(
        lambda url: CanadaPostAdapter(
            CarrierSettings(base_url=url, client_id="u", client_secret="p")
        ),
        "GET",
        "/vis/track/pin/1234567890123456/detail",
        "1234567890123456",
    ),
    "australia_post": Case(
        lambda url: AustraliaPostAdapter(
            CarrierSettings(
                base_url=url, api_key="k", client_secret="s", options={"account_number": "0001"}
            )
        ),
        "GET",
        "/shipping/v1/track",
        "33XYZ000000001",
    ),
    "la_poste": Case(
        lambda url: LaPosteAdapter(CarrierSettings(base_url=url, api_key="okapi")),
        "GET",
        "/suivi/v2/idships/6A12345678901",
        "6A12345678901",
    ),
    "russian_post": Case(
        lambda url: RussianPostAdapter(
            CarrierSettings(base_url=url, client_id="login", client_secret="secret")
        ),
        "POST",
        "/rtm34",
        "RA123456785CN",
    ),
    "correios": Case(
        lambda url: CorreiosAdapter(
            CarrierSettings(
                base_url=url,
                client_id="user",
                client_secret="code",
                options={"cartao_postagem": "0067599079"},
            )
        ),
        "GET",
        "/srorastro/v1/objetos/AA123456785BR",
        "AA123456785BR",
        needs_token=True,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_429_honours_retry_after(
    name: str, loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    case = CASES[name]
    if case.needs_token:
        _token_route(loopback_http)
    loopback_http.route(
        case.method, case.path, lambda r: Reply(429, "slow down", {"Retry-After": "42"})
    )
    adapter = case.make(loopback_http.base_url)
    with pytest.raises(CarrierRateLimited) as caught:
        await adapter.fetch(client, [case.number])
    assert caught.value.retry_after == 42.0


@pytest.mark.parametrize("name", sorted(CASES))
async def test_500_is_unavailable(
    name: str, loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    case = CASES[name]
    if case.needs_token:
        _token_route(loopback_http)
    loopback_http.route(case.method, case.path, lambda r: Reply(500, "<html>Internal error</html>"))
    with pytest.raises(CarrierUnavailable):
        await case.make(loopback_http.base_url).fetch(client, [case.number])


@pytest.mark.parametrize("name", sorted(set(CASES) - {"russian_post"}))
async def test_401_is_auth_error(
    name: str, loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    case = CASES[name]
    if case.needs_token:
        _token_route(loopback_http)
    loopback_http.route(case.method, case.path, lambda r: Reply(401, "unauthorized"))
    with pytest.raises(CarrierAuthError):
        await case.make(loopback_http.base_url).fetch(client, [case.number])


@pytest.mark.parametrize("name", sorted(CASES))
async def test_malformed_body_fetches_then_parse_error_keeps_body(
    name: str, loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    case = CASES[name]
    if case.needs_token:
        _token_route(loopback_http)
    garbage = b"<<<{{{ truncated"
    loopback_http.route(case.method, case.path, lambda r: Reply(200, garbage))
    adapter = case.make(loopback_http.base_url)
    reply = await adapter.fetch(client, [case.number])
    with pytest.raises(ParseError) as caught:
        adapter.parse(reply)
    assert caught.value.body == garbage


async def test_timeout_is_unavailable(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route(
        "GET", "/suivi/v2/idships/6A1", lambda r: Reply(200, "{}", delay_seconds=1.0)
    )
    adapter = LaPosteAdapter(
        CarrierSettings(base_url=loopback_http.base_url, api_key="k", timeout_seconds=0.2)
    )
    with pytest.raises(CarrierUnavailable, match="timed out"):
        await adapter.fetch(client, ["6A1"])


async def test_canada_post_request_and_not_found(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route(
        "GET",
        "/vis/track/pin/1234567890123456/detail",
        lambda r: Reply(
            404,
            samples.CANADA_POST_NO_HISTORY,
            {"Content-Type": "application/vnd.cpc.track-v2+xml"},
        ),
    )
    adapter = CASES["canada_post"].make(loopback_http.base_url)
    reply = await adapter.fetch(client, ["1234567890123456"])
    (request,) = loopback_http.requests
    assert request.headers["authorization"] == _basic("u", "p")
    assert request.headers["accept-language"] == "en-CA"
    assert request.headers["accept"] == "application/vnd.cpc.track-v2+xml"
    (result,) = adapter.parse(reply)
    assert result.not_found
    assert result.tracking_number == "1234567890123456"


async def test_canada_post_french_and_dnc_route(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route(
        "GET",
        "/vis/track/dnc/123456789012345/detail",
        lambda r: Reply(200, samples.CANADA_POST_DETAIL),
    )
    adapter = CanadaPostAdapter(
        CarrierSettings(
            base_url=loopback_http.base_url, api_key="u:p", options={"language": "fr-CA"}
        )
    )
    reply = await adapter.fetch(client, ["123456789012345"])
    assert loopback_http.requests[0].headers["accept-language"] == "fr-CA"
    assert len(adapter.parse(reply)[0].events) == 2


async def test_missing_credentials_raise_before_any_request(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    settings = CarrierSettings(base_url=loopback_http.base_url)
    for adapter, number in (
        (CanadaPostAdapter(settings), "1234567890123456"),
        (AustraliaPostAdapter(settings), "X"),
        (LaPosteAdapter(settings), "X"),
        (RussianPostAdapter(settings), "X"),
        (CorreiosAdapter(settings), "X"),
    ):
        with pytest.raises(CarrierAuthError):
            await adapter.fetch(client, [number])
    assert loopback_http.requests == []


async def test_australia_post_batches_ids_with_account_header(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route("GET", "/shipping/v1/track", lambda r: Reply(200, samples.AUSTRALIA_POST))
    adapter = CASES["australia_post"].make(loopback_http.base_url)
    reply = await adapter.fetch(client, ["33XYZ000000001", "BAD"])
    (request,) = loopback_http.requests
    assert request.query["tracking_ids"] == ["33XYZ000000001,BAD"]
    assert request.headers["account-number"] == "0001"
    assert request.headers["authorization"] == _basic("k", "s")
    assert [r.not_found for r in adapter.parse(reply)] == [False, True]


async def test_la_poste_okapi_key_and_404_not_found(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    def handler(request: Request) -> Reply:
        if request.headers.get("x-okapi-key") != "okapi":
            return Reply(401, '{"code": "UNAUTHORIZED"}')
        return Reply(404, samples.LA_POSTE_NOT_FOUND, {"Content-Type": "application/json"})

    loopback_http.route("GET", "/suivi/v2/idships/6A0", handler)
    adapter = LaPosteAdapter(CarrierSettings(base_url=loopback_http.base_url, api_key="okapi"))
    reply = await adapter.fetch(client, ["6A0"])
    assert loopback_http.requests[0].query["lang"] == ["fr_FR"]
    (result,) = adapter.parse(reply)
    assert result.not_found
    wrong = LaPosteAdapter(CarrierSettings(base_url=loopback_http.base_url, api_key="nope"))
    with pytest.raises(CarrierAuthError):
        await wrong.fetch(client, ["6A0"])


def _soap_handler(
    expected_login: str, reply_for_ok: Callable[[], Reply]
) -> Callable[[Request], Reply]:
    auth_fault = (samples.FIXTURES / "russian_post_fault_auth.xml").read_bytes()

    def handler(request: Request) -> Reply:
        body = request.body.decode("utf-8")
        if f"<data:login>{expected_login}</data:login>" not in body:
            return Reply(500, auth_fault, {"Content-Type": "application/soap+xml; charset=utf-8"})
        return reply_for_ok()

    return handler


async def test_russian_post_soap_request_and_auth_fault(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    history = (samples.FIXTURES / "russian_post_history.xml").read_bytes()
    loopback_http.route(
        "POST",
        "/rtm34",
        _soap_handler(
            "login",
            lambda: Reply(200, history, {"Content-Type": "application/soap+xml; charset=utf-8"}),
        ),
    )
    adapter = CASES["russian_post"].make(loopback_http.base_url)
    reply = await adapter.fetch(client, ["RA123456785CN"])
    sent = loopback_http.requests[0]
    assert sent.headers["content-type"].startswith("application/soap+xml")
    assert b"<data:Barcode>RA123456785CN</data:Barcode>" in sent.body
    assert b"<data:password>secret</data:password>" in sent.body
    assert len(adapter.parse(reply)[0].events) == 7

    wrong = RussianPostAdapter(
        CarrierSettings(base_url=loopback_http.base_url, client_id="other", client_secret="x")
    )
    with pytest.raises(CarrierAuthError, match="Ошибка авторизации"):
        await wrong.fetch(client, ["RA123456785CN"])


async def test_russian_post_barcode_fault_is_not_found(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    fault = (samples.FIXTURES / "russian_post_fault_barcode.xml").read_bytes()
    loopback_http.route("POST", "/rtm34", lambda r: Reply(500, fault))
    adapter = CASES["russian_post"].make(loopback_http.base_url)
    reply = await adapter.fetch(client, ["XX1"])
    (result,) = adapter.parse(reply)
    assert result.not_found
    assert result.tracking_number == "XX1"


@pytest.mark.parametrize(
    ("content_type", "declaration"),
    [
        ("application/soap+xml; charset=windows-1251", "utf-8"),  # the header wins
        ("application/soap+xml", "windows-1251"),  # no header charset: the declaration decides
    ],
)
async def test_russian_post_windows_1251_body_decoded_intact(
    content_type: str,
    declaration: str,
    loopback_http: LoopbackHTTPServer,
    client: httpx.AsyncClient,
) -> None:
    text = (samples.FIXTURES / "russian_post_history.xml").read_text(encoding="utf-8")
    text = text.replace("encoding='UTF-8'", f"encoding='{declaration}'")
    loopback_http.route(
        "POST",
        "/rtm34",
        lambda r: Reply(200, text.encode("windows-1251"), {"Content-Type": content_type}),
    )
    adapter = CASES["russian_post"].make(loopback_http.base_url)
    (result,) = adapter.parse(await adapter.fetch(client, ["RA123456785CN"]))
    assert result.events[-1].text == "Вручение: Вручение адресату"
    assert result.events[2].location == "102976, Москва ЦЭП"


async def test_correios_token_is_fetched_once_and_sent_as_bearer(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    _token_route(loopback_http)
    body = json.dumps(samples.correios_rastro())
    loopback_http.route(
        "GET",
        "/srorastro/v1/objetos/AA123456785BR",
        lambda r: (
            Reply(200, body, {"Content-Type": "application/json"})
            if r.headers.get("authorization") == "Bearer tok-1"
            else Reply(401, "no")
        ),
    )
    adapter = CASES["correios"].make(loopback_http.base_url)
    for _ in range(2):
        reply = await adapter.fetch(client, ["AA123456785BR"])
    token_requests = [r for r in loopback_http.requests if r.method == "POST"]
    assert len(token_requests) == 1
    assert token_requests[0].headers["authorization"] == _basic("user", "code")
    assert json.loads(token_requests[0].body) == {"numero": "0067599079"}
    assert loopback_http.requests[-1].query["resultado"] == ["T"]
    assert adapter.parse(reply)[0].events[0].code == "BDE.01"


async def test_correios_expired_token_is_refreshed(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    issued = iter(["tok-old", "tok-new"])

    def token(request: Request) -> Reply:
        return Reply(201, json.dumps({"token": next(issued), "expiraEm": "2099-01-01T00:00:00"}))

    loopback_http.route("POST", "/token/v1/autentica/cartaopostagem", token)
    body = json.dumps(samples.correios_rastro())
    loopback_http.route(
        "GET",
        "/srorastro/v1/objetos/AA123456785BR",
        lambda r: (
            Reply(200, body)
            if r.headers.get("authorization") == "Bearer tok-new"
            else Reply(401, '{"msgs": ["Token expirado"]}')
        ),
    )
    adapter = CASES["correios"].make(loopback_http.base_url)
    reply = await adapter.fetch(client, ["AA123456785BR"])
    assert reply.status_code == 200
    assert [r.method for r in loopback_http.requests] == ["POST", "GET", "POST", "GET"]


async def test_correios_token_near_expiry_is_renewed_before_use(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route(
        "POST",
        "/token/v1/autentica/cartaopostagem",
        lambda r: Reply(201, json.dumps({"token": "t", "expiraEm": "2000-01-01T00:00:00"})),
    )
    loopback_http.route("GET", "/srorastro/v1/objetos/AA123456785BR", lambda r: Reply(200, "{}"))
    adapter = CASES["correios"].make(loopback_http.base_url)
    await adapter.fetch(client, ["AA123456785BR"])
    await adapter.fetch(client, ["AA123456785BR"])
    assert [r.method for r in loopback_http.requests].count("POST") == 2


async def test_correios_rejected_credentials(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route("POST", "/token/v1/autentica/cartaopostagem", lambda r: Reply(401, "{}"))
    with pytest.raises(CarrierAuthError):
        await CASES["correios"].make(loopback_http.base_url).fetch(client, ["AA123456785BR"])


async def test_correios_iso_8859_1_body_decoded_intact(
    loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    _token_route(loopback_http)
    body = json.dumps(samples.correios_rastro(), ensure_ascii=False).encode("iso-8859-1")
    loopback_http.route(
        "GET",
        "/srorastro/v1/objetos/AA123456785BR",
        lambda r: Reply(200, body, {"Content-Type": "application/json; charset=ISO-8859-1"}),
    )
    adapter = CASES["correios"].make(loopback_http.base_url)
    (result,) = adapter.parse(await adapter.fetch(client, ["AA123456785BR"]))
    assert result.events[0].text == "Objeto entregue ao destinatário"
    assert result.events[0].location == "SÃO PAULO/SP"
    assert result.events[1].text == "Fiscalização aduaneira finalizada – Pagamento confirmado"
