"""The wording of the buyer's tracking page and of the answer confirmation, per language.

``notices/web/<tag>.toml`` beside the notices' own locale files: each base language (``pt``)
has exactly the keys of ``en.toml`` (checked on load, so a missing translation fails the tests,
not a buyer's page); a regional variant (``pt-PT``, ``es-419``) may hold just the sentences that
differ and falls back to its base key by key, as the notices do (``notices.languages``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from notices.countries import read_toml
from notices.languages import REFERENCE, base_languages, fallback_chain, supported_languages
from notices.strings import flatten
from tracker.errors import ConfigError

WEB_DIR = Path(__file__).resolve().parent / "web"
_FIELD = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class PageWords:
    """One language's page strings; ``say`` fills in ``{fields}``."""

    lang: str
    strings: dict[str, str]

    def say(self, key: str, **fields: str) -> str:
        """The string for ``key`` with its fields filled in (values are never re-read as
        templates, so a store name with braces stays as written)."""
        template = self.strings[key]
        return _FIELD.sub(lambda m: fields.get(m.group(1), m.group(0)), template)


def _read(tag: str) -> dict[str, str]:
    path = WEB_DIR / f"{tag}.toml"
    if not path.is_file():
        if "-" in tag:
            return {}  # a variant that words the page exactly as its base language does
        raise ConfigError(f"{path}: language {tag!r} has no page wording")
    return flatten(read_toml(path, "page strings"))


@cache
def _tables() -> dict[str, dict[str, str]]:
    tables = {tag: _read(tag) for tag in supported_languages()}
    reference = tables[REFERENCE]
    for tag, table in tables.items():
        missing = sorted(set(reference) - set(table)) if tag in base_languages() else []
        extra = sorted(set(table) - set(reference))
        if missing or extra:
            raise ConfigError(f"notices/web/{tag}.toml: missing {missing}, unknown {extra}")
        for key, text in table.items():
            if set(_FIELD.findall(text)) - set(_FIELD.findall(reference[key])):
                raise ConfigError(f"notices/web/{tag}.toml: {key} uses a field en.toml does not")
    return tables


def page_words(tag: str) -> PageWords:
    """The strings of ``tag`` (its variant's sentences over its base language's), English for
    a language we do not write."""
    chain = fallback_chain(tag) or (REFERENCE,)
    strings: dict[str, str] = {}
    for step in reversed(chain):
        strings.update(_tables()[step])
    return PageWords(chain[0], strings)
