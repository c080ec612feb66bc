"""Normalization: every raw carrier event becomes a canonical status and detail (DESIGN.md).

Rules are data: ``tracker/rules/*.toml`` ship with the package, each carrier's event codes ship
beside its adapter (``<module>_codes.toml``), and ops add or override rules in their own TOML
files (format in ``config/rules.example.toml``).

Modules by role: ``folding`` (case, accents, language hints), ``pattern`` (what a phrase regex
requires), ``scans`` (how common words are) and ``phrase_index`` (finding candidate phrases
fast), ``codes`` (code maps), ``rules`` (the rule vocabulary), ``loader`` (rule files),
``classifier`` (``Normalizer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tracker.normalize.classifier import DEFAULT_CACHE_SIZE, Normalizer
from tracker.normalize.folding import TEXT_LANGUAGES, fold
from tracker.normalize.loader import load_builtin_rules, merge_ops_file
from tracker.normalize.rules import VALID_DETAILS, RuleSet, TextRule

__all__ = [
    "TEXT_LANGUAGES",
    "VALID_DETAILS",
    "Normalizer",
    "RuleSet",
    "TextRule",
    "fold",
    "load_normalizer",
    "load_rules",
]


def load_normalizer(
    extra_rule_files: Sequence[Path] = (), *, cache_size: int = DEFAULT_CACHE_SIZE
) -> Normalizer:
    """Built-in rules plus ops rule files (later files win); ConfigError if one is broken.

    ``cache_size`` bounds the memo of recent (carrier, code, text, country); 0 turns it off.
    """
    rules, ops_ids = load_rules(extra_rule_files)
    return Normalizer(rules, ops_ids, cache_size=cache_size)


def load_rules(extra_rule_files: Sequence[Path] = ()) -> tuple[RuleSet, list[str]]:
    """Built-in rules with the ops rule files merged in (later files win), and the ids of the
    ops' rules (they take priority); ConfigError if a file is broken."""
    rules = load_builtin_rules()
    ops_ids: list[str] = []
    for path in extra_rule_files:
        ops_ids.extend(merge_ops_file(rules, Path(path)))
    return rules, ops_ids
