"""The adapter contract every carrier implements, built-in or third-party.

An adapter is two halves: ``fetch`` does network I/O only and returns the reply untouched;
``parse`` is a pure function of that reply, so it can be tested on recorded responses.
Limits are class attributes so the poller can batch and rate-limit without knowing the carrier.
An adapter whose service pushes updates declares a ``PushReceiver``: the webhook server mounts it
without knowing the carrier, and the receiver's checks and parsing stay pure and testable here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

import httpx

from tracker.model import TrackingResult


@dataclass(frozen=True, slots=True)
class CarrierSettings:
    """Per-carrier settings from config; secrets are already resolved from the environment."""

    base_url: str | None = None
    api_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    timeout_seconds: float = 20.0
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CarrierReply:
    """One HTTP reply as received, kept raw so ``parse`` stays pure and replayable."""

    numbers: tuple[str, ...]
    status_code: int
    body: bytes
    content_type: str = ""
    url: str = ""

    def text(self) -> str:
        """The body decoded with the charset the server declared (UTF-8 when it declared none)."""
        from carriers.http import decode_body

        return decode_body(self.body, self.content_type)


@dataclass(frozen=True, slots=True)
class ReplyPart:
    """One number's part of a reply, parsed only when asked.

    ``source`` is the part's exact text when the adapter can isolate it (the same text means
    the same result), else None. The poll job stores a digest of it, so a part that comes back
    unchanged is recognised without building its events; ``parse`` gives its result, or raises
    ParseError as ``CarrierAdapter.parse`` would for the whole reply.
    """

    tracking_number: str
    source: str | None
    parse: Callable[[], TrackingResult]


def _given(result: TrackingResult) -> TrackingResult:
    return result


def parsed_parts(results: Sequence[TrackingResult]) -> list[ReplyPart]:
    """Parts for results already parsed: nothing to skip, no source to compare."""
    return [ReplyPart(r.tracking_number, None, partial(_given, r)) for r in results]


@dataclass(frozen=True, slots=True)
class PushReceiver:
    """Where and how an adapter takes pushes (webhooks) from its service.

    The webhook server answers POSTs on ``path``: ``verify(body, headers, secret)`` must be True
    (else 401 and nothing is read; ``headers`` look up case-insensitively), then ``parse(body)``
    turns the body into results recorded like a poll's. Both are pure functions.
    """

    path: str
    verify: Callable[[bytes, Mapping[str, str], str], bool]
    parse: Callable[[bytes], list[TrackingResult]]


@dataclass(frozen=True, slots=True)
class ParcelInfo:
    """What we know of a number before asking about it. Aggregators create trackings with it
    (courier, order reference, destination); the buyer's email and phone are never part of it."""

    tracking_number: str
    #: the carrier name the shipment is stored under (``[carriers.NAME]`` or a detected name)
    carrier: str = ""
    order_reference: str | None = None
    #: ISO 3166 alpha-2
    destination_country: str | None = None
    origin_country: str | None = None


class CarrierAdapter(ABC):
    """Base class of all carrier adapters; subclasses are registered as entry points."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    #: how many tracking numbers one request may carry
    max_numbers_per_request: ClassVar[int] = 1
    #: sustained request rate the carrier tolerates
    requests_per_second: ClassVar[float] = 5.0
    #: requests in flight at once
    max_concurrency: ClassVar[int] = 4
    #: public tracking page for buyers, with ``{number}`` in it
    tracking_url_template: ClassVar[str | None] = None
    #: settings without which every call fails (``api_key``, ``client_id``, ...); checked by
    #: ``check-config`` and before ``run`` starts
    required_settings: ClassVar[tuple[str, ...]] = ()
    #: the webhook this carrier's service pushes to, when it pushes
    push_receiver: ClassVar[PushReceiver | None] = None

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        self.settings = settings or CarrierSettings()

    @abstractmethod
    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """Ask the carrier about ``numbers`` (at most ``max_numbers_per_request``).

        Raises a ``CarrierError`` subclass for transport failures and HTTP error statuses.
        """

    async def fetch_parcels(
        self, client: httpx.AsyncClient, parcels: Sequence[ParcelInfo]
    ) -> CarrierReply:
        """``fetch`` with what we know of each number; aggregators use it to create trackings
        with the courier, order reference and destination. Others need only the numbers."""
        return await self.fetch(client, [parcel.tracking_number for parcel in parcels])

    @abstractmethod
    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """Turn a reply into one result per tracking number it mentions. Pure; raises ParseError."""

    def reply_parts(self, reply: CarrierReply) -> list[ReplyPart]:
        """The reply split by number, each part parsed on demand (what the poll job calls).

        By default the whole reply is parsed at once and no part has a source. An adapter whose
        replies carry one self-contained part per number (a JSON array of results) gives each
        part's text, so unchanged parts cost no parsing; ``parse`` must give the same results
        and raise the same errors as parsing every part.
        """
        return parsed_parts(self.parse(reply))

    def buyer_facing_name(self) -> str:
        """The carrier's name as buyers know it (a configured adapter may name itself)."""
        return self.display_name

    def tracking_url(self, number: str) -> str | None:
        """The page where a buyer can follow ``number`` themselves."""
        if self.tracking_url_template is None:
            return None
        return self.tracking_url_template.format(number=number)


class ParcelAdapter(CarrierAdapter):
    """An adapter that asks with what we know of each parcel: the aggregators create their
    trackings with the courier, order reference and destination. Asked with numbers alone, it
    knows only the numbers."""

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        return await self.fetch_parcels(client, [ParcelInfo(number) for number in numbers])

    @abstractmethod
    async def fetch_parcels(
        self, client: httpx.AsyncClient, parcels: Sequence[ParcelInfo]
    ) -> CarrierReply:
        """Ask the carrier about ``parcels`` (at most ``max_numbers_per_request``)."""
