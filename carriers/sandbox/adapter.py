"""The adapter for the sandbox carrier: batched GET /v1/track, JSON replies, UPU event codes.

``fetch`` does HTTP only and maps every transport failure and error status onto the carrier
error tree; ``parse`` is a pure function of the recorded reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timezone
from functools import partial
from typing import Annotated, Any, ClassVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, ValidationError

from carriers.base import CarrierAdapter, CarrierReply, ReplyPart, parsed_parts
from carriers.http import send_for_reply, url_with_query
from carriers.jsonparts import json_array_items
from tracker.errors import CarrierError, ParseError
from tracker.model import RawEvent, TrackingResult

API_KEY_HEADER = "X-API-Key"
#: numbers ``urllib.parse.quote_plus`` leaves as they are, joined by commas
_PLAIN_NUMBERS = re.compile(r"[A-Za-z0-9_.~-]*(?:,[A-Za-z0-9_.~-]*)*")


def _stdlib_tz(value: datetime) -> datetime:
    """Use a stdlib tzinfo, not pydantic's own, so RawEvents compare and pickle plainly."""
    offset = value.utcoffset()
    assert offset is not None  # AwareDatetime guarantees it
    return value.replace(tzinfo=timezone(offset)) if offset else value.replace(tzinfo=UTC)


Aware = Annotated[AwareDatetime, AfterValidator(_stdlib_tz)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    time: Aware
    description: str
    code: str | None = None
    location: str | None = None
    country: str | None = None


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tracking_number: str
    found: bool
    origin: str | None = None
    destination: str | None = None
    expected_delivery: Aware | None = None
    events: list[_Event] = []


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    results: list[_Result]


class SandboxAdapter(CarrierAdapter):
    """Talks to the built-in sandbox carrier (``carriers.sandbox.service``) at settings.base_url."""

    name: ClassVar[str] = "sandbox"
    display_name: ClassVar[str] = "Sandbox Post"
    max_numbers_per_request: ClassVar[int] = 40
    requests_per_second: ClassVar[float] = 20.0
    max_concurrency: ClassVar[int] = 4
    #: ``{base}`` is settings.base_url, known only at run time; see :meth:`tracking_url`
    tracking_url_template: ClassVar[str | None] = "{base}/track/{number}"

    def tracking_url(self, number: str) -> str | None:
        """The sandbox's public page for ``number``, or None when no base_url is configured."""
        if not self.settings.base_url or self.tracking_url_template is None:
            return None
        return self.tracking_url_template.format(
            base=self.settings.base_url.rstrip("/"), number=quote(number, safe="")
        )

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """GET /v1/track for up to 40 numbers; HTTP and transport errors become CarrierErrors."""
        if not self.settings.base_url:
            raise CarrierError(f"{self.name}: no base_url configured", carrier=self.name)
        if not numbers or len(numbers) > self.max_numbers_per_request:
            raise ValueError(f"ask about 1 to {self.max_numbers_per_request} numbers at a time")
        # The query is encoded here, once: httpx checks every character of each URL it parses
        # in Python, and params= would have it parse the query twice (bench/pipeline.py).
        query = numbers_query(numbers)
        url = url_with_query(f"{self.settings.base_url.rstrip('/')}/v1/track", query)
        headers = {API_KEY_HEADER: self.settings.api_key} if self.settings.api_key else {}
        request = client.build_request(
            "GET", url, headers=headers, timeout=self.settings.timeout_seconds
        )
        try:
            reply = await send_for_reply(client, request, carrier=self.name, numbers=tuple(numbers))
        except httpx.DecodingError as exc:
            raise ParseError(f"{self.name}: undecodable reply: {exc}", carrier=self.name) from exc
        if not 200 <= reply.status_code < 300:
            raise CarrierError(
                f"{self.name}: unexpected HTTP {reply.status_code}: {reply.body[:200]!r}",
                carrier=self.name,
            )
        return reply

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One TrackingResult per number in the reply. Pure; ParseError keeps the body."""
        self._check_status(reply)
        try:
            data = json.loads(reply.text())
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"{self.name}: reply is not JSON: {exc}", body=reply.body, carrier=self.name
            ) from exc
        try:
            # The common, well-formed reply is read straight from the dicts; anything the fast
            # reader is unsure of goes through the model, which gives the same result or names
            # the problem.
            return [self._result_from_dict(item) for item in _results(data)]
        except _NotPlain:
            pass
        try:
            parsed = _Reply.model_validate(data)
        except ValidationError as exc:
            raise ParseError(
                f"{self.name}: unexpected reply shape: {_first_problem(exc)}",
                body=reply.body,
                carrier=self.name,
            ) from exc
        return [self._result(item) for item in parsed.results]

    def reply_parts(self, reply: CarrierReply) -> list[ReplyPart]:
        """Each result of the reply with its exact JSON text, read only when asked; a reply
        that is not a plain ``{"results": [...]}`` of objects is parsed whole by ``parse``."""
        self._check_status(reply)
        items = json_array_items(reply.text(), "results")
        if items is None:
            return parsed_parts(self.parse(reply))
        parts = []
        for index, (value, source) in enumerate(items):
            number = value.get("tracking_number") if type(value) is dict else None
            if type(number) is not str:
                return parsed_parts(self.parse(reply))
            parts.append(ReplyPart(number, source, partial(self._part, reply, value, index)))
        return parts

    def _part(self, reply: CarrierReply, item: dict[str, Any], index: int) -> TrackingResult:
        """One part read from its dict; one the fast reader is unsure of is read by parsing
        the whole reply through the model, which gives its result (results keep the reply's
        order) or the same ParseError ``parse`` gives."""
        try:
            return self._result_from_dict(item)
        except _NotPlain:
            return self.parse(reply)[index]

    def _check_status(self, reply: CarrierReply) -> None:
        if not 200 <= reply.status_code < 300:
            raise ParseError(
                f"{self.name}: cannot parse an HTTP {reply.status_code} reply",
                body=reply.body,
                carrier=self.name,
            )

    def _result_from_dict(self, item: Any) -> TrackingResult:
        if type(item) is not dict:
            raise _NotPlain
        number, found = item.get("tracking_number"), item.get("found")
        if type(number) is not str or type(found) is not bool:
            raise _NotPlain
        origin, destination = _text_or_none(item, "origin"), _text_or_none(item, "destination")
        expected = item.get("expected_delivery")
        expected_at = None if expected is None else _aware(expected)
        events = item.get("events", [])
        if type(events) is not list:
            raise _NotPlain
        # Checked as in the model even for a number not found, so both readers agree.
        read = self._event_from_dict
        raw = tuple([read(event) for event in events])
        if not found:
            return TrackingResult(tracking_number=number, not_found=True)
        extra = {k: v for k, v in (("origin", origin), ("destination", destination)) if v}
        return TrackingResult(
            tracking_number=number, events=raw, expected_delivery=expected_at, extra=extra
        )

    def _event_from_dict(self, event: Any) -> RawEvent:
        if type(event) is not dict:
            raise _NotPlain
        get = event.get
        text, code, location, country = (
            get("description"),
            get("code"),
            get("location"),
            get("country"),
        )
        # The checks of _text_or_none, inline: a first poll reads every event of every reply.
        if (
            type(text) is not str
            or (code is not None and type(code) is not str)
            or (location is not None and type(location) is not str)
            or (country is not None and type(country) is not str)
        ):
            raise _NotPlain
        return RawEvent(_aware(get("time")), text, code, location, country, self.name)

    def _result(self, item: _Result) -> TrackingResult:
        if not item.found:
            return TrackingResult(tracking_number=item.tracking_number, not_found=True)
        events = tuple(self._event(e) for e in item.events)
        extra = {k: v for k, v in (("origin", item.origin), ("destination", item.destination)) if v}
        return TrackingResult(
            tracking_number=item.tracking_number,
            events=events,
            expected_delivery=item.expected_delivery,
            extra=extra,
        )

    def _event(self, event: _Event) -> RawEvent:
        occurred: datetime = event.time
        return RawEvent(
            occurred_at=occurred,
            text=event.description,
            code=event.code,
            location=event.location,
            country=event.country,
            carrier=self.name,
        )


def numbers_query(numbers: Sequence[str]) -> str:
    """``urlencode({"numbers": ",".join(numbers)})``: numbers of letters and digits read the
    same encoded, so only their commas are escaped, without quoting each character in Python."""
    joined = ",".join(numbers)
    if _PLAIN_NUMBERS.fullmatch(joined):
        return "numbers=" + joined.replace(",", "%2C")
    return urlencode({"numbers": joined})


class _NotPlain(Exception):
    """The fast reader met something only the model can judge."""


def _results(data: Any) -> list[Any]:
    if type(data) is not dict or type(results := data.get("results")) is not list:
        raise _NotPlain
    return results


def _text_or_none(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and type(value) is not str:
        raise _NotPlain
    return value


def _aware(value: Any) -> datetime:
    """An ISO 8601 time with its offset, as the model reads it (stdlib tzinfo, UTC for +00:00);
    anything else is left to the model."""
    if type(value) is not str or len(value) < 20 or value[4] != "-" or value[10] not in "Tt ":
        raise _NotPlain
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _NotPlain from None
    tzinfo = parsed.tzinfo
    if tzinfo is UTC:  # "+00:00" and "Z" are read as UTC itself: no replace (7x the parse)
        return parsed
    offset = parsed.utcoffset()
    if offset is None:
        raise _NotPlain
    return parsed if offset else parsed.replace(tzinfo=UTC)


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
