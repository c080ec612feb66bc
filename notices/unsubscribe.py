"""Letting a buyer leave: the List-Unsubscribe headers and one-click links (RFC 2369, RFC 8058).

Every notice names a mailto address (the seller reads it and runs ``tracker opt-out --email``)
and, when the seller publishes ``seller.unsubscribe_url``, an https link that unsubscribes in one
click. The link carries the buyer's address and an HMAC of it, so it unsubscribes exactly its
recipient and nobody can forge one for another address; the key comes from the environment
variable named by ``seller.unsubscribe_secret_env``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from email.utils import parseaddr
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from tracker.errors import ConfigError, NoticeError

if TYPE_CHECKING:
    from tracker.config import SellerConfig

ONE_CLICK = "List-Unsubscribe=One-Click"
"""The List-Unsubscribe-Post value RFC 8058 prescribes, and the body mail providers POST."""

_MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(address: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, address, hashlib.sha256).digest()[:_MAC_BYTES]


def token_for(email: str, secret: bytes) -> str:
    """``<address>.<mac>``, both base64url: what a one-click link carries for ``email``."""
    if not secret:
        raise NoticeError("unsubscribe secret is empty")
    address = email.strip().lower().encode("utf-8")
    return f"{_b64(address)}.{_b64(_mac(address, secret))}"


def email_of(token: str, secret: bytes) -> str | None:
    """The address a token was made for, or None when it was not made with ``secret``."""
    encoded, _, mac = token.partition(".")
    try:
        address, given = _unb64(encoded), _unb64(mac)
    except (binascii.Error, ValueError):
        return None
    if not secret or not hmac.compare_digest(given, _mac(address, secret)):
        return None
    try:
        return address.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class Unsubscribe:
    """Where a buyer can leave: a mailto address and, if the seller serves one, an https link."""

    mailto: str
    one_click_url: str | None = None

    def list_unsubscribe(self) -> str:
        """The List-Unsubscribe value: the mailto URI, then the https one if there is one."""
        uris = [f"<mailto:{quote(self.mailto, safe='@.+-_')}?subject=unsubscribe>"]
        if self.one_click_url:
            uris.append(f"<{self.one_click_url}>")
        return ", ".join(uris)


def one_click_url(base: str, email: str, secret: bytes, language: str | None = None) -> str:
    """The recipient's own one-click link under ``base`` (the language words its web page)."""
    if not base.startswith("https://"):
        raise NoticeError(f"one-click unsubscribe needs an https:// address, not {base!r}")
    query = {"token": token_for(email, secret)}
    if language:
        query["lang"] = language
    return f"{base}{'&' if '?' in base else '?'}{urlencode(query)}"


def unsubscribe_for(seller: SellerConfig, email: str, language: str | None) -> Unsubscribe:
    """The List-Unsubscribe of one notice: mail to the seller's reply address, plus the buyer's
    one-click link when the seller serves them; ConfigError if the signing key is missing."""
    mailto = parseaddr(seller.reply_to or seller.sender)[1]
    if not seller.unsubscribe_url:
        return Unsubscribe(mailto)
    return Unsubscribe(
        mailto, one_click_url(seller.unsubscribe_url, email, secret(seller), language)
    )


def secret(seller: SellerConfig) -> bytes:
    """The one-click signing key from ``seller.unsubscribe_secret_env``; ConfigError if unset."""
    name = seller.unsubscribe_secret_env or ""
    value = os.environ.get(name, "") if name else ""
    if not value:
        raise ConfigError(f"seller.unsubscribe_secret_env: environment variable {name!r} is empty")
    return value.encode("utf-8")
