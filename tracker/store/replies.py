"""Recognising a carrier reply that brings nothing new without reading it (issue 16).

Most polls get back exactly what the previous poll got. Each shipment keeps a digest of its last
reply part (``carriers.base.ReplyPart.source``) together with the delivery estimate stored then,
written only when that same reply would be judged quiet: the shipment was polled, every event in
it is stored, and its estimate (if any) is the stored one. A later poll whose part has the same
digest is quiet for the same reasons (stored events are never deleted, and a changed stored
estimate changes the digest), so it is rescheduled without building, fingerprinting or
classifying its events. The adapter's name, this program's version and a digest of the
adapter's source file are part of it, so a new parser reads every reply once again.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

try:
    _VERSION = metadata.version("parcel-tracker")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    _VERSION = "source"


def part_digest(carrier: str, source: str, parser: str = "") -> bytes:
    """The digest of one reply part as ``carrier``'s adapter gave it; ``parser`` names the
    adapter's code (:func:`parser_identity`)."""
    return part_digester(carrier, parser)(source)


@cache
def part_digester(carrier: str, parser: str = "") -> Callable[[str], bytes]:
    """:func:`part_digest` for ``carrier``'s parts: the prefix every part shares is hashed
    once and the hash state copied for each part (the same digests, a third cheaper)."""
    start = hashlib.blake2b(digest_size=16, person=b"tracker-reply")
    start.update(f"{carrier}\x1f{_VERSION}\x1f{parser}\x1f".encode())

    def digest(source: str) -> bytes:
        state = start.copy()
        state.update(source.encode())
        return state.digest()

    return digest


@cache
def parser_identity(adapter: type) -> str:
    """A digest of the file that defines ``adapter``: a parser changed without a new release
    (a checkout, a third-party adapter's own upgrade) reads every reply once again, as a new
    version does. Empty when the file cannot be read (the version alone then decides)."""
    try:
        code = Path(inspect.getfile(adapter)).read_bytes()
    except (OSError, TypeError):
        return ""
    return hashlib.blake2b(code, digest_size=8).hexdigest()


def reply_digest(part: bytes, expected_delivery: datetime | None) -> str:
    """What a shipment stores: the part's digest bound to the estimate stored with it."""
    return hashlib.blake2b(part + _estimate_text(expected_delivery), digest_size=16).hexdigest()


def _estimate_text(expected_delivery: datetime | None) -> bytes:
    # in UTC: the same instant from the carrier and from the store gives the same digest
    return expected_delivery.astimezone(UTC).isoformat().encode() if expected_delivery else b""


def reply_digester() -> Callable[[bytes, datetime | None], str]:
    """:func:`reply_digest` for one batch: each distinct estimate is written out once (a
    batch's shipments mostly share theirs, or have none)."""
    texts: dict[datetime | None, bytes] = {None: b""}
    blake2b = hashlib.blake2b

    def digest(part: bytes, expected_delivery: datetime | None) -> str:
        text = texts.get(expected_delivery)
        if text is None:
            text = texts[expected_delivery] = _estimate_text(expected_delivery)
        return blake2b(part + text, digest_size=16).hexdigest()

    return digest
