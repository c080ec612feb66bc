"""Recognising a carrier reply that brings nothing new without reading it (issue 16).

Most polls get back exactly what the previous poll got. Each shipment keeps a digest of its last
reply part (``carriers.base.ReplyPart.source``) together with the delivery estimate stored then,
written only when that same reply would be judged quiet: the shipment was polled, every event in
it is stored, and its estimate (if any) is the stored one. A later poll whose part has the same
digest is quiet for the same reasons (stored events are never deleted, and a changed stored
estimate changes the digest), so it is rescheduled without building, fingerprinting or
classifying its events. The adapter's name and this program's version are part of the digest,
so a new parser reads every reply once again.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from importlib import metadata

try:
    _VERSION = metadata.version("parcel-tracker")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    _VERSION = "source"


def part_digest(carrier: str, source: str) -> bytes:
    """The digest of one reply part as ``carrier``'s adapter gave it."""
    digest = hashlib.blake2b(digest_size=16, person=b"tracker-reply")
    digest.update(f"{carrier}\x1f{_VERSION}\x1f".encode())
    digest.update(source.encode())
    return digest.digest()


def reply_digest(part: bytes, expected_delivery: datetime | None) -> str:
    """What a shipment stores: the part's digest bound to the estimate stored with it."""
    # in UTC: the same instant from the carrier and from the store gives the same digest
    estimate = expected_delivery.astimezone(UTC).isoformat() if expected_delivery else ""
    return hashlib.blake2b(part + estimate.encode(), digest_size=16).hexdigest()
