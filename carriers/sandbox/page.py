"""The sandbox carrier's public tracking page: what a buyer sees at ``/track/{number}``."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any


def render_page(number: str, result: Mapping[str, Any]) -> str:
    """The HTML page for one ``GET /v1/track`` result; every carrier-supplied string is escaped."""
    esc = html.escape
    if not result["found"]:
        body = f"<p>No information is available for {esc(number)}.</p>"
    else:
        rows = "".join(
            f"<tr><td>{esc(e['time'][:16].replace('T', ' '))}</td><td>{esc(e['description'])}</td>"
            f"<td>{esc(e['location'] or '')}</td><td>{esc(e['country'] or '')}</td></tr>"
            for e in result["events"]
        )
        body = (
            f"<p>From {esc(result['origin'])} to {esc(result['destination'])}</p>"
            "<table><tr><th>Time (UTC)</th><th>Event</th><th>Place</th><th>Country</th></tr>"
            f"{rows}</table>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Sandbox Post: {esc(number)}</title></head>"
        f"<body><h1>Sandbox Post tracking: {esc(number)}</h1>{body}</body></html>"
    )
