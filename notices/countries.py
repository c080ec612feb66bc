"""Country facts notices need: the buyer's likely language and the national post's tracking page.

Both come from data files in ``notices/data/`` so sellers and ops can extend them without code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

from notices.languages import resolve, supported_languages
from tracker.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class NationalPost:
    """A country's postal operator and its public tracking page.

    ``url_template`` holds ``{number}`` where the operator links straight to one item; without it,
    it is the operator's search page and the buyer types the number in.
    """

    country: str
    name: str
    url_template: str

    @property
    def deep_link(self) -> bool:
        """True when the page opens on the parcel itself, not on a search form."""
        return "{number}" in self.url_template

    def url_for(self, tracking_number: str) -> str:
        """The operator's tracking page with the number filled in, URL-encoded."""
        return self.url_template.replace("{number}", quote(tracking_number.strip(), safe=""))


def read_toml(path: Path, what: str = "TOML") -> dict[str, object]:
    """A TOML data file as a dict; ConfigError naming the file (and ``what`` it should hold)."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from exc


def load_national_posts(path: Path | None = None) -> dict[str, NationalPost]:
    """Read a national posts table (the built-in one unless ``path`` is given)."""
    source = path or DATA_DIR / "national_posts.toml"
    table: dict[str, NationalPost] = {}
    for country, row in read_toml(source).items():
        if not isinstance(row, dict):
            raise ConfigError(f"{source}: [{country}] must be a table with name and url")
        name, url = row.get("name"), row.get("url")
        if not isinstance(name, str) or not isinstance(url, str) or not name or not url:
            raise ConfigError(f"{source}: [{country}] needs a name and a url")
        if "{" in url.replace("{number}", ""):
            raise ConfigError(f"{source}: [{country}].url: the only placeholder is {{number}}")
        if not url.startswith("https://"):
            raise ConfigError(f"{source}: [{country}].url must start with https://")
        table[country.upper()] = NationalPost(country.upper(), name, url)
    return table


@cache
def _builtin_posts() -> dict[str, NationalPost]:
    return load_national_posts()


@cache
def _country_languages() -> dict[str, str]:
    source = DATA_DIR / "country_languages.toml"
    languages = read_toml(source).get("languages")
    if not isinstance(languages, dict):
        raise ConfigError(f"{source}: missing [languages] table")
    return {str(k).upper(): str(v).lower() for k, v in languages.items()}


def national_post(country: str | None) -> NationalPost | None:
    """The built-in national post of ``country`` (ISO2), or None when the table has no row."""
    if not country:
        return None
    return _builtin_posts().get(country.upper())


def national_post_url(country: str, tracking_number: str) -> str | None:
    """The destination national post's tracking page for this number, or None if unknown."""
    post = national_post(country)
    return post.url_for(tracking_number) if post else None


def choose_language(
    order_language: str | None, destination_country: str | None, default: str
) -> str:
    """The order's language if we write it, else the destination's main language, else default.

    Each is resolved to its most specific variant (``notices.languages.resolve``): ``pt`` for an
    address in Portugal is ``pt-PT``, ``es`` for Mexico ``es-419``; ``pt-BR`` stays Brazilian
    wherever the parcel goes.
    """
    country = (destination_country or "").upper()
    for candidate in (order_language, _country_languages().get(country)):
        chosen = resolve(candidate, country)
        if chosen is not None:
            return chosen
    fallback = resolve(default)
    if fallback is None:
        raise ConfigError(
            f"default_language {default!r} is not one of {', '.join(supported_languages())}"
        )
    return fallback
