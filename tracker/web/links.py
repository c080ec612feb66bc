"""Signed links: a buyer reaches one parcel's page (or unsubscribes) through a URL nobody can guess.

A token is ``<purpose><shipment id>.<issued day>.<signature>``, the signature being HMAC-SHA256
over the rest with a key from the environment, cut to 128 bits and base64url-encoded. The day
lets a link expire (``[web] link_ttl``) without storing anything.

Rotating the key: put the new key first and keep the old one after a comma
(``TRACKER_WEB_KEYS="new,old"``). New links are signed with the first key; links signed with any
listed key still open, until the old key is removed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tracker.config import TrackerConfig
from tracker.errors import ConfigError

Purpose = Literal["page", "unsubscribe", "form"]
_PREFIX: dict[Purpose, str] = {"page": "p", "unsubscribe": "u", "form": "f"}
_BY_PREFIX = {prefix: purpose for purpose, prefix in _PREFIX.items()}
MIN_KEY_LENGTH = 16
EPOCH_DAY = datetime(2020, 1, 1).date()


class LinkError(ValueError):
    """A token that is malformed, forged, or signed for something else."""


class LinkExpired(LinkError):
    """A genuine token past its lifetime; the buyer can still look the parcel up."""


@dataclass(frozen=True, slots=True)
class LinkKeys:
    """The signing key first, then older keys still accepted."""

    keys: tuple[bytes, ...]

    @classmethod
    def parse(cls, value: str | None, where: str) -> LinkKeys:
        """Keys from the environment value; ConfigError naming ``where`` when absent or short."""
        keys = tuple(k.strip().encode() for k in (value or "").split(",") if k.strip())
        if not keys:
            raise ConfigError(f"{where}: the environment variable is not set or empty")
        short = [i + 1 for i, k in enumerate(keys) if len(k) < MIN_KEY_LENGTH]
        if short:
            raise ConfigError(
                f"{where}: key {short[0]} is shorter than {MIN_KEY_LENGTH} characters; "
                "use a long random value, e.g. `openssl rand -hex 32`"
            )
        return cls(keys)


@dataclass(frozen=True, slots=True)
class SignedRef:
    """What a verified token says."""

    purpose: Purpose
    ref: int
    issued: datetime


def _day(moment: datetime) -> int:
    return (moment.date() - EPOCH_DAY).days


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(keys: LinkKeys, purpose: Purpose, ref: int, now: datetime) -> str:
    """A token for ``ref`` (a shipment id, or a form's subject) issued on ``now``'s day."""
    message = f"{_PREFIX[purpose]}{ref}.{_day(now)}"
    return f"{message}.{_mac(keys.keys[0], message)}"


def verify(
    keys: LinkKeys, token: str, purpose: Purpose, now: datetime, ttl: timedelta
) -> SignedRef:
    """The token's reference if a listed key signed it for ``purpose`` and it has not expired.

    LinkError for anything forged or malformed, LinkExpired for a genuine but old token.
    """
    message, _, mac = token.rpartition(".")
    if not message or len(token) > 80 or not token.isascii():
        raise LinkError("malformed token")
    if not any(hmac.compare_digest(_mac(key, message), mac) for key in keys.keys):
        raise LinkError("bad signature")
    head, _, day_text = message.partition(".")
    if _BY_PREFIX.get(head[:1]) != purpose or not head[1:].isdigit() or not day_text.isdigit():
        raise LinkError("token signed for something else")
    issued_day = int(day_text)
    issued = datetime.combine(
        EPOCH_DAY + timedelta(days=issued_day), datetime.min.time(), tzinfo=now.tzinfo
    )
    if now - issued > ttl + timedelta(days=1):
        raise LinkExpired("link expired")
    return SignedRef(purpose, int(head[1:]), issued)


def _public_keys(config: TrackerConfig) -> tuple[str, LinkKeys] | None:
    """``[web] public_url`` and the signing keys, when notices should link to the page."""
    web = config.web
    if not web.public_url or not web.pages:
        return None
    name = web.link_keys_env
    return web.public_url, LinkKeys.parse(os.environ.get(name), f"web.link_keys_env ({name})")


def buyer_page_url(config: TrackerConfig, shipment_id: int, now: datetime) -> str | None:
    """The signed address of a shipment's page, for a notice's "Track my parcel" button; None
    when ``[web] public_url`` is not set. ConfigError when the link keys are missing."""
    public = _public_keys(config)
    if public is None:
        return None
    base, keys = public
    return f"{base}/t/{sign(keys, 'page', shipment_id, now)}"


def web_problems(config: TrackerConfig) -> list[str]:
    """What would stop the web server or the page links at run time (for ``check-config``)."""
    web = config.web
    problems: list[str] = []
    needs_keys = web.pages and (web.port is not None or web.public_url is not None)
    if needs_keys:
        try:
            LinkKeys.parse(
                os.environ.get(web.link_keys_env), f"web.link_keys_env ({web.link_keys_env})"
            )
        except ConfigError as exc:
            problems.append(str(exc))
    if web.ops_token_env and not os.environ.get(web.ops_token_env):
        problems.append(
            f"web.ops_token_env: environment variable {web.ops_token_env} is not set or empty"
        )
    return problems
