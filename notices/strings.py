"""Translated sentences: one TOML file per language, plus the seller's overrides.

Keys are dotted paths (``shipped.subject``); values are ``str.format`` templates whose fields are
filled from the notice (``{order}``, ``{store}``, ...). Every language must define exactly the keys
English defines, so a missing translation is a load-time ``ConfigError``, never a half-English
email.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path

from notices.countries import SUPPORTED_LANGUAGES, read_toml
from tracker.errors import ConfigError

LOCALES_DIR = Path(__file__).resolve().parent / "locales"


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


class Catalog:
    """All languages' strings, checked for completeness and with seller overrides applied."""

    def __init__(self, overrides_file: Path | None = None) -> None:
        self._strings = {
            lang: flatten(read_toml(LOCALES_DIR / f"{lang}.toml", "strings"))
            for lang in SUPPORTED_LANGUAGES
            if (LOCALES_DIR / f"{lang}.toml").is_file()
        }
        if "en" not in self._strings:
            raise ConfigError(f"{LOCALES_DIR}/en.toml: the reference language is missing")
        reference = self._strings["en"]
        for lang, table in self._strings.items():
            missing = sorted(set(reference) - set(table))
            extra = sorted(set(table) - set(reference))
            if missing or extra:
                raise ConfigError(f"locales/{lang}.toml: missing {missing}, unknown {extra}")
        if overrides_file is not None:
            self._apply_overrides(overrides_file)
        for lang, table in self._strings.items():
            for key, template in table.items():
                _fields(template, f"{lang}:{key}")

    def _apply_overrides(self, path: Path) -> None:
        for lang, table in read_toml(path, "strings").items():
            targets = tuple(self._strings) if lang == "all" else (lang,)
            if lang != "all" and lang not in self._strings:
                raise ConfigError(f"{path}: [{lang}] is not a supported language or 'all'")
            if not isinstance(table, Mapping):
                raise ConfigError(f"{path}: [{lang}] must be a table of strings")
            for key, value in flatten(table).items():
                if key not in self._strings["en"]:
                    raise ConfigError(f"{path}: [{lang}] {key!r} is not a known string key")
                for target in targets:
                    self._strings[target][key] = value

    def raw(self, lang: str, key: str) -> str:
        """The unformatted template of ``key`` in ``lang``; ConfigError if there is none."""
        try:
            return self._strings[lang][key]
        except KeyError:
            if lang not in self._strings:
                raise ConfigError(f"no translation file for language {lang!r}") from None
            raise ConfigError(f"no string {key!r} for language {lang!r}") from None

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
        return tuple(self._strings)

    def keys(self) -> list[str]:
        """Every string key, from the English reference."""
        return sorted(self._strings["en"])

    def language(self, lang: str) -> Mapping[str, str]:
        """All templates of one language (for the style test's untranslated-text check)."""
        return dict(self._strings[lang])
