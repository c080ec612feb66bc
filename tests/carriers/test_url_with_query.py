"""``url_with_query`` builds the URL httpx itself would parse from the same text, so a request
built from it is the request the adapter asked for; the sandbox's query is urlencode's."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.http import url_with_query
from carriers.sandbox.adapter import numbers_query

BASES = [
    "http://127.0.0.1:8080/v1/track",
    "https://Track.Example.COM/api v2/track",
    "http://[::1]:8443/x",
    "https://user:secret@carrier.example:443/p",
    "http://h/x?already=1",  # a base with a query: httpx parses the whole text itself
]


def _same(built: httpx.URL, whole: httpx.URL) -> None:
    assert str(built) == str(whole)
    assert built.raw_path == whole.raw_path
    assert (built.scheme, built.host, built.port, built.query) == (
        whole.scheme,
        whole.host,
        whole.port,
        whole.query,
    )


@pytest.mark.parametrize("base", BASES)
@given(numbers=st.lists(st.text(min_size=1, max_size=14), min_size=1, max_size=40))
def test_an_encoded_query_gives_the_url_httpx_parses(base: str, numbers: list[str]) -> None:
    query = urlencode({"numbers": ",".join(numbers)})
    _same(url_with_query(base, query), httpx.URL(f"{base}?{query}"))


@pytest.mark.parametrize("query", ["a=b c", "a=%zz", "", "x=[1]", "é=1"])
def test_a_query_httpx_would_encode_is_left_to_httpx(query: str) -> None:
    base = BASES[0]
    _same(url_with_query(base, query), httpx.URL(f"{base}?{query}"))


def test_a_request_built_from_it_is_the_same_request() -> None:
    query = urlencode({"numbers": "SBNM00000001,SBNM00000002"})
    with httpx.Client(timeout=5) as client:
        built = client.build_request("GET", url_with_query(BASES[0], query), headers={"X-A": "1"})
        whole = client.build_request("GET", f"{BASES[0]}?{query}", headers={"X-A": "1"})
    assert built.url == whole.url
    assert built.headers.raw == whole.headers.raw
    assert built.extensions == whole.extensions


def test_a_bad_base_fails_as_httpx_fails() -> None:
    with pytest.raises(httpx.InvalidURL):
        url_with_query("http://exa\nmple.com/x", "a=1")


@given(numbers=st.lists(st.text(max_size=14) | st.from_regex(r"[A-Z0-9]{8,14}"), max_size=40))
def test_the_sandbox_query_is_urlencodes(numbers: list[str]) -> None:
    assert numbers_query(numbers) == urlencode({"numbers": ",".join(numbers)})
