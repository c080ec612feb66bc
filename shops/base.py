"""The shop adapter contract: what a shop platform or payment provider tells us, and what we send.

A shop adapter has the same split as a carrier adapter. Reading is pure: ``verify`` checks a
webhook's signature and ``parse_webhook`` turns its body into ``ShopOrder`` values, so both are
tested on documented payloads. ``fetch_orders`` (backfill) and ``send`` (status back to the shop,
tracking to PayPal) do the I/O. ``status_pushes`` is pure too: it decides which calls a canonical
status change causes, and those calls wait in the outbox until ``send`` makes them.

Errors: ``ShopError`` (a TrackerError) says what went wrong with which shop; a push result says
per call whether it was sent, should be retried or failed for good.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

import httpx

from shops.payload import ShopPush
from tracker.errors import TrackerError
from tracker.model import Detail, Status


class ShopError(TrackerError):
    """A shop's webhook, reply or settings could not be used; the message names the shop."""


@dataclass(frozen=True, slots=True)
class ShopSettings:
    """One ``[shops.NAME]`` table with its secrets read from the environment."""

    name: str
    base_url: str | None = None
    api_version: str | None = None
    access_token: str | None = None
    webhook_secret: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    timeout_seconds: float = 20.0
    #: the order status to set when every parcel of an order is delivered (WooCommerce)
    delivered_status: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShopParcel:
    """One tracking number as the shop gave it; the shop's carrier label is mapped later."""

    tracking_number: str
    carrier_label: str | None = None
    tracking_url: str | None = None


@dataclass(frozen=True, slots=True)
class ShopFulfillment:
    """A group of parcels shipped together (Shopify fulfillment, WooCommerce tracking items).

    A fulfillment that no longer lists a number replaces or drops it; a cancelled one stops
    all of its numbers.
    """

    id: str
    parcels: tuple[ShopParcel, ...]
    cancelled: bool = False
    shipped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PaypalRef:
    """Where an order's payment lives at PayPal: the Orders v2 id and/or the capture
    (transaction) id that tracking is added to."""

    order_id: str | None = None
    capture_id: str | None = None


@dataclass(frozen=True, slots=True)
class ShopOrder:
    """An order with the fulfillments a message or a sync brought."""

    order_id: str
    reference: str
    buyer_email: str | None
    buyer_name: str | None
    language: str | None
    country: str | None
    fulfillments: tuple[ShopFulfillment, ...]
    paypal: PaypalRef | None = None


@dataclass(frozen=True, slots=True)
class InboundWebhook:
    """A verified webhook, read: its delivery id (for deduplication), topic and orders.

    ``orders`` is empty for topics that carry nothing to track (a ping, an unpaid order).
    """

    delivery_id: str
    topic: str
    orders: tuple[ShopOrder, ...]


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """What a status push needs to know about one tracked number of one shop order."""

    shop: str
    order_id: str
    fulfillment_id: str
    tracking_number: str
    carrier: str
    carrier_label: str | None
    paypal: PaypalRef | None
    #: every sibling in the same fulfillment is delivered (true when there is no sibling)
    fulfillment_delivered: bool
    #: every active parcel of the whole order is delivered
    order_delivered: bool
    #: the status last queued for this number at this shop (a detail change alone, such as
    #: customs processing inside "in transit", shows nothing new in the shop)
    last_pushed: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A canonical status change of a tracked shipment, with what the shop may show of it."""

    status: Status
    detail: Detail | None
    happened_at: datetime
    place: str | None = None
    country: str | None = None
    estimated_delivery: datetime | None = None


Outcome = Literal["sent", "retry", "failed"]


@dataclass(frozen=True, slots=True)
class PushResult:
    """How one push went: ``reference`` is the shop's id for what it created, when sent."""

    outcome: Outcome
    reference: str = ""
    error: str = ""
    retry_after: float | None = None


class ShopAdapter(ABC):
    """Base class of shop adapters; subclasses are registered in the ``tracker.shops`` group."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    #: settings that must be present in the shop's table (``check-config`` verifies them)
    required: ClassVar[tuple[str, ...]] = ()
    #: whether this platform sends webhooks we verify with ``webhook_secret``
    receives_webhooks: ClassVar[bool] = True
    #: how many pushes one ``send`` call may carry (PayPal's batch endpoint takes 20)
    max_pushes_per_call: ClassVar[int] = 1
    #: whether ``fetch_orders`` reads recent orders (``tracker shops sync``)
    syncs: ClassVar[bool] = False

    def __init__(self, settings: ShopSettings) -> None:
        self.settings = settings

    @classmethod
    @abstractmethod
    def verify(cls, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """Whether the webhook's signature matches ``body`` (headers lower-cased)."""

    @classmethod
    @abstractmethod
    def parse_webhook(cls, body: bytes, headers: Mapping[str, str]) -> InboundWebhook:
        """Read a verified webhook (pure); ShopError when it is not what the platform sends."""

    async def fetch_orders(
        self, client: httpx.AsyncClient, since: datetime
    ) -> AsyncIterator[list[ShopOrder]]:
        """Pages of orders updated since ``since``, for ``tracker shops sync``."""
        raise ShopError(f"shops.{self.settings.name}: {self.display_name} has no order sync")
        yield []  # pragma: no cover - makes this an async generator

    @classmethod
    def status_pushes(cls, link: LinkFacts, change: StatusChange) -> list[ShopPush]:
        """The calls a status change causes for one linked number (pure); none by default."""
        return []

    @abstractmethod
    async def send(self, client: httpx.AsyncClient, pushes: Sequence[ShopPush]) -> list[PushResult]:
        """Make the calls, one result per push in order; never raises for a single push."""
