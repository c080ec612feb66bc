"""Text from outside (carrier replies, orders) made safe to store, print and mail.

Carriers have sent ESC (terminal escape sequences), NUL (which PostgreSQL refuses in text, so
one such event would fail every write of its shipment) and bidirectional overrides (which make
a terminal show text other than what is stored). They are removed where text enters: the
:class:`tracker.model.RawEvent` every adapter builds. What is printed on a terminal is also
escaped for rich, since stored text such as an order reference ``[/bold]`` is not markup.
"""

from __future__ import annotations

import re

#: C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACING = frozenset("\t\n\r\v\f")


def _replace(match: re.Match[str]) -> str:
    return " " if match.group(0) in _SPACING else ""


def without_controls(text: str) -> str:
    """``text`` with control characters removed; tabs and line breaks become spaces."""
    return _CONTROLS.sub(_replace, text) if _CONTROLS.search(text) else text


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a character :func:`without_controls` would remove or replace."""
    return _CONTROLS.search(text) is not None


def for_terminal(text: str | None) -> str:
    """Stored text ready for a rich console: controls removed, markup brackets escaped."""
    from rich.markup import escape  # imported here: only the CLI's printing needs rich

    return escape(without_controls(text or ""))
