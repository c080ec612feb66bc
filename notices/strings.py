"""Translated sentences: one TOML file per language (``notices/locales``), plus seller overrides.

Keys are dotted paths (``shipped.subject``); values are ``str.format`` templates whose fields are
filled from the notice (``{order}``, ``{store}``, ...). Every base language must define exactly the
keys English defines, so a missing translation is a load-time ``ConfigError``, never a half-English
email. A regional variant (``pt-PT``) defines only the keys it words differently; the rest come from
its base language (see ``notices.languages``). The ``[sample]`` table of a locale file is not a
string: it is the sample buyer ``tracker preview`` writes to.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path

from notices.countries import read_toml
from notices.languages import LOCALES_DIR, REFERENCE, fallback_chain, supported_languages
from tracker.errors import ConfigError

SAMPLE = "sample"
"""The locale-file table describing the language's sample buyer, not part of the strings."""


def flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """Nested TOML tables to dotted keys: ``{"a": {"b": "x"}}`` -> ``{"a.b": "x"}``."""
    flat: dict[str, str] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + "."))
        elif isinstance(value, str):
            flat[dotted] = value
        else:
            raise ConfigError(f"string {dotted!r} must be text, not {type(value).__name__}")
    return flat


def _fields(template: str, where: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"{where}: broken placeholder: {exc}") from exc


def _locale_file(tag: str) -> dict[str, object]:
    return read_toml(LOCALES_DIR / f"{tag}.toml", "strings")


def sample_buyer(tag: str) -> dict[str, str]:
    """The ``[sample]`` table of ``tag`` (or of the language it falls back to)."""
    for candidate in fallback_chain(tag):
        table = _locale_file(candidate).get(SAMPLE)
        if isinstance(table, Mapping):
            return {str(k): str(v) for k, v in table.items()}
    raise ConfigError(f"locales/{tag}.toml: no [{SAMPLE}] table for the preview's sample buyer")


class Catalog:
    """All languages' strings, checked for completeness and with seller overrides applied.

    A lookup walks the language's fallback chain (``pt-PT`` then ``pt``); at each step the
    seller's override of that tag comes before the packaged file.
    """

    def __init__(self, overrides_file: Path | None = None) -> None:
        self._files: dict[str, dict[str, str]] = {}
        for tag in supported_languages():
            strings = {k: v for k, v in _locale_file(tag).items() if k != SAMPLE}
            self._files[tag] = flatten(strings)
        reference = self._files[REFERENCE]
        for tag, table in self._files.items():
            missing = [] if "-" in tag else sorted(set(reference) - set(table))
            extra = sorted(set(table) - set(reference))
            if missing or extra:
                raise ConfigError(f"locales/{tag}.toml: missing {missing}, unknown {extra}")
        self._overrides: dict[str, dict[str, str]] = {tag: {} for tag in self._files}
        if overrides_file is not None:
            self._apply_overrides(overrides_file)
        for tag in self._files:
            for key, template in self.language(tag).items():
                _fields(template, f"{tag}:{key}")

    def _apply_overrides(self, path: Path) -> None:
        for lang, table in read_toml(path, "strings").items():
            targets = tuple(self._files) if lang == "all" else (lang,)
            if lang != "all" and lang not in self._files:
                raise ConfigError(f"{path}: [{lang}] is not a supported language or 'all'")
            if not isinstance(table, Mapping):
                raise ConfigError(f"{path}: [{lang}] must be a table of strings")
            for key, value in flatten(table).items():
                if key not in self._files[REFERENCE]:
                    raise ConfigError(f"{path}: [{lang}] {key!r} is not a known string key")
                for target in targets:
                    self._overrides[target][key] = value

    def raw(self, lang: str, key: str) -> str:
        """The unformatted template of ``key`` in ``lang``; ConfigError if there is none."""
        if lang not in self._files:
            raise ConfigError(f"no translation file for language {lang!r}")
        for tag in fallback_chain(lang):
            for layer in (self._overrides[tag], self._files[tag]):
                if key in layer:
                    return layer[key]
        raise ConfigError(f"no string {key!r} for language {lang!r}")

    def format(self, lang: str, key: str, values: Mapping[str, str]) -> str:
        """``key`` in ``lang`` with its fields filled; ConfigError naming an unknown field."""
        template = self.raw(lang, key)
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"{lang}:{key}: unknown placeholder {exc}") from exc

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with a locale file, English first."""
        return tuple(self._files)

    def keys(self) -> list[str]:
        """Every string key, from the English reference."""
        return sorted(self._files[REFERENCE])

    def language(self, lang: str) -> Mapping[str, str]:
        """All templates of one language, variants resolved (for the style tests)."""
        return {key: self.raw(lang, key) for key in self.keys()}

    def own_keys(self, lang: str) -> set[str]:
        """The keys ``lang``'s own file words (all keys for a base language)."""
        return set(self._files[lang])
