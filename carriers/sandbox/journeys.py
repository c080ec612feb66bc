"""Scripted parcel journeys of the sandbox carrier, loaded from TOML data and validated.

A journey is a list of steps, each ``after`` a duration from the moment the shipment was
registered with the sandbox. The service shows a step once ``registered_at + after <= now``, so an
accelerated clock plays a 60-day journey in seconds. Sellers and testers add journeys by editing
``journeys.toml`` (or passing their own file); nothing about a journey lives in code.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from tracker.durations import parse_duration
from tracker.errors import ConfigError

#: the journey data shipped with the package
DEFAULT_JOURNEYS_FILE = "journeys.toml"

_NUMBER = re.compile(r"SB([A-Z]{2})\d+")

Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class _StepModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after: timedelta
    reported: timedelta | None = None
    text: str = Field(min_length=1)
    code: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    location: str | None = None
    country: Country | None = None

    @field_validator("after", "reported", mode="before")
    @classmethod
    def _after(cls, value: object) -> timedelta | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be a duration string such as '36h' or '3d12h'")
        return parse_duration(value)

    @field_validator("reported")
    @classmethod
    def _not_before_it_happened(
        cls, value: timedelta | None, info: ValidationInfo
    ) -> timedelta | None:
        after = info.data.get("after")
        if value is not None and after is not None and value < after:
            raise ValueError("a step cannot be reported before it happened (reported < after)")
        return value


class _JourneyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: str = Field(pattern=r"^[A-Z]{2}$")
    description: str = ""
    origin: Country
    destination: Country
    expected_delivery: timedelta | None = None
    steps: list[_StepModel] = Field(min_length=1)

    @field_validator("expected_delivery", mode="before")
    @classmethod
    def _expected(cls, value: object) -> timedelta | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be a duration string such as '14d'")
        return parse_duration(value)

    @field_validator("steps")
    @classmethod
    def _in_time_order(cls, steps: list[_StepModel]) -> list[_StepModel]:
        for index in range(1, len(steps)):
            if steps[index].after < steps[index - 1].after:
                raise ValueError(
                    f"step {index} comes before step {index - 1}: keep steps in time order"
                )
        return steps


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    journeys: dict[str, _JourneyModel] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class JourneyStep:
    """One scripted tracking event, ``after`` the shipment's registration; shown from
    ``reported`` on when the carrier reports it late."""

    after: timedelta
    text: str
    code: str | None = None
    location: str | None = None
    country: str | None = None
    reported: timedelta | None = None

    @property
    def shown_after(self) -> timedelta:
        """When the carrier starts showing this step."""
        return self.reported if self.reported is not None else self.after


@dataclass(frozen=True, slots=True)
class Journey:
    """A named script of steps from ``origin`` to ``destination``; ``tag`` marks its numbers."""

    name: str
    tag: str
    origin: str
    destination: str
    steps: tuple[JourneyStep, ...]
    description: str = ""
    expected_delivery: timedelta | None = None

    def visible_steps(
        self, registered_at: datetime, now: datetime
    ) -> list[tuple[datetime, JourneyStep]]:
        """The steps that have happened by ``now``, each with its time, oldest first."""
        return [
            (registered_at + step.after, step)
            for step in self.steps
            if registered_at + step.shown_after <= now
        ]

    @property
    def duration(self) -> timedelta:
        """Time from registration until the last step is shown."""
        return max(step.shown_after for step in self.steps)


def _format_location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _to_config_error(source: str, error: ValidationError) -> ConfigError:
    problems = [f"{_format_location(e['loc'])}: {e['msg']}" for e in error.errors()]
    return ConfigError(f"{source}: " + "; ".join(problems))


def parse_journeys(text: str, source: str = DEFAULT_JOURNEYS_FILE) -> dict[str, Journey]:
    """Validate journey TOML text; ``source`` names the file in the ConfigError messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        model = _FileModel.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(source, exc) from exc
    journeys = {name: _journey(name, m) for name, m in model.journeys.items()}
    _check_unique_tags(source, journeys)
    return journeys


def _journey(name: str, model: _JourneyModel) -> Journey:
    steps = tuple(
        JourneyStep(
            after=s.after,
            text=s.text,
            code=s.code,
            location=s.location,
            country=s.country,
            reported=s.reported,
        )
        for s in model.steps
    )
    return Journey(
        name=name,
        tag=model.tag,
        origin=model.origin,
        destination=model.destination,
        steps=steps,
        description=model.description,
        expected_delivery=model.expected_delivery,
    )


def _check_unique_tags(source: str, journeys: Mapping[str, Journey]) -> None:
    seen: dict[str, str] = {}
    for name, journey in journeys.items():
        if journey.tag in seen:
            raise ConfigError(
                f"{source}: journeys.{name}.tag: {journey.tag!r} is already used by "
                f"journeys.{seen[journey.tag]}"
            )
        seen[journey.tag] = name


def load_journeys(path: Path | str | None = None) -> dict[str, Journey]:
    """Journeys from ``path``, or the ones shipped with the package when ``path`` is None."""
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_JOURNEYS_FILE).read_text("utf-8")
        return parse_journeys(text, DEFAULT_JOURNEYS_FILE)
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read journeys file: {exc.strerror}") from exc
    return parse_journeys(text, str(path))


def sandbox_number(journey: Journey, serial: int) -> str:
    """A tracking number that the sandbox maps back to ``journey``: ``SB<tag><8 digits>``."""
    if serial < 0:
        raise ValueError("serial must not be negative")
    return f"SB{journey.tag}{serial:08d}"


def journey_for_number(number: str, journeys: Mapping[str, Journey]) -> Journey:
    """The journey a tracking number follows, the same on every run.

    Numbers made by :func:`sandbox_number` name their journey by tag; any other number is
    assigned one by a stable hash, so a stranger's number still gets a repeatable story.
    """
    if not journeys:
        raise ValueError("no journeys to choose from")
    match = _NUMBER.fullmatch(number.strip().upper())
    if match:
        for journey in journeys.values():
            if journey.tag == match.group(1):
                return journey
    names = sorted(journeys)
    digest = hashlib.blake2b(number.strip().upper().encode(), digest_size=8).digest()
    return journeys[names[int.from_bytes(digest, "big") % len(names)]]
