"""Structured event log: JSON lines by default, readable columns on a terminal.

Event names are stable (``poll.succeeded``, ``notice.sent``...) because ops grep and alert on
them; buyer email addresses are redacted unless ops turn that off.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, TextIO

import structlog

if TYPE_CHECKING:
    from tracker.store.shipments import ClaimedShipment

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def redact_email(text: str) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com``."""
    return _EMAIL.sub(r"\1***@\2", text)


def redact_value(value: Any) -> Any:
    """Redact emails in strings, and in strings nested in dicts, lists and tuples."""
    if isinstance(value, str):
        return redact_email(value) if "@" in value else value
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        event[key] = redact_value(value)
    return event


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
    # Tracebacks are rendered first so that emails in exception messages are redacted too.
    processors.append(structlog.processors.format_exc_info)
    if redact:
        processors.append(_redact)
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
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
