"""``tracker detect NUMBER``: which carriers a tracking number may belong to."""

from __future__ import annotations

import click

from carriers.detect import detect as detect_number
from carriers.detect import normalize, validate_number
from tracker.errors import InputError


@click.command("detect")
@click.argument("number")
def detect(number: str) -> None:
    """Print the carriers NUMBER may belong to, most likely first.

    One line per candidate: carrier, format, score, country (UPU S10 only, else "-").
    """
    try:
        validate_number(number)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    candidates = detect_number(number)
    if not candidates:
        raise click.ClickException(
            f"no known tracking-number format matches {normalize(number)!r}; "
            "pass the carrier explicitly or let the aggregator track it"
        )
    for candidate in candidates:
        country = candidate.country or "-"
        click.echo(f"{candidate.carrier}\t{candidate.format}\t{candidate.score:.2f}\t{country}")


commands = [detect]
