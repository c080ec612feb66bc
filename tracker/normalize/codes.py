"""Carrier code maps: a carrier's own event codes first, then the shared UPU EMSEVT codes."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from tracker.model import Classification

#: the code family every postal carrier and every unknown carrier shares
UPU = "upu"


class CodeMaps:
    """Event code -> classification, per code family; a carrier name picks its family."""

    def __init__(
        self,
        carriers: Mapping[str, str],
        codes: Mapping[str, Mapping[str, Classification]],
    ) -> None:
        self._carriers = dict(carriers)
        self._codes = {family: dict(table) for family, table in codes.items()}
        self._upu = self._codes.get(UPU, {})

    def lookup(self, carrier: str | None, code: str) -> Classification | None:
        """The carrier's own entry for ``code`` (or its family: "8" of "8.99"), else UPU's."""
        code = code.strip()
        family = self._carriers.get(carrier_key(carrier)) if carrier else None
        if family is not None:
            table = self._codes.get(family, {})
            found = table.get(code) or table.get(code.upper())
            if found is None and "." in code:  # "8.99": an operation's attribute
                found = table.get(code.split(".", 1)[0])
            if found is None and "_" in code:  # "InTransit_007": an aggregator's sub-status
                found = table.get(code.split("_", 1)[0])
            if found is not None:
                return found
        return self._upu.get(code.upper())


@lru_cache(maxsize=1024)
def carrier_key(carrier: str) -> str:
    """A carrier name as code families are keyed: "Russian Post" and "russian-post" alike."""
    return carrier.strip().casefold().replace("-", "_").replace(" ", "_")
