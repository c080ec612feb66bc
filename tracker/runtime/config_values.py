"""Config values that parse but cannot run: a zero poll interval, a lease shorter than the
request it covers, a sender no relay accepts, a language no locale file writes, a time zone
zoneinfo does not know. ``check_runnable`` (``tracker run`` and ``check-config``) reports them
all at once, each naming its key; the minimums are documented in ``config/tracker.toml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from notices.languages import resolve, supported_languages
from tracker.addresses import domain_problem, split_mailbox
from tracker.config import TrackerConfig
from tracker.durations import format_duration

_NONE = timedelta(0)
_SECOND = timedelta(seconds=1)

#: the shortest value each duration key works with, first matching pattern wins (``*`` stands
#: for any part of the key, e.g. a country in ``thresholds.country.BR.delay_grace``), with why
MINIMUMS: tuple[tuple[str, timedelta, str], ...] = (
    (
        "daemon.*_every",
        timedelta(milliseconds=100),
        "the scheduler would only log skipped runs",
    ),
    ("web.link_ttl", timedelta(days=1), "the links in emails would expire before buyers open them"),
    ("thresholds.*.min_notice_gap", _NONE, ""),
    ("thresholds.*.delay_grace", _NONE, ""),
    ("thresholds.*.pickup_reminder_before", _NONE, ""),
    ("*", _SECOND, "zero or under a second makes every wait, timeout or timer end at once"),
)


def value_problems(config: TrackerConfig) -> list[str]:
    """Every value problem of ``config``, each naming its key."""
    return [
        *duration_problems(config),
        *lease_problems(config),
        *address_problems(config),
        *language_problems(config),
        *timezone_problems(config),
    ]


def _durations(value: object, path: str) -> Iterator[tuple[str, timedelta]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _durations(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _durations(item, f"{path}.{key}")
    elif isinstance(value, timedelta):
        yield path, value


def minimum_for(key: str) -> tuple[timedelta, str]:
    """The shortest value duration ``key`` works with, and why."""
    return next((low, why) for pattern, low, why in MINIMUMS if fnmatchcase(key, pattern))


def _shown(value: timedelta) -> str:
    seconds = value.total_seconds()
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return format_duration(value) if seconds.is_integer() else f"{seconds:g}s"


def duration_problems(config: TrackerConfig) -> list[str]:
    """Durations under their key's minimum (``MINIMUMS``)."""
    problems = []
    for key, value in _durations(config, ""):
        low, why = minimum_for(key)
        if value < low:
            shown = f"{_shown(value)} is too short; use at least {_shown(low)}"
            problems.append(f"{key}: {shown} ({why})")
    return problems


def lease_problems(config: TrackerConfig) -> list[str]:
    """A poll's claim must outlast its request: a lease that ends first loses the results."""
    daemon = config.daemon
    timeouts = {"daemon.http_timeout": daemon.http_timeout} | {
        f"carriers.{name}.timeout": entry.timeout
        for name, entry in config.carriers.items()
        if entry.enabled and entry.timeout is not None
    }
    key, longest = max(timeouts.items(), key=lambda item: item[1])
    if daemon.lease > longest:
        return []
    return [
        f"daemon.lease: {_shown(daemon.lease)} is not longer than {key} ({_shown(longest)}); a "
        "poll still waiting for its carrier would lose its claim and its results"
    ]


def address_problems(config: TrackerConfig) -> list[str]:
    """The sender, reply and seller addresses and the Message-ID domain, by the one rule that
    ``tracker add`` and the message builder use (``tracker.addresses``)."""
    problems = []
    for key, value in (
        ("seller.sender", config.seller.sender),
        ("seller.reply_to", config.seller.reply_to),
        ("refund.notify_seller_email", config.refund.notify_seller_email),
    ):
        if value is not None:
            try:
                split_mailbox(value)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    domain = config.seller.message_id_domain
    if domain is not None and (problem := domain_problem(domain)) is not None:
        problems.append(f"seller.message_id_domain: {problem}")
    return problems


def language_problems(config: TrackerConfig) -> list[str]:
    """``default_language`` and each ``[seller.languages.TAG]`` must be a language we write."""
    known = ", ".join(supported_languages())
    keys = [("seller.default_language", config.seller.default_language)]
    keys += [(f"seller.languages.{tag}", tag) for tag in config.seller.languages]
    return [
        f"{key}: {tag!r} is not a language the notices are written in ({known})"
        for key, tag in keys
        if resolve(tag) is None
    ]


def timezone_problems(config: TrackerConfig) -> list[str]:
    """Each ``[quiet_hours.timezone_by_country]`` entry: an ISO country code and a zone name."""
    problems = []
    for country, zone in config.quiet_hours.timezone_by_country.items():
        key = f"quiet_hours.timezone_by_country.{country}"
        if len(country) != 2 or not country.isalpha() or not country.isupper():
            problems.append(f"{key}: {country!r} must be an ISO 3166 alpha-2 code like 'BR'")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"{key}: {zone!r} is not a time zone name like 'America/Sao_Paulo' (IANA tz)"
            )
    return problems
