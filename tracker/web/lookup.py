"""Finding a parcel by order number and email, rate limited per client network.

The same answer comes back for an unknown order and for a wrong email: one query matches both
fields at once, so neither the page nor its timing tells which was wrong.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.store.models import Shipment

#: how many distinct clients the limiter remembers before it forgets the quietest
MAX_CLIENTS = 10_000


class RateLimit:
    """At most ``limit`` attempts per ``window`` seconds per key (a sliding window)."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one attempt by ``key``; False when it is over the limit."""
        now = self.clock()
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._seen) > MAX_CLIENTS:
            self._forget(now)
        return True

    def _forget(self, now: float) -> None:
        stale = [k for k, t in self._seen.items() if not t or now - t[-1] >= self.window]
        for key in stale or list(self._seen)[: len(self._seen) // 2]:
            del self._seen[key]


def client_key(remote: str | None, headers: Mapping[str, str], trusted: list[str]) -> str:
    """The client's network (/24 or /48): behind a trusted proxy, the last address it added to
    ``X-Forwarded-For``; otherwise the peer's own address."""
    address = remote or "unknown"
    if address in trusted:
        forwarded = headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            address = hops[-1]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def find_shipment(factory: sessionmaker[Session], order: str, email: str) -> int | None:
    """The newest shipment with this order reference and buyer email (case-insensitive)."""
    if not order or not email:
        return None
    with factory() as session:
        return session.scalars(
            select(Shipment.id)
            .where(
                Shipment.order_reference == order,
                func.lower(Shipment.buyer_email) == email.lower(),
            )
            .order_by(Shipment.id.desc())
            .limit(1)
        ).first()
