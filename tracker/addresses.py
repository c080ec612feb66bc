"""The one email-address rule: what ``tracker add``, ``import`` and ``edit`` accept for a buyer,
what the config accepts for ``sender`` / ``reply_to`` / ``message_id_domain``, and what the
message builder and the SMTP transport let out. One rule, so no address is stored that the
sender later refuses (a notice to it would fail forever).

The rule is RFC 5321's size limits over RFC 5322's dot-atom, in plain ASCII: a local part of
1-64 octets of letters, digits and ``!#$%&'*+/=?^_`{|}~.-`` without a leading, trailing or
doubled dot; a domain of dot-separated labels (letters, digits, inner hyphens, at most 63 octets
each, at least two labels, the last not all digits), at most 253 octets; the whole address at
most 254 octets. Quoted local parts, address literals and internationalized addresses are refused.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

MAX_LOCAL = 64
MAX_DOMAIN = 253
MAX_ADDRESS = 254

_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

__all__ = [
    "MAX_ADDRESS",
    "MAX_DOMAIN",
    "MAX_LOCAL",
    "address_problem",
    "domain_problem",
    "split_mailbox",
]


def domain_problem(domain: str) -> str | None:
    """Why ``domain`` cannot be the part after ``@`` (or a Message-ID's), or None if it can."""
    if not domain:
        return "the domain is missing"
    if len(domain) > MAX_DOMAIN:
        return f"the domain is longer than {MAX_DOMAIN} characters"
    labels = domain.split(".")
    if len(labels) < 2:
        return f"the domain {domain!r} has no dot (write the full name, e.g. example.com)"
    for label in labels:
        if not _LABEL.fullmatch(label):
            return (
                f"the domain {domain!r} has a bad part {label!r} (letters, digits and inner "
                "hyphens only, at most 63 characters each)"
            )
    if labels[-1].isdigit():
        return f"the domain {domain!r} ends in a number"
    return None


def address_problem(address: str) -> str | None:
    """Why ``address`` (a bare ``local@domain``) cannot be mailed, or None if it can."""
    if not address.isascii():
        return "only plain ASCII addresses are supported"
    if len(address) > MAX_ADDRESS:
        return f"longer than {MAX_ADDRESS} characters"
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "write it like name@example.com"
    if len(local) > MAX_LOCAL:
        return f"the part before @ is longer than {MAX_LOCAL} characters"
    if not _ATEXT.fullmatch(local):
        return f"the part before @ ({local!r}) has characters or dots an address cannot have there"
    return domain_problem(domain)


def split_mailbox(value: str) -> tuple[str, str]:
    """(display name, address) of exactly one ``Name <addr>`` or bare address; ValueError naming
    the problem otherwise (line breaks, several addresses, an address the rule refuses)."""
    if any(c in value for c in "\r\n\x00"):
        raise ValueError("line breaks are not allowed in an address")
    pairs = getaddresses([value])
    if len(pairs) != 1 or not pairs[0][1]:
        raise ValueError(f"{value!r} is not one email address")
    name, address = pairs[0]
    problem = address_problem(address)
    if problem is not None:
        raise ValueError(f"{value!r} is not a valid email address ({problem})")
    return name, address
