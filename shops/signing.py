"""HMAC-SHA256 webhook signatures, compared in constant time.

Shopify and WooCommerce both send base64 of HMAC-SHA256 over the raw body; our generic webhook
sends ``sha256=<hex>``. The raw bytes are signed, so a body is verified before it is parsed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def hmac_sha256(secret: str, body: bytes) -> bytes:
    """The raw HMAC-SHA256 digest of ``body`` keyed with ``secret`` (UTF-8)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def base64_signature(secret: str, body: bytes) -> str:
    """Base64 of the digest, as Shopify and WooCommerce send it."""
    return base64.b64encode(hmac_sha256(secret, body)).decode("ascii")


def hex_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex digest>``, as the generic webhook sends it."""
    return "sha256=" + hmac_sha256(secret, body).hex()


def matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison; a missing or empty signature never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace"))
