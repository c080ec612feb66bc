"""What a phrase pattern requires of a text: its literal anchors and word-start beginnings.

Phrases are Python regular expressions, but rule authors use a small part of the syntax. This
module reads that part itself (no private ``re`` internals): literals, groups and alternation,
``? * + {m,n}`` repeats, character classes, ``.``, escapes such as ``\\b \\w \\d``, ``^ $`` and
lookaround. Whatever it does not follow becomes an opaque item that promises nothing, so the
analysis stays conservative: a phrase it cannot read is simply tried on every text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

#: the most strings an exact set may hold before it stops being worth enumerating
MAX_EXACT = 48
#: a repeat's upper bound that still counts as "a few" (larger ones are unbounded here)
_MAX_SMALL_REPEAT = 4
_UNBOUNDED = 1 << 30


class _Opaque:
    """A piece the analysis does not follow: it may match anything, including nothing."""


@dataclass(frozen=True, slots=True)
class _Chars:
    """One character out of ``chars`` (None: a set too wide to list, such as ``\\w`` or ``.``)."""

    chars: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class _ZeroWidth:
    """``\\b``, ``^``, ``$``, lookaround: adds no characters, but is a condition."""


@dataclass(frozen=True, slots=True)
class _Group:
    """Alternatives, each a sequence of items."""

    alternatives: tuple[tuple[_Item, ...], ...]


@dataclass(frozen=True, slots=True)
class _Repeat:
    item: _Item
    low: int
    high: int


_Item = _Opaque | _Chars | _ZeroWidth | _Group | _Repeat
_OPAQUE = _Opaque()
_ANY = _Chars(None)
_ZERO = _ZeroWidth()
_CLASS_ESCAPES = frozenset("wWdDsS")
_ZERO_ESCAPES = frozenset("bBAZ")


class _Unreadable(Exception):
    """The pattern uses syntax this reader does not follow as a whole (e.g. inline flags)."""


class _Reader:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def alternatives(self) -> tuple[tuple[_Item, ...], ...]:
        options = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.sequence())
        return tuple(options)

    def sequence(self) -> tuple[_Item, ...]:
        items: list[_Item] = []
        while self.peek() not in ("", "|", ")"):
            item = self.atom()
            items.append(self.repeat(item))
        return tuple(items)

    def atom(self) -> _Item:
        ch = self.text[self.pos]
        self.pos += 1
        if ch == "(":
            return self.group()
        if ch == "[":
            return self.char_class()
        if ch == "\\":
            return self.escape()
        if ch in "^$":
            return _ZERO
        if ch == ".":
            return _ANY
        if ch in "*+?{":
            if ch == "{" and not self._at_repeat_bounds(self.pos - 1):
                return _Chars(frozenset(ch))
            raise _Unreadable  # a repeat with nothing to repeat: leave it to ``re``
        return _Chars(frozenset(ch))

    def group(self) -> _Item:
        kind = "capture"
        if self.peek() == "?":
            head = self.text[self.pos : self.pos + 3]
            if head.startswith("?:"):
                self.pos += 2
                kind = "plain"
            elif head.startswith(("?=", "?!")):
                self.pos += 2
                kind = "look"
            elif head in ("?<=", "?<!"):
                self.pos += 3
                kind = "look"
            else:
                raise _Unreadable  # inline flags, named groups, conditionals
        inner = self.alternatives()
        if self.peek() != ")":
            raise _Unreadable
        self.pos += 1
        return _ZERO if kind == "look" else _Group(inner)

    def char_class(self) -> _Item:
        chars: set[str] = set()
        wide = False
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        first = True
        while True:
            if self.pos >= len(self.text):
                raise _Unreadable
            ch = self.text[self.pos]
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            self.pos += 1
            if ch == "\\":
                esc = self.text[self.pos : self.pos + 1]
                self.pos += 1
                if esc in _CLASS_ESCAPES or not esc or esc.isalnum():
                    wide = True  # \w, \d, \n and other named escapes: not listed here
                    continue
                ch = esc
            if self.peek() == "-" and self.text[self.pos + 1 : self.pos + 2] not in ("]", ""):
                end = self.text[self.pos + 1]
                self.pos += 2
                if end == "\\":
                    wide = True
                    self.pos += 1
                    continue
                if ord(end) - ord(ch) >= 16:
                    wide = True
                    continue
                chars.update(chr(c) for c in range(ord(ch), ord(end) + 1))
                continue
            chars.add(ch)
        if negated or wide or len(chars) > MAX_EXACT:
            return _ANY
        return _Chars(frozenset(chars))

    def escape(self) -> _Item:
        ch = self.text[self.pos : self.pos + 1]
        self.pos += 1
        if not ch:
            raise _Unreadable
        if ch in _ZERO_ESCAPES:
            return _ZERO
        if ch in _CLASS_ESCAPES:
            return _ANY
        if ch.isalnum():
            return _OPAQUE  # \n, \t, \x41, \u00e9, backreferences: not followed
        return _Chars(frozenset(ch))

    def _at_repeat_bounds(self, brace: int) -> bool:
        """Whether the ``{`` at ``brace`` opens repeat bounds (else it is a literal brace)."""
        end = self.text.find("}", brace)
        if end < 0:
            return False
        low, comma, high = self.text[brace + 1 : end].partition(",")
        if not comma:
            return low.isdigit()
        return (low == "" or low.isdigit()) and (high == "" or high.isdigit())

    def repeat(self, item: _Item) -> _Item:
        ch = self.peek()
        if ch == "?":
            low, high = 0, 1
        elif ch == "*":
            low, high = 0, _UNBOUNDED
        elif ch == "+":
            low, high = 1, _UNBOUNDED
        elif ch == "{" and self._at_repeat_bounds(self.pos):
            end = self.text.index("}", self.pos)
            body = self.text[self.pos + 1 : end]
            self.pos = end
            low_text, comma, high_text = body.partition(",")
            low = int(low_text or 0)
            high = int(high_text) if high_text else (_UNBOUNDED if comma else low)
        else:
            return item
        self.pos += 1
        if self.peek() in ("?", "+"):  # lazy or possessive: the same strings
            self.pos += 1
        if isinstance(item, _ZeroWidth):
            return item
        return self.repeat(_Repeat(item, low, high))


def _parse(pattern: str) -> tuple[tuple[_Item, ...], ...] | None:
    reader = _Reader(pattern)
    try:
        parsed = reader.alternatives()
    except _Unreadable:
        return None
    if reader.pos != len(pattern):
        return None  # an unbalanced ")"
    return parsed


@lru_cache(maxsize=8192)
def anchors(pattern: str) -> frozenset[str] | None:
    """Strings one of which every match of ``pattern`` contains; None if none are known."""
    parsed = _parse(pattern)
    if parsed is None:
        return None
    return _requirement((_Group(parsed),) if len(parsed) > 1 else parsed[0])


@lru_cache(maxsize=8192)
def beginnings(pattern: str) -> tuple[frozenset[str], bool] | None:
    """The literal beginnings of ``pattern`` and whether they are all it matches.

    None unless every match begins with one of a few known strings, each starting with a word
    character (what a word-start scan can find).
    """
    parsed = _parse(pattern)
    if parsed is None:
        return None
    items: tuple[_Item, ...] = (_Group(parsed),) if len(parsed) > 1 else parsed[0]
    result, exact = _beginnings(items)
    if not all(text and is_word(text[0]) for text in result):
        return None
    return result, exact and not _has_condition(items)


def _beginnings(items: Sequence[_Item]) -> tuple[frozenset[str], bool]:
    """Strings every match of ``items`` begins with (``{""}`` if nothing is known): the exact
    items' strings, then what the first other item's matches begin with; and whether they are
    all ``items`` can match."""
    result: frozenset[str] = frozenset({""})
    for item in items:
        exact = _exact_item(item)
        if exact is not None and len(result) * len(exact) <= MAX_EXACT:
            result = frozenset(a + b for a in result for b in exact)
            continue
        if exact is None:  # "(didn.t|did not) ...": every match still begins "didn" or "did not"
            begun = _item_beginnings(item)
            if len(result) * len(begun) <= MAX_EXACT:
                result = frozenset(a + b for a in result for b in begun)
        return result, False
    return result, True


def _item_beginnings(item: _Item) -> frozenset[str]:
    if isinstance(item, _Group):
        union: set[str] = set()
        for alternative in item.alternatives:
            union |= _beginnings(alternative)[0]
        return frozenset(union)
    if isinstance(item, _Repeat) and item.low >= 1:
        return _beginnings((item.item,))[0]
    return frozenset({""})


def is_word(ch: str) -> bool:
    """Whether ``\\w`` (Unicode) matches ``ch``."""
    return ch.isalnum() or ch == "_"


def _requirement(items: Sequence[_Item]) -> frozenset[str] | None:
    options: list[frozenset[str]] = []
    run: frozenset[str] = frozenset({""})
    literal = ""  # the current stretch of single characters (one string: cheap to look for)
    for item in items:
        exact = _exact_item(item)
        if exact is not None and len(exact) == 1:
            literal += next(iter(exact))
        else:
            options.append(frozenset({literal}))
            literal = ""
        if exact is not None:
            if len(run) * len(exact) <= MAX_EXACT:
                run = frozenset(a + b for a in run for b in exact)
            else:
                options.append(run)
                run = exact
            continue
        options.append(run)
        run = frozenset({""})
        inner = _inner_requirement(item)
        if inner is not None:
            options.append(inner)
    options += (run, frozenset({literal}))
    valid = [o for o in options if "" not in o]
    return max(valid, key=_anchor_score, default=None)


def _anchor_score(found: frozenset[str]) -> tuple[int, int, int]:
    shortest = min(len(a) for a in found)
    # four characters or more go into the sparse index; past six, fewer strings beat longer ones
    return (shortest >= 4, min(shortest, 6), -len(found))


def _inner_requirement(item: _Item) -> frozenset[str] | None:
    if isinstance(item, _Group):
        union: set[str] = set()
        for alternative in item.alternatives:
            found = _requirement(alternative)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if isinstance(item, _Repeat) and item.low >= 1:
        return _requirement((item.item,))
    return None


def _exact(items: Iterable[_Item]) -> frozenset[str] | None:
    """Every string ``items`` can match, if they are few; else None."""
    result: frozenset[str] = frozenset({""})
    for item in items:
        exact = _exact_item(item)
        if exact is None or len(result) * len(exact) > MAX_EXACT:
            return None
        result = frozenset(a + b for a in result for b in exact)
    return result


def _exact_item(item: _Item) -> frozenset[str] | None:
    if isinstance(item, _Chars):
        return item.chars
    if isinstance(item, _ZeroWidth):
        return frozenset({""})
    if isinstance(item, _Group):
        union: set[str] = set()
        for alternative in item.alternatives:
            found = _exact(alternative)
            if found is None:
                return None
            union |= found
        return frozenset(union) if len(union) <= MAX_EXACT else None
    if isinstance(item, _Repeat) and item.high <= _MAX_SMALL_REPEAT:
        once = _exact((item.item,))
        if once is None:
            return None
        total: set[str] = set()
        power: frozenset[str] = frozenset({""})
        for count in range(item.high + 1):
            if count >= item.low:
                total |= power
            if count < item.high:
                if len(power) * len(once) > MAX_EXACT:
                    return None
                power = frozenset(a + b for a in power for b in once)
        return frozenset(total) if len(total) <= MAX_EXACT else None
    return None


def _has_condition(items: Iterable[_Item]) -> bool:
    """Whether ``items`` hold a zero-width condition (``\\b``, ``^``, lookaround) anywhere."""
    for item in items:
        if isinstance(item, _ZeroWidth | _Opaque):
            return True
        if isinstance(item, _Group) and any(_has_condition(a) for a in item.alternatives):
            return True
        if isinstance(item, _Repeat) and _has_condition((item.item,)):
            return True
    return False
