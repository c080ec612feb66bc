"""The journey table (tests/journeys/journeys.toml): loading it, proving its claims in a notice's
text in any language, and writing docs/journeys.md from it.

    .venv/bin/python -m tests.journeys.spec --write     # regenerate docs/journeys.md
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from carriers.sandbox.journeys import load_journeys
from notices.strings import Catalog

HERE = Path(__file__).resolve().parent
TABLE = HERE / "journeys.toml"
DOC = HERE.parents[1] / "docs" / "journeys.md"
_FIELD = re.compile(r"\{[a-z_]+\}")
#: a literal chunk shorter than this proves nothing (it could be part of anything)
MIN_CHUNK = 12


@dataclass(frozen=True)
class Expected:
    """One email a journey must produce."""

    kind: str
    situation: str | None
    days: tuple[float, float]
    must: frozenset[str] = field(default_factory=frozenset)
    never: frozenset[str] = field(default_factory=frozenset)

    @property
    def rule_keys(self) -> tuple[str, ...]:
        return (self.kind, f"{self.kind}/{self.situation}") if self.situation else (self.kind,)


@dataclass(frozen=True)
class Spec:
    """The whole table."""

    claims: dict[str, tuple[tuple[str, ...], str]]
    journeys: dict[str, tuple[Expected, ...]]


@cache
def load() -> Spec:
    data = tomllib.loads(TABLE.read_text(encoding="utf-8"))
    claims = {name: (tuple(c["keys"]), str(c["means"])) for name, c in data["claims"].items()}
    rules = data.get("rules", {})
    journeys: dict[str, tuple[Expected, ...]] = {}
    for name, journey in data["journeys"].items():
        notices = []
        for item in journey["notices"]:
            situation = item.get("situation")
            must, never = set(item.get("must", ())), set(item.get("never", ()))
            keys = (item["kind"], f"{item['kind']}/{situation}") if situation else (item["kind"],)
            for key in keys:
                must |= set(rules.get(key, {}).get("must", ()))
                never |= set(rules.get(key, {}).get("never", ()))
            unknown = (must | never) - set(claims)
            if unknown:
                raise ValueError(f"{TABLE}: journeys.{name}: unknown claim(s) {sorted(unknown)}")
            low, high = item["days"]
            notices.append(
                Expected(item["kind"], situation, (low, high), frozenset(must), frozenset(never))
            )
        journeys[name] = tuple(notices)
    return Spec(claims, journeys)


def flat(text: str) -> str:
    """Whitespace-collapsed text, so wrapped lines do not hide a sentence."""
    return " ".join(text.split())


@cache
def proofs(lang: str, claim: str) -> tuple[str, ...]:
    """Literal pieces of the claim's strings in ``lang``: finding one in a notice proves the
    claim. Each piece is the longest part of its template that no other string of the language
    contains, so a shared opening ("Thank you for your patience") never counts."""
    catalog = Catalog()
    table = catalog.language(lang)
    keys, _ = load().claims[claim]
    found = []
    for key in keys:
        others = [flat(v) for k, v in table.items() if k not in keys]
        chunks = sorted(
            (flat(c).strip(" .,:;") for c in _FIELD.split(table[key])), key=len, reverse=True
        )
        unique = [c for c in chunks if len(c) >= MIN_CHUNK and not any(c in o for o in others)]
        if not unique:
            raise ValueError(f"{lang}: no distinctive wording in {key!r} to prove {claim!r}")
        found.append(unique[0])
    return tuple(found)


def makes(text: str, lang: str, claim: str) -> bool:
    """Whether a notice's text makes ``claim`` in ``lang``."""
    body = flat(text)
    return any(piece in body for piece in proofs(lang, claim))


def render_doc() -> str:
    spec = load()
    journeys = load_journeys()
    lines = [
        "# Journeys: what a buyer is told, and what a notice must never claim",
        "",
        "Generated from `tests/journeys/journeys.toml` by",
        "`.venv/bin/python -m tests.journeys.spec --write`. `tests/journeys/test_journeys.py`",
        "runs every journey through the real daemon (sandbox carrier over loopback HTTP, a",
        "loopback SMTP server, simulated time) in every buyer language and checks each email's",
        "kind, situation, day and claims. Days count from the label.",
        "",
        "## Claims",
        "",
        "| claim | means |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {means} |" for name, (_, means) in spec.claims.items()]
    for name, notices in spec.journeys.items():
        journey = journeys[name]
        lines += [
            "",
            f"## {name}",
            "",
            f"{journey.description} ({journey.origin} to {journey.destination}).",
            "",
            "| # | notice | day | must say | must never say |",
            "| --- | --- | --- | --- | --- |",
        ]
        for number, item in enumerate(notices, start=1):
            kind = item.kind + (f" ({item.situation})" if item.situation else "")
            low, high = item.days
            must = ", ".join(f"`{c}`" for c in sorted(item.must)) or "-"
            never = ", ".join(f"`{c}`" for c in sorted(item.never)) or "-"
            lines.append(f"| {number} | {kind} | {low:g} to {high:g} | {must} | {never} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOC.write_text(render_doc(), encoding="utf-8")
        print(DOC)
    else:
        sys.stdout.write(render_doc())
