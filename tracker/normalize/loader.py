"""Reading rule files (built-in package data, carrier code files, ops files) into a ``RuleSet``.

Every problem becomes a ``ConfigError`` naming the file and the rule or key, so a broken ops file
stops the daemon at start-up with a message ops can act on.

A carrier's event codes ship beside its adapter: the module a ``tracker.carriers`` entry point
names (``carriers.usps:USPSAdapter``) has its codes in ``<module>_codes.toml`` next to it
(``carriers/usps_codes.toml``), or in ``codes.toml`` inside it when the module is a package. The
family is the entry point's name; the file may list other carrier names (``aliases``) that use
it. The files are found without importing the adapters, so classifying stays cheap to start.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError
from tracker.model import Classification, Detail, Status
from tracker.normalize.codes import carrier_key
from tracker.normalize.folding import fold_pattern
from tracker.normalize.rules import VALID_DETAILS, RuleSet, TextRule

_BUILTIN_PACKAGE = "tracker.rules"
#: the entry-point group carrier adapters register in (``carriers.registry.GROUP``)
CARRIER_GROUP = "tracker.carriers"


def load_builtin_rules() -> RuleSet:
    """The shipped rules: ``tracker/rules`` (UPU codes, phrases) and every carrier's own codes.

    Read once per process; each call returns a copy the caller may extend with ops rules.
    """
    return _builtin_rules().copy()


@cache
def _builtin_rules() -> RuleSet:
    rules = RuleSet()
    root = resources.files(_BUILTIN_PACKAGE)
    codes_file = root.joinpath("codes.toml")
    _merge_codes(
        rules, _parse(codes_file.read_text("utf-8"), "tracker/rules/codes.toml"), "codes.toml"
    )
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("text_") and entry.name.endswith(".toml"):
            name = f"tracker/rules/{entry.name}"
            data = _parse(entry.read_text("utf-8"), name)
            rules.text.extend(_builtin_text_rules(data, name))
    merge_carrier_codes(rules, entry_points(group=CARRIER_GROUP))
    return rules


def merge_carrier_codes(rules: RuleSet, points: Iterable[EntryPoint]) -> None:
    """Merge the code file shipped beside each carrier adapter ``points`` name, where there is one.

    The first entry point of a name wins, as in the carrier registry.
    """
    seen: set[str] = set()
    for point in points:
        if point.name in seen:
            continue
        seen.add(point.name)
        found = carrier_codes_file(point)
        if found is None:
            continue
        where = f"{point.name} codes ({point.module.replace('.', '/')}: {found.name})"
        data = _parse(found.read_text("utf-8"), where)
        unknown = set(data) - {"aliases", "codes"}
        if unknown:
            raise ConfigError(f"{where}: unknown top-level key(s) {sorted(unknown)}")
        aliases = data.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigError(f"{where}: aliases must be a list of carrier names")
        family = point.name.casefold()
        carriers = {name: family for name in (family, *aliases)}
        _merge_codes(rules, {"carriers": carriers, family: _table(data, "codes", where)}, where)


def carrier_codes_file(point: EntryPoint) -> Path | None:
    """``<module>_codes.toml`` beside the adapter's module, or ``codes.toml`` in its package.

    Found through the module's import spec, which imports its parent packages but not the
    adapter itself.
    """
    try:
        spec = find_spec(point.module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.has_location or spec.origin is None:
        return None  # not importable: the carrier registry reports that
    origin = Path(spec.origin)
    if spec.submodule_search_locations is not None:
        found = origin.with_name("codes.toml")
    else:
        found = origin.with_name(f"{origin.stem}_codes.toml")
    return found if found.is_file() else None


def merge_ops_file(rules: RuleSet, path: Path) -> list[str]:
    """Merge an ops rule file into ``rules`` (ops replace built-ins); returns its text rule ids."""
    try:
        source = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rule file: {exc.strerror or exc}") from exc
    data = _parse(source, str(path))
    unknown = set(data) - {"carriers", "codes", "text"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}")
    _merge_codes(rules, {"carriers": data.get("carriers", {}), **_table(data, "codes", path)}, path)
    new = list(_ops_text_rules(data.get("text", []), path))
    replaced = {r.rule_id for r in new}
    rules.text[:] = [*new, *(r for r in rules.text if r.rule_id not in replaced)]
    return [r.rule_id for r in new]


#: joins a text rule's id and the place of one of its alternatives: ``text.en.delivered#2``
ALTERNATIVE = "#"


def alternative_ids(rule: TextRule) -> list[str]:
    """The names of ``rule``'s alternatives: its phrases, then its concepts, in file order."""
    count = len(rule.phrases) + len(rule.concepts)
    return [f"{rule.rule_id}{ALTERNATIVE}{place}" for place in range(count)]


def split_alternatives(rules: RuleSet) -> RuleSet:
    """A copy whose text rules hold one phrase or one concept each, named by ``alternative_ids``.

    The order of the alternatives is the order the phrase index tries them in, so the copy
    decides every event as ``rules`` do; only its rule ids say which alternative decided.
    """
    split = rules.copy()
    split.text = [
        replace(rule, rule_id=name, phrases=phrases, concepts=concepts)
        for rule in rules.text
        for name, phrases, concepts in zip(
            alternative_ids(rule),
            [*((p,) for p in rule.phrases), *(() for _ in rule.concepts)],
            [*(() for _ in rule.phrases), *((c,) for c in rule.concepts)],
            strict=True,
        )
    ]
    return split


def without(rules: RuleSet, disabled: Collection[str]) -> RuleSet:
    """A copy of ``rules`` without the rules and alternatives ``disabled`` names.

    Names are text rule ids (``text.en.delivered``), their alternatives
    (``text.en.delivered#2``, see ``alternative_ids``) and code rule ids (``usps.01``). A text
    rule left with no alternative is dropped; the others keep their id and their place.
    """
    if not disabled:
        return rules.copy()
    kept = rules.copy()
    kept.text = []
    for rule in rules.text:
        if rule.rule_id in disabled:
            continue
        alive = [name not in disabled for name in alternative_ids(rule)]
        if all(alive):
            kept.text.append(rule)
            continue
        phrases = tuple(p for p, ok in zip(rule.phrases, alive, strict=False) if ok)
        concepts = tuple(
            c for c, ok in zip(rule.concepts, alive[len(rule.phrases) :], strict=True) if ok
        )
        if phrases or concepts:
            kept.text.append(replace(rule, phrases=phrases, concepts=concepts))
    for family, table in kept.codes.items():
        for code in [code for code in table if f"{family}.{code}" in disabled]:
            del table[code]
    return kept


def _parse(source: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from exc


def _table(data: Mapping[str, Any], key: str, where: object) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _merge_codes(rules: RuleSet, data: Mapping[str, Any], where: object) -> None:
    for name, family in _table(data, "carriers", where).items():
        if not isinstance(family, str):
            raise ConfigError(f"{where}: carriers.{name} must name a code family (a string)")
        rules.carriers[carrier_key(name)] = family
    for family, table in data.items():
        if family == "carriers":
            continue
        if not isinstance(table, dict):
            raise ConfigError(
                f"{where}: codes.{family} must be a table of code = {{status, detail}}"
            )
        target = rules.codes.setdefault(family, {})
        for code, spec in table.items():
            rule_id = f"{family}.{code}"
            target[code] = _classification(spec, rule_id, where)
            if isinstance(spec, dict) and spec.get("refine") is True:
                rules.refinable.add(rule_id)
            else:
                rules.refinable.discard(rule_id)


def _classification(spec: object, rule_id: str, where: object) -> Classification:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: rule {rule_id!r} must be a table with status and detail")
    status = _status(spec.get("status"), rule_id, where)
    detail = _detail(spec.get("detail"), status, rule_id, where)
    return Classification(status, detail, rule_id)


def _status(value: object, rule_id: str, where: object) -> Status:
    try:
        return Status(str(value))
    except ValueError:
        choices = ", ".join(s.value for s in Status)
        raise ConfigError(
            f"{where}: rule {rule_id!r} has status {value!r}; expected one of: {choices}"
        ) from None


def _detail(value: object, status: Status, rule_id: str, where: object) -> Detail | None:
    if value is None or value == "":
        return None
    try:
        detail = Detail(str(value))
    except ValueError:
        raise ConfigError(f"{where}: rule {rule_id!r} has unknown detail {value!r}") from None
    if status not in VALID_DETAILS[detail]:
        allowed = ", ".join(sorted(VALID_DETAILS[detail]))
        raise ConfigError(
            f"{where}: rule {rule_id!r}: detail {detail.value!r} goes with status {allowed}, "
            f"not {status.value!r}"
        )
    return detail


def _builtin_text_rules(data: Mapping[str, Any], where: str) -> Iterator[TextRule]:
    lang = data.get("lang")
    if not isinstance(lang, str):
        raise ConfigError(f'{where}: missing top-level lang = "xx"')
    for spec in _rule_list(data.get("rule", []), where):
        short = spec.get("id")
        yield _text_rule(spec, f"text.{lang}.{short}", lang, where, check_phrases=False)


def _ops_text_rules(specs: object, where: object) -> Iterator[TextRule]:
    for spec in _rule_list(specs, where):
        rule_id = spec.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise ConfigError(f"{where}: every [[text]] rule needs an id (a non-empty string)")
        yield _text_rule(spec, rule_id, str(spec.get("lang", "ops")), where)


def _rule_list(specs: object, where: object) -> list[dict[str, Any]]:
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ConfigError(f"{where}: text rules must be an array of tables ([[text]] / [[rule]])")
    return specs


def _text_rule(
    spec: Mapping[str, Any], rule_id: str, lang: str, where: object, *, check_phrases: bool = True
) -> TextRule:
    """One text rule; ``check_phrases`` compiles every phrase (built-in ones are checked by a
    test instead, since compiling them all is most of what loading would cost)."""
    status = _status(spec.get("status"), rule_id, where)
    detail = _detail(spec.get("detail"), status, rule_id, where)
    phrases = spec.get("phrases", [])
    concepts = _concepts(spec.get("concepts", []), rule_id, where)
    if (
        not isinstance(phrases, list)
        or not (phrases or concepts)
        or not all(isinstance(p, str) for p in phrases)
    ):
        raise ConfigError(
            f'{where}: rule {rule_id!r} needs phrases = ["..."] (non-empty strings) '
            'or concepts = [["...", "..."]]'
        )
    if check_phrases:
        for phrase in (*phrases, *(term for concept in concepts for term in concept)):
            _check_phrase(phrase, rule_id, where)
    fallback = spec.get("fallback", False)
    if not isinstance(fallback, bool):
        raise ConfigError(f"{where}: rule {rule_id!r}: fallback must be true or false")
    return TextRule(rule_id, lang, status, detail, tuple(phrases), fallback, concepts)


def _concepts(value: object, rule_id: str, where: object) -> tuple[tuple[str, ...], ...]:
    """``concepts = [["address", "incorrect|incomplete"], ...]``: lists of two or more terms."""
    if not isinstance(value, list) or not all(
        isinstance(c, list) and len(c) >= 2 and all(isinstance(t, str) for t in c) for c in value
    ):
        raise ConfigError(
            f"{where}: rule {rule_id!r}: concepts must be a list of lists of two or more "
            'regexes, e.g. concepts = [["address", "incorrect|incomplete"]]'
        )
    return tuple(tuple(concept) for concept in value)


def _check_phrase(phrase: str, rule_id: str, where: object) -> None:
    if not phrase.strip():
        raise ConfigError(f"{where}: rule {rule_id!r} has an empty phrase")
    if "(?P<" in phrase:
        raise ConfigError(f"{where}: rule {rule_id!r}: named groups are not allowed in phrases")
    try:
        re.compile(fold_pattern(phrase))
    except re.error as exc:
        raise ConfigError(f"{where}: rule {rule_id!r}: bad phrase {phrase!r}: {exc}") from exc
