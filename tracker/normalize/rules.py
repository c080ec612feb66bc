"""The rule vocabulary: text rules, code tables and which detail refines which status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tracker.model import Classification, Detail, Status

#: which statuses each detail may refine (DESIGN.md, "Canonical vocabulary")
VALID_DETAILS: Mapping[Detail, frozenset[Status]] = {
    Detail.ACCEPTED: frozenset({Status.IN_TRANSIT}),
    Detail.ARRIVED_DESTINATION_COUNTRY: frozenset({Status.IN_TRANSIT}),
    Detail.CUSTOMS_PROCESSING: frozenset({Status.IN_TRANSIT}),
    Detail.CUSTOMS_RELEASED: frozenset({Status.IN_TRANSIT}),
    Detail.ARRIVED_DELIVERY_OFFICE: frozenset({Status.IN_TRANSIT, Status.AVAILABLE_FOR_PICKUP}),
    Detail.CUSTOMS_HOLD: frozenset({Status.EXCEPTION}),
    Detail.CUSTOMS_DUTIES_DUE: frozenset({Status.EXCEPTION}),
    Detail.ADDRESS_ISSUE: frozenset({Status.EXCEPTION}),
    Detail.RECIPIENT_UNAVAILABLE: frozenset({Status.DELIVERY_FAILED}),
    Detail.REFUSED: frozenset({Status.EXCEPTION}),
    Detail.DAMAGED: frozenset({Status.EXCEPTION}),
    Detail.LOST: frozenset({Status.EXCEPTION}),
    Detail.RETURNING: frozenset({Status.EXCEPTION}),
    Detail.DELAYED_EXTERNAL: frozenset({Status.EXCEPTION, Status.IN_TRANSIT}),
}


@dataclass(frozen=True, slots=True)
class TextRule:
    """A phrase rule: any of ``phrases`` (regexes on folded text) means ``status``/``detail``.

    ``concepts`` say the same by meaning rather than by word order: each is a few regexes that
    must all be in the text, in any order ("address" with "incorrect|incomplete"). The phrase
    index looks for the term that words common in carrier text hold least (ties: the first).
    """

    rule_id: str
    lang: str
    status: Status
    detail: Detail | None
    phrases: tuple[str, ...]
    #: a catch-all ("in transit", "exception"), tried only after every language's specific rules
    fallback: bool = False
    concepts: tuple[tuple[str, ...], ...] = ()


@dataclass(slots=True)
class RuleSet:
    """Everything the classifier knows, merged from built-in and ops rule files."""

    carriers: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, Classification]] = field(default_factory=dict)
    text: list[TextRule] = field(default_factory=list)
    #: code rule ids whose meaning a more specific text rule may replace (e.g. "upu.EME")
    refinable: set[str] = field(default_factory=set)

    def copy(self) -> RuleSet:
        """A copy whose tables can be extended without touching this one."""
        return RuleSet(
            dict(self.carriers),
            {family: dict(table) for family, table in self.codes.items()},
            list(self.text),
            set(self.refinable),
        )
