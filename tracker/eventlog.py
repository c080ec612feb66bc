"""Structured event log: JSON lines by default, readable columns on a terminal.

Event names are stable (``poll.succeeded``, ``notice.sent``...) because ops grep and alert on
them; buyer email addresses are redacted unless ops turn that off.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, TextIO

import structlog

if TYPE_CHECKING:
    from tracker.store.shipments import ClaimedShipment

#: an address: a local part of anything RFC 5322/6531 allows outside quotes (``bob~``,
#: ``maria#smith``, ``маша``), then ``@`` and a domain
_EMAIL = re.compile(r"(?<![^\s<>()\[\],;:\"'`=/])([^\s<>()\[\],;:\"@/=]+)@([\w-]+(?:\.[\w-]+)*)")
#: the local part of our own Message-IDs (``notices.message.message_id_for``): not an address
_MESSAGE_ID_LOCAL = re.compile(r"[0-9a-f]{32}\.notice")
#: credentials in a URL: ``scheme://user:password@`` or ``scheme://token@``
_URL_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)([^\s/?#]*)@", re.IGNORECASE)
#: a quoted local part: ``"bob smith"@example.com``
_QUOTED_EMAIL = re.compile(r'"([^"\r\n]+)"@([\w-]+(?:\.[\w-]+)*)')
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def redact_email(text: str) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com``; our Message-IDs are left whole."""
    unquoted = _QUOTED_EMAIL.sub(lambda m: f'"{m.group(1)[0]}***"@{m.group(2)}', text)
    return _EMAIL.sub(_hide_local_part, unquoted)


def _hide_local_part(match: re.Match[str]) -> str:
    local, domain = match.groups()
    if local == "***" or _MESSAGE_ID_LOCAL.fullmatch(local):  # hidden already, or not an address
        return match.group(0)
    return f"{local[0]}***@{domain}"


def redact_secrets(text: str) -> str:
    """Credentials in URLs hidden: ``postgresql://app:pw@db/x`` -> ``postgresql://app:***@db/x``,
    ``https://token@hooks.example`` -> ``https://***@hooks.example``. Always applied to error
    text that is stored or printed, whatever the logging's email redaction is set to."""
    return _URL_USERINFO.sub(_hide_password, text) if "@" in text else text


def _hide_password(match: re.Match[str]) -> str:
    scheme, userinfo = match.groups()
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}{user}:***@" if colon else f"{scheme}***@"


def _redact_text(text: str) -> str:
    """URL credentials, then emails, hidden: how every logged string with an "@" is redacted."""
    return redact_email(redact_secrets(text))


def redact_value(value: Any) -> Any:
    """Redact URL credentials and emails in strings, also nested in dicts, lists and tuples."""
    if isinstance(value, str):
        return _redact_text(value) if "@" in value else value
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def redact_secrets_in(value: Any) -> Any:
    """:func:`redact_secrets` over strings, also nested in dicts, lists and tuples."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: redact_secrets_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_secrets_in(v) for v in value)
    return value


#: values that never hold an address: most of a line's values, passed over without a call
_PLAIN_TYPES = frozenset({int, float, bool, type(None)})


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        kind = type(value)
        if kind is str:  # redact_value's first case, inline: a line is mostly plain text
            if "@" in value:
                event[key] = _redact_text(value)
        elif kind not in _PLAIN_TYPES:
            event[key] = redact_value(value)
    return event


def _redact_urls(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event.items():
        event[key] = redact_secrets_in(value)
    return event


def _json_default(value: Any) -> Any:
    """What a line's value that JSON has no type for becomes: its ``__structlog__()`` if it
    has one, else its ``repr``, as structlog's own JSON renderer does."""
    to_log = getattr(value, "__structlog__", None)
    return to_log() if callable(to_log) else repr(value)


#: built once: ``json.dumps`` with arguments builds a ``JSONEncoder`` for every call, a fifth
#: of rendering a line (logged once per shipment with news, at info)
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default)


def _encode_json(event: Any, **_unused: Any) -> str:
    """A line as JSON: ``json.dumps(event, ensure_ascii=False)`` with ``_json_default``
    (structlog passes its own ``default``, which this encoder's replaces)."""
    return _LINE_ENCODER.encode(event)


def configure_logging(
    fmt: str = "auto", level: str = "info", *, redact: bool = True, stream: TextIO | None = None
) -> None:
    """Set up structlog once per process; ``fmt`` is auto, json or console."""
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks are rendered first so that emails in exception messages are redacted too;
    # passwords in URLs are hidden even when ops keep emails readable.
    processors.append(structlog.processors.format_exc_info)
    processors.append(_redact if redact else _redact_urls)
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer(_encode_json)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(**bound: Any) -> structlog.typing.FilteringBoundLogger:
    """A logger with ``bound`` context on every line."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("tracker")
    return logger.bind(**bound) if bound else logger


def shipment_logger(item: ClaimedShipment) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to the shipment a job is working on."""
    return get_logger(
        shipment_id=item.id, carrier=item.carrier, tracking_number=item.tracking_number
    )
