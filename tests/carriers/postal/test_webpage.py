"""The generic web-page adapter: config validation, the shipped example page, and fetching."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from carriers.base import CarrierReply, CarrierSettings
from carriers.transport import carrier_client
from carriers.webpage import WebPageAdapter, load_config, parse_page
from tests.carriers.postal.samples import FIXTURES
from tests.support.loopback import LoopbackHTTPServer, Reply
from tracker.errors import ConfigError, ParseError

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "webpages" / "cyprus_post_ips.toml"

MINIMAL = """
name = "demo"
url = "{base}/track?id={{number}}"
timezone = "America/Sao_Paulo"
time_format = "%d/%m/%Y %H:%M"
not_found_texts = "Objeto não encontrado"

[headers]
X-Demo = "yes"

[selectors]
row = "ul.eventos li"
time = ".quando"
text = ".oque"
location = ".onde"
"""


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with carrier_client() as http:
        yield http


def test_example_config_parses_the_saved_ips_page() -> None:
    config = load_config(EXAMPLE)
    body = (FIXTURES / "ips_webtracking_cyprus.html").read_bytes()
    result = parse_page(config, body, "text/html; charset=utf-8", "RA123456785CN")
    assert len(result.events) == 5  # the header row has no <td> and is skipped
    first, last = result.events[0], result.events[-1]
    assert first.text == "Receive item from customer"
    assert first.location == "SHENZHEN"
    assert first.country == "CN"
    assert first.occurred_at == datetime(2024, 3, 1, 2, 15, tzinfo=UTC)  # Shanghai, +8
    assert result.events[1].occurred_at == datetime(2024, 3, 3, 14, 40, tzinfo=UTC)  # 10:40 PM
    assert last.occurred_at == datetime(2024, 3, 12, 11, 5, tzinfo=UTC)  # Nicosia, +2
    assert last.text == "Deliver item (Inb) – Signed: ΑΝΔΡΕΟΥ"
    assert (
        result.events[3].text == "Hand over item to customs (Inb) – Customs – documents requested"
    )
    assert all(e.carrier == "cyprus_post" for e in result.events)


def test_example_not_found_page() -> None:
    config = load_config(EXAMPLE)
    body = (FIXTURES / "ips_webtracking_not_found.html").read_bytes()
    result = parse_page(config, body, number="XX000000000CY")
    assert result.not_found
    assert result.events == ()


def test_changed_layout_is_a_parse_error_naming_the_selector() -> None:
    config = load_config(EXAMPLE)
    body = b"<html><body><div class='new-layout'>Delivered</div></body></html>"
    with pytest.raises(ParseError, match=re.escape("selectors.row")) as caught:
        parse_page(config, body)
    assert caught.value.body == body


def test_unknown_time_format_is_a_parse_error() -> None:
    config = load_config(EXAMPLE)
    body = (
        (FIXTURES / "ips_webtracking_cyprus.html")
        .read_bytes()
        .replace(b"3/1/2024 10:15:00 AM", b"yesterday")
    )
    with pytest.raises(ParseError, match="yesterday"):
        parse_page(config, body)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('url = "{base}/track?id={{number}}"', 'url = "{base}/track"'), "'url'"),
        (('timezone = "America/Sao_Paulo"', 'timezone = "Mars/Olympus"'), "'timezone'"),
        (('row = "ul.eventos li"', 'row = "ul..eventos["'), "'selectors.row'"),
        (('time = ".quando"\n', ""), "'selectors.time'"),
        (('time_format = "%d/%m/%Y %H:%M"', "time_format = []"), "'time_format'"),
        (('X-Demo = "yes"', "X-Demo = 3"), "'headers'"),
        (('name = "demo"', 'name = "demo"\ncharset = "klingon-8"'), "'charset'"),
        (('location = ".onde"', 'location = ".onde"\nweather = "p"'), "'selectors.weather'"),
        (
            ('location = ".onde"', 'location = ".onde"\n[countries]\nBRASIL = { code = "BRA" }'),
            "'countries.BRASIL.code'",
        ),
    ],
)
def test_invalid_config_names_file_and_key(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    text = MINIMAL.replace(*change)
    assert text != MINIMAL
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert key in str(caught.value)


def test_broken_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("broken.toml")):
        load_config(broken)
    with pytest.raises(ConfigError, match=re.escape("missing.toml")):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=re.escape("options.config")):
        WebPageAdapter(CarrierSettings())


def _adapter(tmp_path: Path, base: str, extra: str = "") -> WebPageAdapter:
    path = tmp_path / "demo.toml"
    path.write_text(extra + MINIMAL.format(base=base), encoding="utf-8")
    return WebPageAdapter(CarrierSettings(options={"config": str(path)}))


PAGE = """<html><head><title>Rastreamento</title></head><body>
<ul class="eventos">
  <li><span class="quando">05/01/2017 16:45</span>
      <span class="oque">Objeto entregue ao destinatário</span>
      <span class="onde">Belém/PA</span></li>
  <li><span class="quando">04/01/2017 09:00</span>
      <span class="oque">Objeto saiu para entrega</span></li>
</ul></body></html>"""


async def test_fetch_sends_headers_and_decodes_iso_8859_1_via_override(
    tmp_path: Path, loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route(
        "GET",
        "/track",
        lambda r: Reply(200, PAGE.encode("iso-8859-1"), {"Content-Type": "text/html"}),
    )
    adapter = _adapter(tmp_path, loopback_http.base_url, 'charset = "iso-8859-1"\n')
    reply = await adapter.fetch(client, ["AB123"])
    (request,) = loopback_http.requests
    assert request.query["id"] == ["AB123"]
    assert request.headers["x-demo"] == "yes"
    (result,) = adapter.parse(reply)
    first = result.events[0]
    assert first.text == "Objeto entregue ao destinatário"
    assert first.location == "Belém/PA"
    assert first.occurred_at == datetime(2017, 1, 5, 18, 45, tzinfo=UTC)
    assert result.events[1].location is None
    assert adapter.tracking_url("AB 1") == f"{loopback_http.base_url}/track?id=AB%201"


async def test_fetch_uses_declared_charset_and_maps_errors(
    tmp_path: Path, loopback_http: LoopbackHTTPServer, client: httpx.AsyncClient
) -> None:
    loopback_http.route(
        "GET",
        "/track",
        lambda r: (
            Reply(200, PAGE.encode("iso-8859-1"), {"Content-Type": "text/html; charset=ISO-8859-1"})
            if r.query["id"] == ["OK"]
            else Reply(404, "Objeto não encontrado")
        ),
    )
    adapter = _adapter(tmp_path, loopback_http.base_url)
    (found,) = adapter.parse(await adapter.fetch(client, ["OK"]))
    assert found.events[0].location == "Belém/PA"
    (missing,) = adapter.parse(await adapter.fetch(client, ["NOPE"]))
    assert missing.not_found


def test_meta_charset_is_honoured_without_header(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path, "http://example.invalid")
    page = PAGE.replace("<head>", '<head><meta charset="windows-1252">').encode("windows-1252")
    (result,) = adapter.parse(CarrierReply(numbers=("X",), status_code=200, body=page))
    assert result.events[0].text == "Objeto entregue ao destinatário"


def test_buyers_see_the_configured_carrier_name() -> None:
    adapter = WebPageAdapter(CarrierSettings(options={"config": str(EXAMPLE)}))
    assert adapter.buyer_facing_name() == load_config(EXAMPLE).display_name
    assert adapter.buyer_facing_name() != WebPageAdapter.display_name
