"""The outbox payload of a shop push: one call to a shop or PayPal, frozen when it became due.

Stored as JSON in the outbox row (kind ``shop:<action>``) written in the transaction that changed
the shipment, so the call is made exactly once however often the dispatcher restarts. ``v``
versions the layout: a row written by an older version is still read, a newer one is refused
with an error naming the row's version.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Literal

from tracker.errors import NoticeError
from tracker.store.outbox import SHOP_KIND_PREFIX

PAYLOAD_VERSION = 1

Action = Literal[
    "fulfillment_event",  # Shopify: fulfillmentEventCreate
    "order_status",  # WooCommerce: set the order's status
    "paypal_track",  # PayPal: add a tracker for the capture
    "paypal_status",  # PayPal: update a tracker's status (delivered, cancelled)
]
_TIMES = ("happened_at", "estimated_delivery")


@dataclass(frozen=True, slots=True)
class ShopPush:
    """One call to make: ``shop`` is the config table of the target (a store or a PayPal
    account), ``status`` is in the target's own vocabulary (``IN_TRANSIT``, ``completed``,
    ``SHIPPED``)."""

    shop: str
    action: Action
    order_id: str
    tracking_number: str
    status: str
    happened_at: datetime
    fulfillment_id: str | None = None
    carrier: str | None = None
    carrier_label: str | None = None
    estimated_delivery: datetime | None = None
    place: str | None = None
    country: str | None = None
    paypal_order_id: str | None = None
    paypal_capture_id: str | None = None

    @property
    def kind(self) -> str:
        """The outbox row kind."""
        return SHOP_KIND_PREFIX + self.action

    def key(self) -> str:
        """What makes this push unique for its shipment (the outbox idempotency key's tail):
        one per target, order, number and status; a fulfillment event also per event time, so
        a parcel that is delayed and then moves again shows both changes in the shop."""
        parts = [
            self.shop,
            self.action,
            self.order_id,
            self.fulfillment_id or "",
            self.tracking_number,
            self.status,
        ]
        if self.action == "fulfillment_event":
            parts.append(self.happened_at.isoformat())
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]
        return f"shop:{self.action}:{self.status.lower()}:{digest}"

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the outbox row."""
        data = asdict(self)
        for name in _TIMES:
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return {"v": PAYLOAD_VERSION, **{k: v for k, v in data.items() if v is not None}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShopPush:
        """Read a stored payload; NoticeError naming what is wrong with it."""
        version = data.get("v")
        if version != PAYLOAD_VERSION:
            raise NoticeError(f"shop push payload version {version!r} is not {PAYLOAD_VERSION}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            for name in _TIMES:
                if values.get(name) is not None:
                    values[name] = datetime.fromisoformat(values[name])
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise NoticeError(f"shop push payload is incomplete or malformed: {exc}") from exc


def is_shop_kind(kind: str) -> bool:
    """Whether an outbox row is a shop push."""
    return kind.startswith(SHOP_KIND_PREFIX)
